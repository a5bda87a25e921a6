//! The test harness: the real engine on a per-test Postgres database, a clock the test moves,
//! and the console adapter to talk to it the way a person would.

use chrono::{TimeZone, Utc};
use countersign::audit;
use countersign::chat::console;
use countersign::clock::{Clock, ManualClock};
use countersign::engine::{Context, Engine};
use countersign::identity::Actor;
use countersign::policy::PolicySet;
use sqlx::{PgPool, Row};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The example commands/ directory shipped with the project.
pub fn example_commands() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("commands")
}

/// A bot over one test database.
pub struct Bot {
    pub engine: Engine,
    pub clock: ManualClock,
    /// The console the bot is talked to through: one session for the whole test, so a card
    /// shown earlier is the one a later update changes.
    console: console::Console,
}

impl Bot {
    /// The bot with the example commands/, its clock at 2026-01-05 09:00 UTC.
    pub async fn new(pool: PgPool) -> Bot {
        Bot::with_commands(pool, &example_commands()).await
    }

    /// The bot with a given commands/ directory.
    pub async fn with_commands(pool: PgPool, dir: &Path) -> Bot {
        Bot::with_targets(pool, dir, Arc::default()).await
    }

    /// The bot with a given commands/ directory and effect targets.
    pub async fn with_targets(pool: PgPool, dir: &Path, targets: Arc<countersign::store::targets::Targets>) -> Bot {
        let policy = PolicySet::load(dir).unwrap_or_else(|e| panic!("{} does not load: {e:?}", dir.display()));
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap());
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let engine = Engine::new(pool, Arc::new(policy), shared).with_targets(targets);
        engine.record_policy_load().await.unwrap();
        let console = console::Console::new(&engine);
        Bot { engine, clock, console }
    }

    /// The actor for a person of the directory, acting through the console.
    pub async fn actor(&self, person: &str) -> Actor {
        console::actor(&self.engine, person).await.unwrap()
    }

    /// A context for `person` with no idempotency key.
    pub async fn ctx(&self, person: &str) -> Context {
        Context::new(self.actor(person).await)
    }

    /// What the console prints when `person` types `line`.
    pub async fn say(&self, person: &str, line: &str) -> String {
        let actor = self.actor(person).await;
        let mut out = Vec::new();
        self.console.run_line(&actor, line, &mut out).await.unwrap();
        self.settle().await;
        String::from_utf8(out).unwrap()
    }

    /// A whole conversation, as a transcript: `person> line` then the replies.
    pub async fn transcript(&self, script: &[(&str, &str)]) -> String {
        let mut s = String::new();
        for (person, line) in script {
            s.push_str(&format!("{person}> {line}\n"));
            s.push_str(&self.say(person, line).await);
        }
        s
    }

    /// Every audit entry as `action outcome[:reason] ref`, in insertion order.
    pub async fn audit_lines(&self) -> Vec<String> {
        sqlx::query("SELECT action, outcome, reason, ref FROM audit_log ORDER BY id")
            .fetch_all(self.engine.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| {
                let reason: Option<String> = r.get("reason");
                let r#ref: Option<String> = r.get("ref");
                format!(
                    "{} {}{} {}",
                    r.get::<String, _>("action"),
                    r.get::<String, _>("outcome"),
                    reason.map(|x| format!(":{x}")).unwrap_or_default(),
                    r#ref.unwrap_or_default()
                )
                .trim_end()
                .to_string()
            })
            .collect()
    }

    /// How many rows a table has (for "nothing changed" checks).
    pub async fn count(&self, table: &str) -> i64 {
        let sql = match table {
            "requests" => "SELECT count(*) FROM requests",
            "request_versions" => "SELECT count(*) FROM request_versions",
            "votes" => "SELECT count(*) FROM votes",
            "decisions" => "SELECT count(*) FROM decisions",
            "audit_log" => "SELECT count(*) FROM audit_log",
            other => panic!("no count for {other}"),
        };
        sqlx::query_scalar(sql).fetch_one(self.engine.pool()).await.unwrap()
    }

    /// The status of a request.
    pub async fn status(&self, r#ref: &str) -> String {
        sqlx::query_scalar("SELECT status FROM requests WHERE ref = $1")
            .bind(r#ref)
            .fetch_one(self.engine.pool())
            .await
            .unwrap()
    }

    /// Seals until every entry is chained. Other tests' transactions on the same server can
    /// hold the sealing horizon back for a moment, so this waits (briefly) for them.
    pub async fn settle(&self) {
        for _ in 0..500 {
            audit::seal(self.engine.pool()).await.unwrap();
            if audit::unsealed(self.engine.pool()).await.unwrap() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("audit entries stayed unsealed for 5 seconds");
    }

    /// Waits until the outbox is empty (every message delivered or dead-lettered).
    pub async fn drained(&self) {
        for _ in 0..400 {
            let pending: i64 =
                sqlx::query_scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL")
                    .fetch_one(self.engine.pool())
                    .await
                    .unwrap();
            if pending == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the outbox did not drain in 10 seconds");
    }

    /// Seals and verifies the chain, panicking if it is broken.
    pub async fn assert_chain_holds(&self) {
        self.settle().await;
        let report = audit::verify(self.engine.pool(), |_, _| {}).await.unwrap();
        assert!(report.is_ok(), "chain broken: {report:?}");
        assert_eq!(report.unsealed, 0);
    }
}

/// Writes a commands/ directory with the given files into a fresh temporary folder.
pub fn commands_dir(files: &[(&str, &str)]) -> tempdir::TempDir {
    let dir = tempdir::TempDir::new();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// A minimal temporary directory that removes itself (no extra crate needed).
pub mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT: AtomicU64 = AtomicU64::new(0);

    pub struct TempDir(PathBuf);

    impl TempDir {
        pub fn new() -> TempDir {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("countersign-test-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// The database URL of a test's database, for running the binary against it.
pub fn url_of(pool: &PgPool) -> String {
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let db = pool.connect_options().get_database().unwrap().to_string();
    let (head, tail) = base.split_once("://").unwrap();
    let (authority, rest) = tail.split_once('/').unwrap_or((tail, ""));
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{head}://{authority}/{db}{query}")
}

pub mod api_harness;
pub mod db_proxy;
pub mod discord_harness;
pub mod discord_sign;
pub mod erp;
pub mod exposition;
pub mod fake_discord;
pub mod fake_slack;
pub mod slack_harness;
pub mod slack_sign;
pub mod tamper;

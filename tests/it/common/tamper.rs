//! What an attacker with the database's owner rights can do to the record, and the auditor's
//! tools to catch it: the `countersign` binary on a test's database, receipt keys in files.

use super::api_harness::{ed25519_pkcs8, pem};
use super::{example_commands, url_of};
use countersign::audit::signer::ReceiptSigner;
use countersign::audit::{link_hash, GENESIS};
use futures_util::TryStreamExt;
use sqlx::PgPool;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A receipt key in a PEM file, and its signer.
pub struct Key {
    pub path: PathBuf,
    pub signer: ReceiptSigner,
}

impl Key {
    /// A fresh Ed25519 key written to `dir/name`.
    pub fn new(dir: &Path, name: &str) -> Key {
        let text = pem("PRIVATE KEY", &ed25519_pkcs8());
        let path = dir.join(name);
        std::fs::write(&path, &text).unwrap();
        Key {
            path,
            signer: ReceiptSigner::from_pem(text.as_bytes()).unwrap(),
        }
    }
}

/// What a run of the binary did.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// `countersign ARGS` on the test's database and the example commands/, with only the receipt
/// settings in `env` (none inherited).
pub fn countersign(pool: &PgPool, env: &[(&str, &Path)], args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
        .arg("--database-url")
        .arg(url_of(pool))
        .arg("--commands")
        .arg(example_commands())
        .args(args)
        .env_remove("COUNTERSIGN_RECEIPT_KEY")
        .env_remove("COUNTERSIGN_RECEIPT_PREVIOUS_JWKS")
        .envs(env.iter().map(|(k, v)| (*k, v.as_os_str())))
        .output()
        .expect("the countersign binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs statements as a superuser with every trigger off, as an attacker with the database's
/// owner rights would; `$1` is bound to `arg` in each.
pub async fn behind_the_triggers(pool: &PgPool, statements: &[&str], arg: i64) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    for sql in statements {
        let q = sqlx::query(sql);
        let q = if sql.contains("$1") { q.bind(arg) } else { q };
        q.execute(&mut *tx).await.unwrap();
    }
    tx.commit().await.unwrap();
}

/// Recomputes every seal from position `from` on, with the algorithm docs/audit.md publishes,
/// behind the triggers: the chain walk then finds nothing wrong.
pub async fn reseal_from(pool: &PgPool, from: i64) {
    let entries: Vec<_> = countersign::store::audit::sealed_in_period(pool, None, None)
        .try_collect()
        .await
        .unwrap();
    let mut prev: String = if from == 1 {
        GENESIS.to_string()
    } else {
        sqlx::query_scalar("SELECT hash FROM audit_seal WHERE seq = $1")
            .bind(from - 1)
            .fetch_one(pool)
            .await
            .unwrap()
    };
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .unwrap();
    for e in entries.iter().filter(|e| e.seq.unwrap() >= from) {
        let seq = e.seq.unwrap();
        let hash = link_hash(&prev, e, seq);
        sqlx::query("UPDATE audit_seal SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .unwrap();
        prev = hash;
    }
    tx.commit().await.unwrap();
}

/// The chain position of the first entry of `action` with `outcome`.
pub async fn seq_of(pool: &PgPool, action: &str, outcome: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT s.seq FROM audit_seal s JOIN audit_log a ON a.id = s.entry_id \
         WHERE a.action = $1 AND a.outcome = $2 ORDER BY s.seq LIMIT 1",
    )
    .bind(action)
    .bind(outcome)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Makes the first transaction that inserts into `table` fail when it commits ("the process
/// died"), as a crash between its last statement and its commit would: a sequence is not rolled
/// back, so only the first one fails.
pub async fn crash_once_at_commit(pool: &PgPool, table: &str) {
    use sqlx::Executor;
    let trigger = match table {
        "audit_checkpoints" => {
            "CREATE CONSTRAINT TRIGGER crash_once AFTER INSERT ON audit_checkpoints \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crash_once()"
        }
        "decisions" => {
            "CREATE CONSTRAINT TRIGGER crash_once AFTER INSERT ON decisions \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION crash_once()"
        }
        other => panic!("no crash trigger for {other}"),
    };
    for sql in [
        "CREATE SEQUENCE crash_once",
        "CREATE FUNCTION crash_once() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
         IF nextval('crash_once') = 1 THEN RAISE EXCEPTION 'the process died'; END IF; RETURN NULL; END $$",
        trigger,
    ] {
        pool.execute(sql).await.unwrap();
    }
}

//! `cargo bench --bench decisions`: the real server, in this process, against the Postgres of
//! `DATABASE_URL` (a fresh `countersign_bench` database), driven through `POST /slack/interactions`
//! by BENCH_CLIENTS simulated approvers (default 40) pressing Approve for BENCH_SECONDS (default 20)
//! on invoices that each need a finance approver and the finance director. Then `pgbench`
//! (tpcb-like, same clients and duration) on a scratch database of the same server, for scale.
//! Prints a table and, as its last line, one JSON object. See docs/performance.md.

#[path = "common/checks.rs"]
mod checks;
mod common;
#[path = "../tests/it/common/slack_sign.rs"]
mod slack_sign;
#[path = "common/timed_slack.rs"]
mod timed_slack;
#[path = "common/voters.rs"]
mod voters;

use checks::{check, delivery};
use common::{env_u64, ms, percentile, proc_status_mb, rate, round, table};
use countersign::audit;
use countersign::chat::address::{ChatPlace, ChatUser, Platform};
use countersign::clock::{Clock, SystemClock};
use countersign::engine::{Context, Engine, Outcome};
use countersign::identity::{self, Identity};
use countersign::outbox::OutboxConfig;
use countersign::policy::PolicySet;
use countersign::server::{self, ServeSettings, SlackSettings};
use serde_json::json;
use sqlx::PgPool;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use timed_slack::TimedSlack;
use voters::{BenchCommands, Load, Vote, CHANNEL, REQUESTER, SECRET};

const BOT_TOKEN: &str = "xoxb-bench-token";

struct Settings {
    clients: u64,
    seconds: u64,
    requests: u64,
    warmup: u64,
    pool: u64,
    pgbench_scale: u64,
}

/// Settings from the environment, overridden by `--clients N`, `--seconds N`, `--requests N`
/// (cargo passes `--bench` too, which is ignored).
fn settings() -> Settings {
    let mut s = Settings {
        clients: env_u64("BENCH_CLIENTS", 40).max(2),
        seconds: env_u64("BENCH_SECONDS", 20).max(1),
        requests: 0,
        warmup: env_u64("BENCH_WARMUP", 3),
        pool: env_u64("BENCH_POOL", 8).max(1),
        pgbench_scale: 0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.windows(2) {
        let value = || pair[1].parse::<u64>().ok();
        match pair[0].as_str() {
            "--clients" => s.clients = value().unwrap_or(s.clients).max(2),
            "--seconds" => s.seconds = value().unwrap_or(s.seconds).max(1),
            "--requests" => s.requests = value().unwrap_or(0),
            _ => {}
        }
    }
    if s.requests == 0 {
        s.requests = env_u64("BENCH_REQUESTS", 1000 * (s.seconds + s.warmup));
    }
    s.pgbench_scale = env_u64("BENCH_PGBENCH_SCALE", s.clients).max(1);
    s
}

/// Opens `n` large invoices (two approvals each) as the requester, from the finance channel,
/// through the engine, eight at a time.
async fn open_requests(engine: &Engine, n: u64) -> anyhow::Result<()> {
    let identity = Identity::Chat(ChatUser {
        platform: Platform::Slack,
        workspace: Some("T0001".into()),
        user: voters::slack_user(REQUESTER),
    });
    let actor = identity::resolve(&engine.policy().directory, &identity).expect("the requester is in people.toml");
    let next = Arc::new(AtomicU32::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (engine, actor, next) = (engine.clone(), actor.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as u64;
                if i >= n {
                    return anyhow::Ok(());
                }
                let ctx = Context {
                    correlation_id: Some(format!("bench-open-{i}")),
                    origin: Some(ChatPlace {
                        platform: Platform::Slack,
                        workspace: Some("T0001".into()),
                        channel: CHANNEL.into(),
                    }),
                    ..Context::new(actor.clone())
                };
                let fields = [
                    (
                        "amount".to_string(),
                        format!("{}.{:02}", 10_000 + (i * 7919) % 90_000, i % 100),
                    ),
                    ("vendor".to_string(), format!("Vendor {} GmbH", i % 97)),
                    (
                        "cost_center".to_string(),
                        ["ops", "sales", "research"][i as usize % 3].to_string(),
                    ),
                ];
                let outcome = engine.open(&ctx, "invoice", &fields).await?;
                anyhow::ensure!(matches!(outcome, Outcome::Opened { .. }), "not opened: {outcome:?}");
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Waits until the outbox holds nothing undelivered (or `limit` passes); returns whether it did.
async fn drained(pool: &PgPool, limit: Duration) -> anyhow::Result<bool> {
    let until = Instant::now() + limit;
    loop {
        let left: i64 =
            sqlx::query_scalar("SELECT count(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL")
                .fetch_one(pool)
                .await?;
        if left == 0 {
            return Ok(true);
        }
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// pgbench tpcb-like on a scratch database of the same server; `None` without pgbench.
fn pgbench(base: &str, s: &Settings, rt: &tokio::runtime::Handle) -> anyhow::Result<Option<f64>> {
    use std::process::Command;
    if Command::new("pgbench").arg("--version").output().is_err() {
        return Ok(None);
    }
    let db = "countersign_bench_pgbench";
    rt.block_on(common::recreate(base, db))?;
    let url = common::url_of(base, db);
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", &s.pgbench_scale.to_string(), &url])
        .output()?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i failed: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let jobs = s.clients.min(2).to_string();
    let run = Command::new("pgbench")
        .args([
            "-c",
            &s.clients.to_string(),
            "-j",
            &jobs,
            "-T",
            &s.seconds.to_string(),
            &url,
        ])
        .output()?;
    anyhow::ensure!(
        run.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = String::from_utf8_lossy(&run.stdout);
    let tps = out
        .lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|t| t.parse().ok());
    let _ = rt.block_on(async {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(base).await?;
        sqlx::raw_sql("DROP DATABASE IF EXISTS countersign_bench_pgbench WITH (FORCE)")
            .execute(&mut admin)
            .await
    });
    Ok(tps)
}

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let s = settings();
    let report = rt.block_on(run(&s))?;
    let base = common::database_url();
    println!(
        "\nrunning pgbench (tpcb-like, scale {}) for {} s ...",
        s.pgbench_scale, s.seconds
    );
    let tps = pgbench(&base, &s, rt.handle()).unwrap_or_else(|e| {
        eprintln!("pgbench: {e:#}");
        None
    });
    report.print(&s, tps);
    Ok(())
}

struct Report {
    rows: Vec<(&'static str, String)>,
    json: serde_json::Value,
    votes_per_s: f64,
}

impl Report {
    fn print(mut self, s: &Settings, tps: Option<f64>) {
        let ratio = tps.map(|t| round(self.votes_per_s / t, 3));
        self.rows.push((
            "pgbench tps",
            tps.map_or("(pgbench not found)".into(), |t| {
                format!("{t:.0} (scale {})", s.pgbench_scale)
            }),
        ));
        self.rows.push((
            "ratio to pgbench",
            ratio.map_or("-".into(), |r| format!("{r:.3} (votes/s / tps)")),
        ));
        table("decisions bench", &self.rows);
        self.json["pgbench_tps"] = json!(tps.map(|t| round(t, 1)));
        self.json["ratio_to_pgbench"] = json!(ratio);
        println!("{}", self.json);
    }
}

async fn run(s: &Settings) -> anyhow::Result<Report> {
    let base = common::database_url();
    let (approvers, directors) = (s.clients.div_ceil(2) as usize, (s.clients / 2) as usize);
    let commands = BenchCommands::write(approvers, directors)?;
    let (_, pool) = common::fresh_database(&base, "countersign_bench", s.pool as u32).await?;
    let policy = PolicySet::load(commands.path()).map_err(|e| anyhow::anyhow!("bench commands/: {e:?}"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let engine = Engine::new(pool.clone(), Arc::new(policy), clock.clone());
    engine.record_policy_load().await?;

    println!("opening {} invoices (two approvals each) ...", s.requests);
    let t = Instant::now();
    // The sealer runs meanwhile, as it does beside a serving process.
    let sealing = tokio_util::sync::CancellationToken::new();
    let sealer = audit::spawn_sealer(
        &tokio_util::task::TaskTracker::new(),
        pool.clone(),
        Duration::from_millis(250),
        sealing.clone(),
    );
    open_requests(&engine, s.requests).await?;
    let open_time = t.elapsed();
    sealing.cancel();
    sealer.await?;
    // Every approver is sent the card privately when a request opens: with this many approvers
    // that is one copy per client and request, which no real team has. Only the channel copy is
    // kept (see docs/performance.md).
    let retired = sqlx::query(
        "UPDATE outbox SET delivered_at = now(), last_error = 'bench: private copy not sent' \
         WHERE delivered_at IS NULL AND intent->>'kind' = 'dm_card'",
    )
    .execute(&pool)
    .await?
    .rows_affected();
    sqlx::raw_sql("VACUUM ANALYZE").execute(&pool).await?;

    let fake = TimedSlack::start("INV-").await;
    let settings = ServeSettings {
        listen: "127.0.0.1:0".parse()?,
        slack: Some(SlackSettings {
            signing_secrets: vec![SECRET.into()],
            bot_token: BOT_TOKEN.into(),
            app_token: None,
            api_url: fake.api_url(),
        }),
        discord: None,
        outbox: OutboxConfig::default(),
        seal_every: Duration::from_millis(250),
        tick_every: Duration::from_secs(30),
        ack_budget: Duration::from_millis(2500),
        api: Default::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = server::start(engine.clone(), clock, settings, listener).await?;
    let t = Instant::now();
    anyhow::ensure!(
        drained(&pool, Duration::from_secs(600)).await?,
        "the channel cards were not posted"
    );
    let post_time = t.elapsed();
    let cards_posted = fake.posts();
    let rss_ready = proc_status_mb("VmRSS:").unwrap_or(0.0);

    println!(
        "{} clients voting for {} s after {} s of warm-up ...",
        s.clients, s.seconds, s.warmup
    );
    let url = format!("http://{}/slack/interactions", running.addr);
    let deadline = Instant::now() + Duration::from_secs(s.warmup + s.seconds);
    let load = Load::new(url, s.requests as u32, deadline);
    let mut clients = Vec::new();
    for i in 1..=approvers {
        clients.push(tokio::spawn(load.clone().client(format!("fa{i:02}"), false)));
    }
    for i in 1..=directors {
        clients.push(tokio::spawn(load.clone().client(format!("fd{i:02}"), true)));
    }
    // The warm-up fills the tables the votes read; ANALYZE then replaces the plans prepared on
    // empty tables, as autovacuum does on a running system (within a minute).
    tokio::time::sleep(Duration::from_secs(s.warmup)).await;
    sqlx::raw_sql("ANALYZE").execute(&pool).await?;
    let start = Instant::now();
    let mut votes = Vec::new();
    for c in clients {
        votes.extend(c.await?);
    }
    let elapsed = start.elapsed();
    let t = Instant::now();
    let delivered_all = drained(&pool, Duration::from_secs(300)).await?;
    let drain_time = t.elapsed();
    let rss_peak = proc_status_mb("VmHWM:").unwrap_or(0.0);
    running.shutdown().await;

    let http_errors = votes.iter().filter(|v| !v.ok).count() as u64;
    // Per request, the acknowledged votes (all of them, for the checks) and the time of the
    // deciding one: a decision counts in the window when its second vote was sent in it.
    let mut acked: HashMap<u32, u32> = HashMap::new();
    let mut last_sent: HashMap<u32, Instant> = HashMap::new();
    for v in votes.iter().filter(|v| v.ok) {
        *acked.entry(v.number).or_default() += 1;
        let last = last_sent.entry(v.number).or_insert(v.sent);
        *last = (*last).max(v.sent);
    }
    let decisions = acked.iter().filter(|&(n, &c)| c == 2 && last_sent[n] >= start).count() as u64;
    let in_window = |v: &&Vote| v.ok && v.sent >= start;
    let ok_votes = votes.iter().filter(in_window).count() as u64;
    let mut ack: Vec<f64> = votes.iter().filter(in_window).map(|v| ms(v.acked - v.sent)).collect();
    ack.sort_by(f64::total_cmp);
    let (deliv, undelivered) = delivery(&votes, fake.updates(), start);
    let c = check(&pool, &acked).await?;
    let errors = http_errors + c.refused + c.violations() + undelivered + fake.ephemerals();
    let votes_per_s = rate(ok_votes, elapsed);
    let exhausted = load.exhausted.load(Ordering::Relaxed);

    let rows = vec![
        ("clients", format!("{} ({approvers} approvers, {directors} directors)", s.clients)),
        ("requests opened", format!("{} in {:.1} s ({:.0}/s)", s.requests, open_time.as_secs_f64(), rate(s.requests, open_time))),
        ("channel cards posted", format!("{cards_posted} in {:.1} s ({retired} private copies skipped)", post_time.as_secs_f64())),
        ("voting window", format!("{:.2} s after {} s of warm-up{}", elapsed.as_secs_f64(), s.warmup, if exhausted { " (ran out of requests: raise BENCH_REQUESTS)" } else { "" })),
        ("votes acknowledged", format!("{ok_votes} in the window ({votes_per_s:.1}/s), {} in all", votes.len() as u64 - http_errors)),
        ("decisions", format!("{decisions} ({:.1}/s); in the database: {}", rate(decisions, elapsed), c.decisions)),
        ("ack latency", format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", percentile(&ack, 50.0), percentile(&ack, 99.0), percentile(&ack, 100.0))),
        ("card delivery", format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} updates)", percentile(&deliv, 50.0), percentile(&deliv, 99.0), percentile(&deliv, 100.0), deliv.len())),
        ("outbox drained after", format!("{:.2} s{}", drain_time.as_secs_f64(), if delivered_all { "" } else { " (NOT drained)" })),
        ("memory", format!("VmHWM {rss_peak:.1} MiB (server, fake Slack and clients; VmRSS {rss_ready:.1} MiB before voting)")),
        ("errors", format!("{errors}: http {http_errors}, refused {}, ephemeral {}, undelivered {undelivered}", c.refused, fake.ephemerals())),
        ("database check", format!("over-voted {}, doubled {}, not approved once {}, decided early {}, vote count mismatch {}, approvals audited {}", c.over_voted, c.doubled, c.not_approved_once, c.decided_early, c.mismatched, c.approvals_audited)),
    ];
    let json = json!({
        "decisions_per_s": round(rate(decisions, elapsed), 1),
        "votes_per_s": round(votes_per_s, 1),
        "ack_p50_ms": round(percentile(&ack, 50.0), 2),
        "ack_p99_ms": round(percentile(&ack, 99.0), 2),
        "delivery_p99_ms": round(percentile(&deliv, 99.0), 2),
        "rss_peak_mb": round(rss_peak, 1),
        "pgbench_tps": null,
        "ratio_to_pgbench": null,
        "errors": errors,
        "clients": s.clients,
        "seconds": s.seconds,
        "votes": ok_votes,
        "decisions": decisions,
    });
    pool.close().await;
    Ok(Report {
        rows,
        json,
        votes_per_s,
    })
}

//! Owners' digests, reminders and expiry on a schedule, with a clock the tests move.

use crate::common::slack_harness::{slack_user, SlackBot, CHANNEL};
use crate::common::Bot;
use chrono::{TimeDelta, TimeZone, Utc};
use countersign::chat::address::Platform;
use countersign::clock::Clock;
use countersign::digest::render;
use countersign::digest::scheduler::Scheduler;
use sqlx::PgPool;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

/// Monday 2026-01-05, 09:00:30 in Berlin: finance-ops' weekday digest is due.
fn monday_morning() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 30).unwrap()
}

async fn count(bot: &Bot, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(bot.engine.pool()).await.unwrap()
}

#[sqlx::test]
async fn a_slot_goes_out_once_even_when_two_schedulers_race(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.clock.set(monday_morning());
    let a = Scheduler::new(bot.engine.clone(), vec![Platform::Slack]);
    let b = Scheduler::new(bot.engine.clone(), vec![Platform::Slack]);
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    let sent: Vec<_> = ra
        .unwrap()
        .digests
        .into_iter()
        .chain(rb.unwrap().digests)
        .filter(|(t, _)| t == "finance-ops")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        count(&bot, "SELECT count(*) FROM digest_slots WHERE team = 'finance-ops'").await,
        1
    );
    assert_eq!(
        count(&bot, "SELECT count(*) FROM audit_log WHERE action = 'digest.sent'").await,
        1
    );
    // Two DMs (dave, carol) and the channel, once.
    assert_eq!(
        count(
            &bot,
            "SELECT count(*) FROM outbox WHERE intent->>'kind' LIKE 'digest_%'"
        )
        .await,
        3
    );
    assert!(a.tick().await.unwrap().digests.is_empty(), "nothing more is due");
}

#[sqlx::test]
async fn after_downtime_one_catch_up_digest_covers_the_gap(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.clock.set(monday_morning());
    let s = Scheduler::new(bot.engine.clone(), vec![Platform::Slack]);
    s.tick().await.unwrap();
    // Down from Monday morning to Thursday afternoon: one digest for Thursday's slot, covering all of it.
    bot.clock.set(Utc.with_ymd_and_hms(2026, 1, 8, 15, 0, 0).unwrap());
    let report = s.tick().await.unwrap();
    let thursday = Utc.with_ymd_and_hms(2026, 1, 8, 8, 0, 0).unwrap();
    assert_eq!(report.digests, vec![("finance-ops".to_string(), thursday)]);
    let covers: chrono::DateTime<Utc> =
        sqlx::query_scalar("SELECT covers_from FROM digest_slots WHERE team = 'finance-ops' AND slot_at = $1")
            .bind(thursday)
            .fetch_one(bot.engine.pool())
            .await
            .unwrap();
    assert_eq!(covers, Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).unwrap());
    assert!(s.tick().await.unwrap().digests.is_empty());
}

#[sqlx::test]
async fn nobody_gets_a_digest_on_a_platform_that_is_not_served(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.clock.set(monday_morning());
    Scheduler::new(bot.engine.clone(), vec![Platform::Discord])
        .tick()
        .await
        .unwrap();
    assert_eq!(count(&bot, "SELECT count(*) FROM outbox WHERE intent->'to'->>'platform' = 'slack' OR intent->'place'->>'platform' = 'slack'").await, 0);
    assert_eq!(
        count(
            &bot,
            "SELECT count(*) FROM outbox WHERE intent->>'kind' LIKE 'digest_%'"
        )
        .await,
        3
    );
}

#[sqlx::test]
async fn the_digest_reports_activity_pending_speed_refusals_dead_letters_and_the_chain(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.clock.set(Utc.with_ymd_and_hms(2026, 1, 3, 12, 0, 0).unwrap());
    bot.say("alice", "new invoice amount=12500 vendor=ACME").await; // INV-1 stays pending, and ages
    bot.clock.set(Utc.with_ymd_and_hms(2026, 1, 4, 10, 0, 0).unwrap());
    bot.say("bob", "new invoice amount=80 vendor=Pens").await; // INV-2
    bot.clock.advance(TimeDelta::minutes(90));
    bot.say("carol", "approve INV-2").await; // decided after 90 minutes
    bot.say("frank", "new invoice amount=5 vendor=X").await; // refused: not permitted
    bot.say("bob", "approve INV-1").await; // refused: not permitted
    sqlx::query("INSERT INTO outbox (ref, intent, dead_at, last_error) VALUES ('INV-1', '{\"kind\":\"update_cards\",\"ref\":\"INV-1\"}', $1, 'channel_not_found')")
        .bind(bot.clock.now())
        .execute(bot.engine.pool())
        .await
        .unwrap();
    bot.settle().await;
    bot.clock.set(monday_morning());
    let digest = Scheduler::new(bot.engine.clone(), vec![])
        .preview("finance-ops")
        .await
        .unwrap();
    insta::assert_snapshot!(render::text(&digest));
    assert_eq!(digest.pending.len(), 1);
    assert!(digest.pending[0].overdue, "INV-1 is past its 24h reminder time");
    assert_eq!(digest.median_minutes, Some(90));
    assert_eq!(digest.refusals.get("not_permitted"), Some(&2));
    assert_eq!(digest.dead_letters.len(), 1);
    assert!(digest.chain.verified_through.is_some() && digest.chain.broken_at.is_none());
    let blocks = render::slack_blocks(&digest);
    assert!(serde_json::to_string(&blocks[0])
        .unwrap()
        .contains("Countersign digest for finance-ops"));
    let embed = serde_json::to_value(render::discord_embed(&digest)).unwrap();
    assert_eq!(embed["fields"].as_array().unwrap().len(), 8);
}

#[sqlx::test]
async fn digests_reach_slack_members_and_the_channel(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.bot.clock.set(monday_morning());
    Scheduler::new(s.bot.engine.clone(), vec![Platform::Slack])
        .tick()
        .await
        .unwrap();
    let posts = s.fake.wait_for("chat.postMessage", 3, WAIT).await;
    for to in [slack_user("dave"), slack_user("carol"), CHANNEL.to_string()] {
        let post = posts
            .iter()
            .find(|p| p.body["channel"] == to.as_str())
            .unwrap_or_else(|| panic!("nothing to {to}"));
        assert!(post.body["text"]
            .as_str()
            .unwrap()
            .contains("Countersign digest for finance-ops"));
    }
    s.stop().await;
}

#[sqlx::test]
async fn approvers_who_could_still_help_are_reminded_once_per_interval(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=12500 vendor=ACME").await;
    s.drained().await;
    let scheduler = Scheduler::new(s.bot.engine.clone(), vec![Platform::Slack]);
    s.bot.clock.advance(TimeDelta::hours(23));
    assert_eq!(scheduler.tick().await.unwrap().reminders, 0, "not yet");
    s.bot.clock.advance(TimeDelta::hours(2));
    assert_eq!(scheduler.tick().await.unwrap().reminders, 3, "carol, heidi and dave");
    assert_eq!(scheduler.tick().await.unwrap().reminders, 0, "once per interval");
    s.press("carol", "approve", "INV-1@1").await;
    s.drained().await;
    s.bot.clock.advance(TimeDelta::hours(24));
    assert_eq!(
        scheduler.tick().await.unwrap().reminders,
        1,
        "only dave can still help: heidi's group is met"
    );
    s.drained().await;
    let reminders: Vec<_> = s
        .fake
        .calls_to("chat.postMessage")
        .into_iter()
        .filter(|c| {
            c.body["text"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Reminder: INV-1")
        })
        .collect();
    assert_eq!(reminders.len(), 4);
    assert_eq!(reminders.last().unwrap().body["channel"], slack_user("dave"));
    s.stop().await;
}

#[sqlx::test]
async fn an_untouched_request_expires_on_schedule_and_everyone_is_told(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command(
        "frank",
        "new prod-access environment=staging system=web reason=debug duration_hours=1",
    )
    .await;
    s.drained().await;
    s.bot.clock.advance(TimeDelta::hours(5));
    let report = Scheduler::new(s.bot.engine.clone(), vec![Platform::Slack])
        .tick()
        .await
        .unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(s.bot.status("ACC-1").await, "expired");
    s.drained().await;
    let updates = s.fake.calls_to("chat.update");
    assert!(
        updates.iter().all(|u| u.body.to_string().contains("Expired")),
        "{updates:?}"
    );
    assert_eq!(updates.len(), 3, "the channel card and the two approvers' copies");
    let told = s
        .fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.body["channel"] == slack_user("frank"));
    assert!(told.unwrap().body["text"]
        .as_str()
        .unwrap()
        .contains("expired without a decision"));
    s.stop().await;
}

#[sqlx::test]
async fn a_changed_policy_file_shows_in_the_next_digest(pool: PgPool) {
    let _first = Bot::new(pool.clone()).await; // loads the example files at 09:00 UTC
    let dir = crate::common::example_commands();
    let files: Vec<(String, String)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .map(|(n, t)| {
            if n == "invoice.toml" {
                (n, t.replace("amount >= 10000", "amount >= 5000"))
            } else {
                (n, t)
            }
        })
        .collect();
    let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
    let changed = crate::common::commands_dir(&refs);
    let later = Bot::with_commands(pool, changed.path()).await; // a new version is deployed (also 09:00)
    later.clock.advance(TimeDelta::hours(1));
    let digest = Scheduler::new(later.engine.clone(), vec![])
        .preview("finance-ops")
        .await
        .unwrap();
    assert_eq!(digest.policy_changes.len(), 1, "{:?}", digest.policy_changes);
    assert_eq!(digest.policy_changes[0].name, "invoice");
    assert!(digest.policy_changes[0].from.is_some());
}

#[sqlx::test]
async fn digest_preview_and_send_on_the_command_line(pool: PgPool) {
    let _bot = Bot::new(pool.clone()).await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(args)
            .env("DATABASE_URL", crate::common::url_of(&pool))
            .env("COUNTERSIGN_COMMANDS", crate::common::example_commands())
            .env_remove("SLACK_SIGNING_SECRET")
            .env_remove("SLACK_BOT_TOKEN")
            .env_remove("DISCORD_BOT_TOKEN")
            .output()
            .unwrap()
    };
    let preview = run(&["digest", "preview", "finance-ops"]);
    assert!(preview.status.success(), "{}", String::from_utf8_lossy(&preview.stderr));
    assert!(String::from_utf8_lossy(&preview.stdout).contains("Countersign digest for finance-ops"));
    let unknown = run(&["digest", "preview", "marketing"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no team \"marketing\""));
    let nowhere = run(&["digest", "send", "finance-ops"]);
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&nowhere.stderr).contains("no chat platform is configured"));
}

#[sqlx::test]
async fn each_digest_verifies_what_was_sealed_since_the_last_and_finds_a_forgery_there(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=80 vendor=Pens").await;
    bot.clock.set(monday_morning());
    let scheduler = Scheduler::new(bot.engine.clone(), vec![Platform::Slack]);
    let first = scheduler.send_now("finance-ops").await.unwrap();
    let through = first
        .chain
        .verified_through
        .expect("the first digest verifies the chain");
    assert!(first.chain.broken_at.is_none());

    bot.clock.advance(TimeDelta::hours(1));
    bot.say("carol", "approve INV-1").await;
    // An entry sealed after the first digest is rewritten behind the log's back.
    let forged: i64 = sqlx::query_scalar("SELECT max(seq) FROM audit_seal")
        .fetch_one(bot.engine.pool())
        .await
        .unwrap();
    assert!(forged > through, "new entries were sealed since the first digest");
    for sql in [
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "UPDATE audit_log SET details = '{\"forged\": true}' WHERE id = (SELECT entry_id FROM audit_seal WHERE seq = (SELECT max(seq) FROM audit_seal))",
        "ALTER TABLE audit_log ENABLE TRIGGER ALL",
    ] {
        sqlx::query(sql).execute(bot.engine.pool()).await.unwrap();
    }
    let second = scheduler.send_now("finance-ops").await.unwrap();
    assert_eq!(
        second.chain.broken_at.as_ref().map(|(seq, _)| *seq),
        Some(forged),
        "the second digest checks the links sealed since the first: {:?}",
        second.chain
    );
    assert!(second.chain.verified_through.is_some_and(|seq| seq >= through));
}

#[sqlx::test]
async fn the_digest_carries_the_latest_signed_checkpoint_in_full(pool: PgPool) {
    use countersign::engine::checkpoint::Occasion;
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=80 vendor=Pens").await;
    let keys = crate::common::tempdir::TempDir::new();
    let key = crate::common::tamper::Key::new(keys.path(), "receipt.pem");
    let signed = bot
        .engine
        .checkpoint(&key.signer, Occasion::Asked)
        .await
        .unwrap()
        .unwrap();
    bot.clock.set(monday_morning());
    let digest = Scheduler::new(bot.engine.clone(), vec![])
        .preview("finance-ops")
        .await
        .unwrap();
    let text = render::text(&digest);
    let line = format!(
        "latest signed checkpoint: #{} {} ({})",
        signed.seq, signed.hash, signed.at
    );
    assert!(text.contains(&line), "{text}");
    let blocks = serde_json::to_string(&render::slack_blocks(&digest)).unwrap();
    assert!(blocks.contains(&signed.hash), "{blocks}");
    let embed = serde_json::to_string(&render::discord_embed(&digest)).unwrap();
    assert!(embed.contains(&signed.hash), "{embed}");
}

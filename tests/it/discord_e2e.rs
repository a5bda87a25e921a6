//! Discord end to end: signed interactions through the real endpoint, the outbox against a fake
//! Discord API on loopback, buttons taken from the cards the bot itself posted.

use crate::common::discord_harness::{discord_user, DiscordBot, CHANNEL};
use crate::common::fake_discord::{Call, Scripted};
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn content(v: &Value) -> &str {
    v.pointer("/data/content").and_then(Value::as_str).unwrap_or_default()
}

/// The custom ids of the buttons on a posted or edited card.
fn buttons(call: &Call) -> Vec<String> {
    call.body["components"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
        .collect()
}

#[sqlx::test]
async fn the_invoice_story_in_discord(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    let opened = d
        .send(&d.command(
            "alice",
            "new",
            &[
                ("workflow", "invoice"),
                ("fields", r#"amount=12500.00 vendor="ACME GmbH""#),
            ],
        ))
        .await;
    assert_eq!(opened["type"], 4);
    assert_eq!(opened["data"]["flags"], 64, "answers are ephemeral");
    assert!(content(&opened).contains("Request INV-1 opened."), "{opened}");

    let channel_posts = d
        .fake
        .wait_for("POST", &format!("/api/v10/channels/{CHANNEL}/messages"), 1, WAIT)
        .await;
    let card = &channel_posts[0];
    insta::assert_json_snapshot!("discord_card_when_opened", card.body);
    for approver in ["carol", "heidi", "dave"] {
        let dm = d.fake.dm_channel_of(discord_user(approver));
        d.fake
            .wait_for("POST", &format!("/api/v10/channels/{dm}/messages"), 1, WAIT)
            .await;
    }
    let ids = buttons(card);
    assert_eq!(ids, ["approve:INV-1@1", "reject:INV-1@1", "details:INV-1"]);

    let refused = d.send(&d.press("alice", &ids[0])).await;
    assert!(
        content(&refused).contains("You cannot approve your own request INV-1"),
        "{refused}"
    );
    let refused = d.send(&d.press("bob", &ids[0])).await;
    assert!(content(&refused).contains("you hold analyst"), "{refused}");
    assert_eq!(d.bot.count("votes").await, 0);

    let ack = d.send(&d.press("carol", &ids[0])).await;
    assert_eq!(ack["type"], 6, "a counted vote just acknowledges; the cards show it");
    let edits = d.fake.wait_for("PATCH", "/api/v10/channels/", 4, WAIT).await;
    for e in &edits {
        assert!(e.body.to_string().contains("still needed 1 finance-director"), "{e:?}");
        assert!(
            e.body
                .to_string()
                .contains("finance-director: waiting for Dave Director"),
            "{e:?}"
        );
    }
    let channel_copy = edits
        .iter()
        .find(|e| e.path.contains(&format!("/channels/{CHANNEL}/")))
        .unwrap();
    insta::assert_json_snapshot!("discord_card_after_carol", channel_copy.body);

    d.send(&d.press("dave", &ids[0])).await;
    d.fake.wait_for("PATCH", "/api/v10/channels/", 8, WAIT).await;
    let alice_dm = d.fake.dm_channel_of(discord_user("alice"));
    let told = d
        .fake
        .wait_for("POST", &format!("/api/v10/channels/{alice_dm}/messages"), 1, WAIT)
        .await;
    assert!(told[0].body["content"]
        .as_str()
        .unwrap()
        .contains("was approved by Carol Approver and Dave Director"));
    d.drained().await;
    let last = d.fake.calls_to("PATCH", "/api/v10/channels/").last().unwrap().clone();
    assert!(buttons(&last).is_empty(), "a decided card has no buttons");
    insta::assert_json_snapshot!("discord_card_when_approved", last.body);
    assert_eq!(d.bot.status("INV-1").await, "approved");
    d.bot.assert_chain_holds().await;
    d.stop().await;
}

#[sqlx::test]
async fn missing_fields_and_rejects_use_modals(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    let modal = d
        .send(&d.command("alice", "new", &[("workflow", "invoice"), ("fields", "vendor=ACME")]))
        .await;
    assert_eq!(modal["type"], 9);
    let inputs: Vec<&str> = modal["data"]["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["components"][0]["custom_id"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["amount", "vendor", "cost_center"]);
    let custom = modal["data"]["custom_id"].as_str().unwrap().to_string();
    let bad = d
        .send(&d.submit("alice", &custom, &[("amount", "-3"), ("vendor", "ACME")]))
        .await;
    assert!(content(&bad).contains("amount"), "{bad}");
    assert_eq!(d.bot.count("requests").await, 0);
    let ok = d
        .send(&d.submit("alice", &custom, &[("amount", "40"), ("vendor", "ACME")]))
        .await;
    assert!(content(&ok).contains("Request INV-1 opened."), "{ok}");

    let reject = d.send(&d.press("carol", "reject:INV-1@1")).await;
    assert_eq!(reject["type"], 9);
    let custom = reject["data"]["custom_id"].as_str().unwrap().to_string();
    let blank = d.send(&d.submit("carol", &custom, &[("reason", "  ")])).await;
    assert!(content(&blank).contains("needs a reason"), "{blank}");
    let done = d.send(&d.submit("carol", &custom, &[("reason", "Wrong vendor")])).await;
    assert!(content(&done).contains("You rejected INV-1."), "{done}");
    assert_eq!(d.bot.status("INV-1").await, "rejected");
    d.stop().await;
}

#[sqlx::test]
async fn ping_forged_and_stale_signatures(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    let (status, body) = d
        .post_signed(r#"{"type":1,"id":"1","application_id":"1","token":"t","version":1}"#)
        .await;
    assert_eq!((status, body.as_str()), (200, r#"{"type":1}"#));
    let before = d.bot.count("audit_log").await;
    let body = d.command("alice", "whoami", &[]).to_string();
    let http = reqwest::Client::new();
    let url = format!("{}/discord/interactions", d.base);
    let now = countersign::clock::Clock::now(&d.bot.clock).timestamp();
    let (key, _) = crate::common::discord_sign::keypair();
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let cases = [
        ("no headers", None, None),
        (
            "wrong key",
            Some(now.to_string()),
            Some(crate::common::discord_sign::sign(&other, &now.to_string(), &body)),
        ),
        (
            "stale",
            Some((now - 600).to_string()),
            Some(crate::common::discord_sign::sign(&key, &(now - 600).to_string(), &body)),
        ),
        (
            "tampered",
            Some(now.to_string()),
            Some(crate::common::discord_sign::sign(
                &key,
                &now.to_string(),
                &body.replace("whoami", "help"),
            )),
        ),
    ];
    for (what, ts, sig) in cases {
        let mut req = http.post(&url).body(body.clone());
        if let Some(ts) = ts {
            req = req.header("x-signature-timestamp", ts);
        }
        if let Some(sig) = sig {
            req = req.header("x-signature-ed25519", sig);
        }
        assert_eq!(req.send().await.unwrap().status(), 401, "{what}");
    }
    assert_eq!(d.bot.count("audit_log").await, before, "refused requests write nothing");
    d.stop().await;
}

#[sqlx::test]
async fn a_repeated_interaction_yields_one_decision(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    d.send(&d.command(
        "alice",
        "new",
        &[("workflow", "invoice"), ("fields", "amount=40 vendor=ACME")],
    ))
    .await;
    let click = d.press("carol", "approve:INV-1@1");
    let first = d.send(&click).await;
    let audit = d.bot.count("audit_log").await;
    let again = d.send(&click).await;
    assert_eq!(first, again);
    assert_eq!(d.bot.count("audit_log").await, audit);
    assert_eq!(d.bot.count("votes").await, 1);
    d.stop().await;
}

#[sqlx::test]
async fn twenty_concurrent_clicks_make_one_decision(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    d.send(&d.command(
        "alice",
        "new",
        &[("workflow", "invoice"), ("fields", "amount=40 vendor=ACME")],
    ))
    .await;
    let clicks: Vec<Value> = (0..20)
        .map(|i| d.press(if i % 2 == 0 { "carol" } else { "heidi" }, "approve:INV-1@1"))
        .collect();
    let answers = futures_util::future::join_all(clicks.iter().map(|c| d.send(c))).await;
    assert_eq!(answers.iter().filter(|a| a["type"] == 6).count(), 1, "one counted vote");
    assert_eq!(
        answers.iter().filter(|a| a["type"] == 4).count(),
        19,
        "every other click is told why"
    );
    d.drained().await;
    assert_eq!(d.bot.count("decisions").await, 1);
    let alice_dm = d.fake.dm_channel_of(discord_user("alice"));
    assert_eq!(
        d.fake
            .calls_to("POST", &format!("/api/v10/channels/{alice_dm}/messages"))
            .len(),
        1,
        "one confirmation"
    );
    d.stop().await;
}

#[sqlx::test]
async fn rate_limits_are_waited_out_and_each_message_arrives_once(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    let channel_path = format!("/api/v10/channels/{CHANNEL}/messages");
    d.fake.script(
        "POST",
        &channel_path,
        vec![
            Scripted::RateLimited {
                retry_after: 0.4,
                global: false,
            },
            Scripted::RateLimited {
                retry_after: 0.2,
                global: true,
            },
        ],
    );
    d.send(&d.command(
        "alice",
        "new",
        &[("workflow", "invoice"), ("fields", "amount=40 vendor=ACME")],
    ))
    .await;
    d.drained().await;
    assert_eq!(d.fake.calls_to("POST", &channel_path).len(), 1);
    let tried = d
        .fake
        .calls()
        .iter()
        .filter(|c| c.method == "POST" && c.path == channel_path)
        .count();
    assert_eq!(tried, 3, "two 429s, then the post");
    d.stop().await;
}

#[sqlx::test]
async fn an_unknown_discord_user_is_refused_and_audited(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    let answer = d.send(&d.command("mallory", "list", &[])).await;
    assert!(content(&answer).contains("does not know who you are"), "{answer}");
    assert_eq!(
        d.bot.audit_lines().await.pop().unwrap(),
        "request.viewed refused:unauthenticated"
    );
    d.stop().await;
}

#[sqlx::test]
async fn every_conformance_interaction_is_handled(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/discord");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") || ["index.json", "signatures.json"].contains(&name.as_str()) {
            continue;
        }
        let body = std::fs::read_to_string(&path).unwrap();
        let (status, answer) = d.post_signed(&body).await;
        assert_eq!(status, 200, "{name}: {answer}");
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert!(answer["type"].as_u64().is_some(), "{name}: {answer}");
        assert!(!answer.to_string().contains("could not record"), "{name}: {answer}");
        n += 1;
    }
    assert!(n >= 16, "the corpus shrank: {n}");
    d.stop().await;
}

#[test]
fn commands_are_registered_through_the_api() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(crate::common::fake_discord::FakeDiscord::start());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_countersign"))
        .args(["discord", "register", "--guild", "561884984214814744"])
        .env("DISCORD_API_BASE", fake.base_url())
        .env("DISCORD_BOT_TOKEN", crate::common::fake_discord::BOT_TOKEN)
        .env("DISCORD_APPLICATION_ID", crate::common::fake_discord::APPLICATION_ID)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let calls = fake.calls_to("PUT", "/api/v10/applications/");
    assert_eq!(calls.len(), 1);
    assert!(calls[0].path.ends_with("/guilds/561884984214814744/commands"));
    let subs: Vec<&str> = calls[0].body[0]["options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        subs,
        [
            "new", "approve", "reject", "cancel", "amend", "show", "retry", "list", "history", "policy", "whoami",
            "help"
        ]
    );
}

#[tokio::test]
async fn a_global_rate_limit_pauses_every_call_until_it_ends() {
    let fake = crate::common::fake_discord::FakeDiscord::start().await;
    let api = countersign::chat::discord::DiscordApi::new(
        &fake.base_url(),
        crate::common::fake_discord::BOT_TOKEN,
        crate::common::fake_discord::APPLICATION_ID,
    )
    .unwrap();
    fake.script(
        "POST",
        "/api/v10/channels/1/messages",
        vec![Scripted::RateLimited {
            retry_after: 0.3,
            global: true,
        }],
    );
    let message = serde_json::json!({ "content": "hello" });
    let first = api.post_message("1", &message).await;
    assert!(
        matches!(first, Err(countersign::outbox::DeliveryError::RateLimited { .. })),
        "{first:?}"
    );
    let seen = fake.calls().len();
    let other = api.post_message("2", &message).await;
    assert!(
        matches!(other, Err(countersign::outbox::DeliveryError::RateLimited { .. })),
        "{other:?}"
    );
    assert_eq!(fake.calls().len(), seen, "no call is made while the global limit lasts");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(api.post_message("2", &message).await.is_ok());
}

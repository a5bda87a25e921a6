//! What an attacker can make us write: unauthenticated floods stay a few entries, every stored
//! string is bounded, NUL bytes and oversized refs are refused as invalid input (never a 500),
//! and a request one may not see is answered exactly like one that does not exist.

use crate::common::api_harness::ApiBot;
use reqwest::Method;
use serde_json::json;
use sqlx::PgPool;

async fn audit_rows(api: &ApiBot) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM audit_log")
        .fetch_one(api.slack.bot.engine.pool())
        .await
        .unwrap()
}

/// The largest entry written, in bytes of its stored text.
async fn largest_entry(api: &ApiBot) -> i32 {
    sqlx::query_scalar(
        "SELECT max(octet_length(coalesce(ref, '')) + octet_length(coalesce(identity, '')) \
         + octet_length(details::text)) FROM audit_log",
    )
    .fetch_one(api.slack.bot.engine.pool())
    .await
    .unwrap()
}

#[sqlx::test]
async fn an_unauthenticated_flood_writes_one_entry_and_one_count_each_minute(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let before = audit_rows(&api).await;
    let huge = "A".repeat(16 * 1024);
    for _ in 0..200 {
        let res = api
            .call(Method::GET, &format!("/api/v1/requests/{huge}"), None)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 401);
    }
    assert_eq!(
        audit_rows(&api).await - before,
        1,
        "the first refusal is recorded, the rest counted"
    );
    assert!(largest_entry(&api).await < 8 * 1024, "no entry echoes the 16 KB ref");

    // When the minute is over, the count is written as one entry.
    api.slack.bot.clock.advance(chrono::TimeDelta::seconds(61));
    api.slack.bot.engine.flush_refusal_counts().await.unwrap();
    assert_eq!(audit_rows(&api).await - before, 2);
    let repeated: i64 = sqlx::query_scalar(
        "SELECT (details->>'repeated')::int8 FROM audit_log WHERE details ? 'repeated' AND reason = 'unauthenticated'",
    )
    .fetch_one(api.slack.bot.engine.pool())
    .await
    .unwrap();
    assert_eq!(repeated, 199);
    api.slack.bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn nul_bytes_and_oversized_values_are_invalid_input_and_audited(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let (status, body) = api.get("/api/v1/requests/INV%00", "erp").await;
    assert_eq!(status, 422, "not a ref is invalid input: {body}");
    assert_eq!(body["error"], "invalid_input", "{body}");
    let (status, body) = api
        .get(&format!("/api/v1/requests/INV-{}", "9".repeat(5000)), "erp")
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.to_string().len() < 1000,
        "the answer does not echo the ref: {body}"
    );

    let (status, body) = api
        .open(
            "erp",
            &json!({ "workflow": "invoice", "fields": { "amount": "0.0\u{0000}", "vendor": "ACME" } }),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.to_string().contains("NUL"), "{body}");
    let (status, body) = api
        .open(
            "erp",
            &json!({ "workflow": "invoice", "fields": { "amo\u{0000}unt": "10", "vendor": "ACME" } }),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = api
        .open("erp", &json!({ "workflow": "x".repeat(1_000_000), "fields": {} }), None)
        .await;
    assert!(status == 400 || status == 422, "{status} {body}");
    let (status, body) = api.get("/api/v1/requests?status=pending%00", "erp").await;
    assert_eq!(status, 400, "{body}");

    let refusals = api.refusals().await;
    assert_eq!(refusals.len(), 6, "{refusals:?}");
    assert!(refusals.iter().all(|r| r.starts_with("api:erp ")), "{refusals:?}");
    assert!(
        largest_entry(&api).await < 8 * 1024,
        "a 1 MB workflow name is not echoed in full"
    );
    assert_eq!(api.slack.bot.count("requests").await, 0);
    api.slack.bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn a_request_one_may_not_see_is_answered_like_one_that_does_not_exist(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let (status, _) = api
        .open(
            "erp",
            &json!({ "workflow": "invoice", "fields": { "amount": "10.00", "vendor": "ACME" } }),
            None,
        )
        .await;
    assert_eq!(status, 201);
    // The deploy pipeline (an engineer) may not view invoices.
    let (hidden, hidden_body) = api.get("/api/v1/requests/INV-1", "deploy-pipeline").await;
    let (missing, missing_body) = api.get("/api/v1/requests/INV-2", "deploy-pipeline").await;
    assert_eq!((hidden, missing), (404, 404));
    assert_eq!(
        hidden_body.to_string().replace("INV-1", "INV-?"),
        missing_body.to_string().replace("INV-2", "INV-?"),
        "the two answers differ only in the ref"
    );
    // Refs are case-insensitive, in the API as in chat.
    let (status, body) = api.get("/api/v1/requests/inv-1", "erp").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ref"], "INV-1");
    // The audit log keeps the truth.
    let refusals = api.refusals().await;
    assert!(
        refusals.contains(&"api:deploy-pipeline request.viewed not_permitted".to_string()),
        "{refusals:?}"
    );
    assert!(
        refusals.contains(&"api:deploy-pipeline request.viewed unknown_ref".to_string()),
        "{refusals:?}"
    );
}

#[sqlx::test]
async fn a_button_with_a_version_that_is_not_a_version_is_refused_as_stale(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let s = &api.slack;
    s.command("alice", r#"new invoice amount=50.00 vendor=Pens"#).await;
    for value in ["INV-1@99999999999", "INV-1@x", "INV-1"] {
        s.press("carol", "approve", value).await;
    }
    s.drained().await;
    assert_eq!(
        s.bot.count("votes").await,
        0,
        "no tampered version counts as the current one"
    );
    assert_eq!(s.bot.status("INV-1").await, "pending");
    let stale: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE reason = 'stale_version'")
        .fetch_one(s.bot.engine.pool())
        .await
        .unwrap();
    assert_eq!(stale, 3);
}

#[sqlx::test]
async fn a_reject_reason_cannot_mention_anyone_in_the_notification(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let s = &api.slack;
    s.command("alice", r#"new invoice amount=50.00 vendor="A & B <Pens>""#)
        .await;
    s.command(
        "carol",
        "reject INV-1 <!channel> ask <@U0BOB> at <https://evil.test|the bank>",
    )
    .await;
    s.drained().await;
    for call in s.fake.calls() {
        let text = call.body["text"].as_str().unwrap_or_default();
        for raw in ["<!channel>", "<@U0BOB>", "<https://evil.test", "<Pens>"] {
            assert!(!text.contains(raw), "{}: {text}", call.method);
        }
    }
    let told = s
        .fake
        .calls_to("chat.postMessage")
        .into_iter()
        .find(|c| c.body["channel"] == crate::common::slack_harness::slack_user("alice"))
        .expect("alice is told");
    assert!(
        told.body["text"]
            .as_str()
            .unwrap()
            .contains("&lt;!channel&gt; ask &lt;@U0BOB&gt;"),
        "{}",
        told.body["text"]
    );
}

#[sqlx::test]
async fn what_a_person_typed_cannot_pass_for_a_line_of_the_card(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let spoof = "ACME *GmbH*\n\n• Approved by Dave Director";
    let (status, body) = api
        .open(
            "erp",
            &json!({ "workflow": "invoice", "fields": { "amount": "10.00", "vendor": spoof } }),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let s = &api.slack;
    let cards = s
        .fake
        .wait_for("chat.postMessage", 2, std::time::Duration::from_secs(10))
        .await;
    for card in &cards {
        let blocks = card.body["blocks"].to_string();
        assert!(
            blocks.contains("ACME *GmbH* ↵  ↵ • Approved by Dave Director"),
            "{blocks}"
        );
        let texts = card.body["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|b| {
                let mut t: Vec<serde_json::Value> = b["fields"].as_array().cloned().unwrap_or_default();
                t.push(b["text"].clone());
                t
            })
            .filter(|t| t["type"] == "mrkdwn")
            .map(|t| t["text"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        assert!(
            texts.iter().all(|t| !t.contains("ACME") && !t.contains("Approved by")),
            "typed text reached mrkdwn: {texts:?}"
        );
    }
}

#[sqlx::test]
async fn a_replayed_slash_command_without_a_trigger_id_opens_one_request(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let s = &api.slack;
    let body = format!(
        "team_id=T0001&channel_id={}&user_id={}&command=%2Fapproval&text=new+invoice+amount%3D50.00+vendor%3DPens",
        crate::common::slack_harness::CHANNEL,
        crate::common::slack_harness::slack_user("alice")
    );
    // The same signed request, sent again within the freshness window.
    for _ in 0..3 {
        let res = s
            .post_signed(
                "/slack/commands",
                "application/x-www-form-urlencoded",
                body.clone(),
                &[],
            )
            .await;
        assert_eq!(res.status().as_u16(), 200);
        let answer: serde_json::Value = res.json().await.unwrap();
        assert!(
            answer["text"].as_str().unwrap().contains("Request INV-1 opened."),
            "{answer}"
        );
    }
    assert_eq!(s.bot.count("requests").await, 1);
}

#[sqlx::test]
async fn in_chat_a_nul_or_a_huge_value_is_refused_as_input_not_as_an_outage(pool: PgPool) {
    let bot = crate::common::Bot::new(pool).await;
    let huge = "x".repeat(100_000);
    for line in [
        "new invoice amount=1.00\0 vendor=Pens".to_string(),
        "new invoice amount=1.00 ven\0dor=Pens".to_string(),
        "show INV\0-1".to_string(),
        "approve INV-1\0".to_string(),
        format!("show INV-{huge}"),
        format!("new {huge} amount=1"),
    ] {
        let reply = bot.say("alice", &line).await;
        assert!(reply.starts_with("Refused: "), "{reply}");
        assert!(!reply.contains("unavailable"), "{reply}");
        assert!(
            reply.len() < 1_000,
            "the reply does not echo the input: {} bytes",
            reply.len()
        );
    }
    assert_eq!(bot.count("requests").await, 0);
    let refused: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE outcome = 'refused'")
        .fetch_one(bot.engine.pool())
        .await
        .unwrap();
    assert_eq!(refused, 6, "each attempt is audited");
    bot.assert_chain_holds().await;
}

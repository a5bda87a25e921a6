//! Slack end to end: the real router and outbox against a fake Slack Web API on loopback,
//! with every inbound request signed exactly as Slack signs it.

use crate::common::fake_slack::Scripted;
use crate::common::slack_harness::{slack_user, SlackBot, CHANNEL};
use serde_json::Value;
use sqlx::PgPool;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn texts(calls: &[crate::common::fake_slack::Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| c.body["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn to(calls: &[crate::common::fake_slack::Call], channel: &str) -> usize {
    calls.iter().filter(|c| c.body["channel"] == channel).count()
}

#[sqlx::test]
async fn the_invoice_story_in_slack(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    let reply = s
        .command("alice", r#"new invoice amount=12500.00 vendor="ACME GmbH""#)
        .await;
    assert_eq!(reply["response_type"], "ephemeral");
    assert!(
        reply["text"].as_str().unwrap().contains("Request INV-1 opened."),
        "{reply}"
    );

    // The card in the channel, and privately to every eligible approver.
    let posts = s.fake.wait_for("chat.postMessage", 4, WAIT).await;
    assert_eq!(to(&posts, CHANNEL), 1);
    for approver in ["carol", "heidi", "dave"] {
        assert_eq!(to(&posts, &slack_user(approver)), 1, "{approver} gets the card");
    }
    let card = &posts.iter().find(|c| c.body["channel"] == CHANNEL).unwrap().body["blocks"];
    insta::assert_json_snapshot!("card_when_opened", card);

    // Alice and Bob are refused, privately, and nothing changes.
    s.press("alice", "approve", "INV-1@1").await;
    s.press("bob", "approve", "INV-1@1").await;
    let refusals = s.fake.wait_for("chat.postEphemeral", 2, WAIT).await;
    assert!(
        texts(&refusals)
            .iter()
            .any(|t| t.contains("You cannot approve your own request INV-1")),
        "{refusals:?}"
    );
    assert!(
        texts(&refusals).iter().any(|t| t.contains("you hold analyst")),
        "{refusals:?}"
    );
    assert_eq!(s.bot.count("votes").await, 0);

    // Carol approves: every copy of the card shows the progress.
    s.press("carol", "approve", "INV-1@1").await;
    let updates = s.fake.wait_for("chat.update", 4, WAIT).await;
    for u in &updates {
        assert!(u.body.to_string().contains("still needed 1 finance-director"), "{u:?}");
        assert!(
            u.body
                .to_string()
                .contains("finance-director: waiting for Dave Director"),
            "{u:?}"
        );
    }
    let channel_copy = updates.iter().find(|u| u.body["channel"] == CHANNEL).unwrap();
    insta::assert_json_snapshot!("card_after_carol", channel_copy.body["blocks"]);
    assert!(
        channel_copy.body["text"]
            .as_str()
            .unwrap()
            .starts_with("INV-1 · 12,500.00 EUR · ACME GmbH · from Alice Analyst"),
        "the notification carries the amount, the vendor and the requester: {}",
        channel_copy.body["text"]
    );

    // Dave approves: approved everywhere, and Alice is told privately.
    s.press("dave", "approve", "INV-1@1").await;
    s.fake.wait_for("chat.update", 8, WAIT).await;
    let posts = s.fake.wait_for("chat.postMessage", 5, WAIT).await;
    let confirmation = posts
        .iter()
        .find(|c| c.body["channel"] == slack_user("alice"))
        .expect("a DM to alice");
    assert!(confirmation.body["text"]
        .as_str()
        .unwrap()
        .contains("was approved by Carol Approver and Dave Director"));
    s.drained().await;
    let last = s.fake.calls_to("chat.update").last().unwrap().body["blocks"].clone();
    insta::assert_json_snapshot!("card_when_approved", last);
    assert_eq!(s.bot.status("INV-1").await, "approved");
    let lines = s.bot.audit_lines().await;
    assert!(lines.contains(&"vote.approve refused:self_approval INV-1".to_string()));
    s.bot.assert_chain_holds().await;
    s.stop().await;
}

/// The action ids of the buttons among some blocks.
fn button_ids(blocks: &Value) -> Vec<String> {
    blocks
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .filter_map(|e| e["action_id"].as_str().map(str::to_owned))
        .collect()
}

#[sqlx::test]
async fn an_amended_card_says_what_changed_and_the_requester_gets_no_vote_buttons(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    let opened = s
        .command("alice", r#"new invoice amount=12500.00 vendor="ACME GmbH""#)
        .await;
    assert_eq!(
        button_ids(&opened["blocks"]),
        ["details"],
        "the requester's own copy has no Approve or Reject: {opened}"
    );
    assert_eq!(
        opened["blocks"][0]["text"]["text"], "Request INV-1 opened.",
        "a one-line answer is plain text, not a code block"
    );
    s.fake.wait_for("chat.postMessage", 4, WAIT).await;
    s.press("carol", "approve", "INV-1@1").await;
    s.fake.wait_for("chat.update", 4, WAIT).await;

    let amended = s.command("alice", "amend INV-1 amount=9500.00").await;
    assert!(
        amended["text"].as_str().unwrap().contains("version 2 is current"),
        "{amended}"
    );
    s.fake.wait_for("chat.update", 8, WAIT).await;
    s.drained().await;
    let card = s
        .fake
        .calls_to("chat.update")
        .into_iter()
        .rfind(|c| c.body["channel"] == CHANNEL)
        .unwrap()
        .body["blocks"]
        .clone();
    let shown = card.to_string();
    assert!(
        shown.contains("Amended from version 1: Amount 12,500.00 EUR → 9,500.00 EUR; 1 earlier vote voided; rule moved from large to standard"),
        "{shown}"
    );
    insta::assert_json_snapshot!("card_when_amended", card);
    assert_eq!(button_ids(&card), ["approve", "reject", "details"]);
    s.stop().await;
}

#[sqlx::test]
async fn a_new_request_with_fields_missing_opens_a_modal_with_inline_errors(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    let reply = s.command("alice", "new invoice vendor=ACME").await;
    assert!(reply.is_null(), "the form replaces the answer: {reply}");
    let opened = s.fake.wait_for("views.open", 1, WAIT).await;
    let view = &opened[0].body["view"];
    let blocks: Vec<&str> = view["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["block_id"].as_str().unwrap())
        .collect();
    assert_eq!(blocks, ["amount", "vendor", "cost_center"]);
    assert_eq!(
        view["blocks"][1]["element"]["initial_value"], "ACME",
        "what was typed is kept"
    );

    let (status, body) = s
        .submit_last_view("alice", &[("amount", "12.345"), ("vendor", "ACME")])
        .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["response_action"], "errors");
    assert!(
        answer["errors"]["amount"].as_str().unwrap().contains("at most 2"),
        "{answer}"
    );
    assert_eq!(s.bot.count("requests").await, 0);

    let (status, body) = s
        .submit_last_view("alice", &[("amount", "99.90"), ("vendor", "ACME")])
        .await;
    assert_eq!((status, body.as_str()), (200, ""));
    let posts = s.fake.wait_for("chat.postMessage", 3, WAIT).await;
    assert_eq!(to(&posts, CHANNEL), 1, "the card is posted where the command was typed");
    let opened = s.fake.wait_for("chat.postEphemeral", 1, WAIT).await;
    assert!(texts(&opened)[0].contains("Request INV-1 opened."));
    s.stop().await;
}

#[sqlx::test]
async fn reject_asks_for_a_reason_in_a_modal(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    s.fake.wait_for("chat.postMessage", 3, WAIT).await;
    s.press("carol", "reject", "INV-1@1").await;
    let opened = s.fake.wait_for("views.open", 1, WAIT).await;
    assert_eq!(opened[0].body["view"]["callback_id"], "countersign_reject");
    let (_, body) = s.submit_last_view("carol", &[("reason", "   ")]).await;
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert!(
        answer["errors"]["reason"].as_str().unwrap().contains("needs a reason"),
        "{answer}"
    );
    let (_, body) = s
        .submit_last_view("carol", &[("reason", "Duplicate of last week's invoice")])
        .await;
    assert_eq!(body, "");
    s.fake.wait_for("chat.update", 3, WAIT).await;
    let posts = s.fake.wait_for("chat.postMessage", 4, WAIT).await;
    let dm = posts.iter().find(|c| c.body["channel"] == slack_user("alice")).unwrap();
    assert!(dm.body["text"]
        .as_str()
        .unwrap()
        .contains("rejected by Carol Approver: Duplicate of last week's invoice"));
    assert_eq!(s.bot.status("INV-1").await, "rejected");
    s.stop().await;
}

#[sqlx::test]
async fn forged_stale_and_oversized_requests_are_refused_and_write_nothing(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    let before = s.bot.count("audit_log").await;
    let body = "team_id=T0001&user_id=U0ALICE&channel_id=C1&command=%2Fapproval&text=new+invoice+amount%3D5+vendor%3DX"
        .to_string();
    let http = reqwest::Client::new();
    let now = chrono::Utc::now().timestamp();
    let cases = [
        ("no signature", None, None),
        (
            "wrong secret",
            Some(now),
            Some(crate::common::slack_sign::signature("not-the-secret", now, &body)),
        ),
        (
            "stale",
            Some(now - 600),
            Some(crate::common::slack_sign::signature(
                crate::common::slack_harness::SECRET,
                now - 600,
                &body,
            )),
        ),
        ("garbage", Some(now), Some("v0=zzzz".to_string())),
    ];
    // The server's clock is the bot's manual clock: sign relative to it.
    let at = countersign::clock::Clock::now(&s.bot.clock).timestamp();
    for (what, ts, sig) in cases {
        let (ts, sig) = match (ts, sig) {
            (Some(t), Some(sg)) => {
                let shift = at - now;
                let t2 = t + shift;
                let sig = if what == "wrong secret" {
                    crate::common::slack_sign::signature("not-the-secret", t2, &body)
                } else if what == "stale" {
                    crate::common::slack_sign::signature(crate::common::slack_harness::SECRET, t2, &body)
                } else {
                    sg
                };
                (Some(t2.to_string()), Some(sig))
            }
            _ => (None, None),
        };
        let mut req = http.post(format!("{}/slack/commands", s.base)).body(body.clone());
        if let Some(ts) = ts {
            req = req.header("x-slack-request-timestamp", ts);
        }
        if let Some(sig) = sig {
            req = req.header("x-slack-signature", sig);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{what}");
    }
    let big = format!("payload={}", "x".repeat(300 * 1024));
    let res = s
        .post_signed("/slack/interactions", "application/x-www-form-urlencoded", big, &[])
        .await;
    assert_eq!(res.status(), 413);
    assert_eq!(s.bot.count("audit_log").await, before, "refused requests write nothing");
    assert_eq!(s.bot.count("requests").await, 0);
    s.stop().await;
}

#[sqlx::test]
async fn a_retried_click_yields_one_decision(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    let click = s.press_payload("carol", "approve", "INV-1@1", CHANNEL);
    assert_eq!(s.interact(&click, &[]).await.0, 200);
    let audit = s.bot.count("audit_log").await;
    assert_eq!(
        s.interact(
            &click,
            &[("x-slack-retry-num", "1"), ("x-slack-retry-reason", "http_timeout")]
        )
        .await
        .0,
        200
    );
    assert_eq!(s.bot.count("audit_log").await, audit, "the replay writes nothing");
    assert_eq!(s.bot.count("votes").await, 1);
    s.drained().await;
    let dms = s.fake.calls_to("chat.postMessage");
    assert_eq!(to(&dms, &slack_user("alice")), 1, "one confirmation");
    s.stop().await;
}

#[sqlx::test]
async fn twenty_concurrent_clicks_on_one_card_make_one_decision(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    let clicks: Vec<Value> = (0..20)
        .map(|i| {
            s.press_payload(
                if i % 2 == 0 { "carol" } else { "heidi" },
                "approve",
                "INV-1@1",
                CHANNEL,
            )
        })
        .collect();
    let results = futures_util::future::join_all(clicks.iter().map(|c| s.interact(c, &[]))).await;
    assert!(results.iter().all(|(status, _)| *status == 200));
    s.drained().await;
    assert_eq!(s.bot.status("INV-1").await, "approved");
    assert_eq!(s.bot.count("votes").await, 1);
    assert_eq!(s.bot.count("decisions").await, 1);
    let lines = s.bot.audit_lines().await;
    assert_eq!(lines.iter().filter(|l| l.starts_with("vote.approve done")).count(), 1);
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("vote.approve refused")).count(),
        19
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("request.approved")).count(), 1);
    assert_eq!(
        to(&s.fake.calls_to("chat.postMessage"), &slack_user("alice")),
        1,
        "one confirmation"
    );
    assert_eq!(
        s.fake.calls_to("chat.postEphemeral").len(),
        19,
        "every other click is told why"
    );
    s.stop().await;
}

#[sqlx::test]
async fn slack_answering_429_then_500_still_delivers_each_message_once(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.fake.script(
        "chat.postMessage",
        vec![Scripted::RateLimited { retry_after_secs: 1 }, Scripted::ServerError],
    );
    s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    s.press("carol", "approve", "INV-1@1").await;
    s.drained().await;
    let posts = s.fake.calls_to("chat.postMessage");
    assert_eq!(to(&posts, CHANNEL), 1);
    assert_eq!(to(&posts, &slack_user("carol")), 1);
    assert_eq!(to(&posts, &slack_user("heidi")), 1);
    assert_eq!(to(&posts, &slack_user("alice")), 1, "the confirmation arrives once");
    let failed = s.fake.calls().iter().filter(|c| c.method == "chat.postMessage").count() - posts.len();
    assert_eq!(failed, 2, "the 429 and the 500 were both seen");
    s.stop().await;
}

#[sqlx::test]
async fn an_amendment_updates_every_card_to_the_new_version(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=12500 vendor=ACME").await;
    s.drained().await;
    let reply = s.command("alice", "amend INV-1 amount=900").await;
    assert!(
        reply["text"].as_str().unwrap().contains("version 2 is current"),
        "{reply}"
    );
    s.drained().await;
    let updates = s.fake.calls_to("chat.update");
    assert_eq!(updates.len(), 4, "channel card and three DMs");
    for u in &updates {
        let blocks = u.body["blocks"].to_string();
        assert!(blocks.contains("INV-1@2") && !blocks.contains("INV-1@1"), "{blocks}");
        assert!(blocks.contains("900.00 EUR"));
    }
    s.press("carol", "approve", "INV-1@1").await;
    let refused = s.fake.wait_for("chat.postEphemeral", 1, WAIT).await;
    assert!(texts(&refused)[0].contains("was amended"), "{refused:?}");
    s.stop().await;
}

#[sqlx::test]
async fn an_unknown_slack_user_is_refused_and_audited(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    let reply = s.command("mallory", "list").await;
    assert!(
        reply["text"].as_str().unwrap().contains("does not know who you are"),
        "{reply}"
    );
    let last = s.bot.audit_lines().await.pop().unwrap();
    assert_eq!(last, "request.viewed refused:unauthenticated");
    s.stop().await;
}

#[sqlx::test]
async fn health_and_readiness(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    let ok = reqwest::get(format!("{}/healthz", s.base)).await.unwrap();
    assert_eq!(ok.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", s.base)).await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], true);
    assert_eq!(body["migrations"], true);
    s.stop().await;
}

#[sqlx::test]
async fn details_sends_the_audit_trail_privately(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    s.press("bob", "approve", "INV-1@1").await;
    s.press("grace", "details", "INV-1").await;
    let sent = s.fake.wait_for("chat.postEphemeral", 2, WAIT).await;
    let trail = sent
        .iter()
        .find(|c| c.body["user"] == slack_user("grace"))
        .expect("a reply to grace");
    let text = trail.body["text"].as_str().unwrap();
    assert!(
        text.contains("Audit trail of INV-1") && text.contains("refused: not_permitted"),
        "{text}"
    );
    s.press("frank", "details", "INV-1").await;
    let sent = s.fake.wait_for("chat.postEphemeral", 3, WAIT).await;
    let refused = sent.iter().find(|c| c.body["user"] == slack_user("frank")).unwrap();
    assert!(refused.body["text"]
        .as_str()
        .unwrap()
        .contains("There is no request INV-1 that you may see"));
    s.stop().await;
}

#[sqlx::test]
async fn work_past_the_acknowledgement_budget_is_answered_later(pool: PgPool) {
    let s = SlackBot::start_with(pool, Duration::ZERO).await;
    let reply = s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    assert!(reply["text"].as_str().unwrap().contains("Working on it"), "{reply}");
    let later = s.fake.wait_for("chat.postEphemeral", 1, WAIT).await;
    assert!(
        later[0].body["text"]
            .as_str()
            .unwrap()
            .contains("Request INV-1 opened."),
        "{later:?}"
    );
    assert_eq!(later[0].body["user"], slack_user("alice"));
    s.drained().await;
    assert_eq!(s.bot.count("requests").await, 1, "the work was done once");
    s.stop().await;
}

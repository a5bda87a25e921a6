//! Owns the self-test of the Slack test doubles: a real slack-morphism client against
//! `common/fake_slack.rs`, its scripted failures, and `common/slack_sign.rs` against the
//! signature vectors in the conformance corpus's slack/signatures.json (in the project, in
//! `tests/fixtures/conformance/`).

use crate::common::fake_slack;
use crate::common::slack_sign;

use fake_slack::{FakeSlack, Scripted};
use serde_json::{json, Value};
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;
use std::time::Duration;

/// A slack-morphism client of `api_url` over a connector that also speaks plain http.
///
/// `SlackClientHyperConnector::new()` is https-only, and hyper-rustls / hyper-util are not
/// direct dependencies; the builder is reached through slack-morphism's own type alias.
fn client(api_url: &str) -> SlackClient<SlackClientHyperHttpsConnector> {
    let connector = SlackHyperHttpsConnector::builder()
        .with_native_roots()
        .expect("native root certificates")
        .https_or_http()
        .enable_http1()
        .build();
    SlackClient::new(SlackClientHyperConnector::with_connector(connector).with_slack_api_url(api_url))
}

fn token(value: &str) -> SlackApiToken {
    SlackApiToken::new(value.into())
}

fn text(s: &str) -> SlackMessageContent {
    SlackMessageContent::new()
        .with_text(s.into())
        .with_blocks(slack_blocks![some_into(
            SlackSectionBlock::new().with_text(md!("*{}*", s))
        )])
}

#[tokio::test]
async fn slack_morphism_round_trip() {
    let fake = FakeSlack::start().await;
    let client = client(&fake.api_url());
    let tok = token("xoxb-test-token");
    let session = client.open_session(&tok);

    let auth = session.auth_test().await.expect("auth.test");
    assert_eq!(auth.team_id.to_string(), "T0001");
    assert_eq!(auth.user_id.to_string(), "U0BOT");

    let posted = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new("C0CHAN".into(), text("deploy?")))
        .await
        .expect("chat.postMessage");
    assert_eq!(posted.channel.to_string(), "C0CHAN");
    assert_eq!(posted.ts.to_string(), "1700000000.000100");
    assert_eq!(posted.message.content.text.as_deref(), Some("deploy?"));
    assert_eq!(posted.message.origin.ts, posted.ts);

    let dm = session
        .chat_post_message(&SlackApiChatPostMessageRequest::new("U0ALICE".into(), text("hi")))
        .await
        .expect("chat.postMessage to a user");
    assert_eq!(dm.channel.to_string(), "D0ALICE");
    assert!(dm.ts.to_string() > posted.ts.to_string(), "ts must increase");

    let updated = session
        .chat_update(&SlackApiChatUpdateRequest::new(
            posted.channel.clone(),
            text("approved"),
            posted.ts.clone(),
        ))
        .await
        .expect("chat.update");
    assert_eq!(updated.channel, posted.channel);
    assert_eq!(updated.ts, posted.ts);
    assert_eq!(updated.message.content.text.as_deref(), Some("approved"));

    let title: SlackBlockPlainTextOnly = "Reason".into();
    let modal = SlackView::Modal(
        SlackModalView::new(
            title.clone(),
            slack_blocks![some_into(SlackSectionBlock::new().with_text(pt!("Why?")))],
        )
        .with_callback_id("reason".into())
        .with_private_metadata("req-7".into()),
    );
    let opened = session
        .views_open(&SlackApiViewsOpenRequest::new("123.456.abc".into(), modal.clone()))
        .await
        .expect("views.open");
    assert!(opened.view.state_params.id.to_string().starts_with("V0001"));
    match &opened.view.view {
        SlackView::Modal(m) => {
            assert_eq!(m.title, title);
            assert_eq!(m.callback_id.as_ref().map(|c| c.to_string()).as_deref(), Some("reason"));
            assert_eq!(m.private_metadata.as_deref(), Some("req-7"));
            assert_eq!(m.clear_on_close, Some(false), "Slack fills in defaults");
        }
        other => panic!("expected the modal back, got {other:?}"),
    }

    session
        .chat_post_ephemeral(&SlackApiChatPostEphemeralRequest::new(
            "C0CHAN".into(),
            "U0BOB".into(),
            text("only you"),
        ))
        .await
        .expect("chat.postEphemeral");
    let conv = session
        .conversations_open(&SlackApiConversationsOpenRequest::new().with_users(vec!["U0CAROL".into()]))
        .await
        .expect("conversations.open");
    assert_eq!(conv.channel.id.to_string(), "D0CAROL");

    let calls = fake.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(
        methods,
        [
            "auth.test",
            "chat.postMessage",
            "chat.postMessage",
            "chat.update",
            "views.open",
            "chat.postEphemeral",
            "conversations.open"
        ]
    );
    assert!(calls.iter().all(|c| c.token.as_deref() == Some("xoxb-test-token")));
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts[0].body["channel"], "C0CHAN");
    assert_eq!(posts[0].body["text"], "deploy?");
    assert_eq!(posts[0].body["blocks"][0]["type"], "section");
    assert_eq!(posts[0].body["blocks"][0]["text"]["text"], "*deploy?*");
    let update = &fake.calls_to("chat.update")[0];
    assert_eq!(update.body["ts"], "1700000000.000100");
    let view = &fake.calls_to("views.open")[0];
    assert_eq!(view.body["trigger_id"], "123.456.abc");
    assert_eq!(view.body["view"]["callback_id"], "reason");
}

#[tokio::test]
async fn scripted_429_then_500_then_ok() {
    let fake = FakeSlack::start().await;
    fake.script(
        "chat.postMessage",
        vec![Scripted::RateLimited { retry_after_secs: 7 }, Scripted::ServerError],
    );
    let client = client(&fake.api_url());
    let tok = token("xoxb-test-token");
    let session = client.open_session(&tok);
    let req = SlackApiChatPostMessageRequest::new("C0CHAN".into(), text("x"));

    match session.chat_post_message(&req).await {
        Err(SlackClientError::RateLimitError(e)) => {
            assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
            assert_eq!(e.code.as_deref(), Some("ratelimited"));
        }
        other => panic!("expected a rate limit error, got {other:?}"),
    }
    match session.chat_post_message(&req).await {
        Err(SlackClientError::HttpError(e)) => assert_eq!(e.status_code.as_u16(), 500),
        other => panic!("expected an HTTP 500 error, got {other:?}"),
    }
    session.chat_post_message(&req).await.expect("normal service resumes");

    assert_eq!(fake.calls().len(), 3, "failed calls are recorded too");
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1, "only the ok one counts");

    fake.script("chat.update", vec![Scripted::ApiError("cant_update_message")]);
    let upd = SlackApiChatUpdateRequest::new("C0CHAN".into(), text("y"), "1.2".into());
    match session.chat_update(&upd).await {
        Err(SlackClientError::ApiError(e)) => assert_eq!(e.code, "cant_update_message"),
        other => panic!("expected cant_update_message, got {other:?}"),
    }
    session.chat_update(&upd).await.expect("script used up");
}

#[tokio::test]
async fn wrong_token_is_invalid_auth() {
    let fake = FakeSlack::start_with_token("xoxb-other").await;
    let client = client(&fake.api_url());
    let tok = token("xoxb-test-token");
    let req = SlackApiChatPostMessageRequest::new("C0CHAN".into(), text("x"));
    match client.open_session(&tok).chat_post_message(&req).await {
        Err(SlackClientError::ApiError(e)) => assert_eq!(e.code, "invalid_auth"),
        other => panic!("expected invalid_auth, got {other:?}"),
    }
    assert_eq!(fake.calls().len(), 1);
    assert!(fake.calls_to("chat.postMessage").is_empty());
}

#[tokio::test]
async fn raw_http_forms_unknown_methods_and_missing_auth() {
    let fake = FakeSlack::start().await;
    let http = reqwest::Client::new();
    let url = |m: &str| format!("{}/{m}", fake.api_url());

    // A form post (as other Slack clients send), blocks JSON-encoded in a field.
    let form = "channel=U0DAVE&text=hello&blocks=%5B%7B%22type%22%3A%22divider%22%7D%5D";
    let resp = http
        .post(url("chat.postMessage"))
        .bearer_auth("xoxb-test-token")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["channel"], "D0DAVE");
    assert_eq!(v["message"]["blocks"][0]["type"], "divider");

    let no_auth: Value = http
        .post(url("chat.postMessage"))
        .json(&json!({"channel": "C1", "text": "x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(no_auth, json!({"ok": false, "error": "invalid_auth"}));

    let unknown: Value = http
        .post(url("chat.delete"))
        .bearer_auth("xoxb-test-token")
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(unknown, json!({"ok": false, "error": "unknown_method"}));

    let calls = fake.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].body["blocks"], json!([{"type": "divider"}]));
    assert_eq!(calls[1].token, None);
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn wait_for_sees_late_calls() {
    let fake = FakeSlack::start().await;
    let url = format!("{}/chat.postEphemeral", fake.api_url());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reqwest::Client::new()
            .post(url)
            .bearer_auth("xoxb-test-token")
            .json(&json!({"channel": "C1", "user": "U1", "text": "later"}))
            .send()
            .await
            .unwrap();
    });
    let got = fake.wait_for("chat.postEphemeral", 1, Duration::from_secs(5)).await;
    assert_eq!(got[0].body["text"], "later");
}

#[tokio::test]
#[should_panic(expected = "waited")]
async fn wait_for_panics_on_timeout() {
    let fake = FakeSlack::start().await;
    fake.wait_for("chat.postMessage", 1, Duration::from_millis(50)).await;
}

#[test]
fn signature_vectors() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/conformance/slack/signatures.json"
    );
    let raw = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let vectors: Vec<Value> = serde_json::from_str(&raw).unwrap();
    assert!(!vectors.is_empty());
    for v in &vectors {
        let ts = match &v["timestamp"] {
            Value::String(s) => s.parse::<i64>().unwrap(),
            n => n.as_i64().unwrap(),
        };
        let ours = slack_sign::signature(v["secret"].as_str().unwrap(), ts, v["body"].as_str().unwrap());
        let matches = ours == v["signature"].as_str().unwrap();
        assert_eq!(
            matches,
            v["valid"].as_bool().unwrap(),
            "vector {}: computed {ours}",
            v["id"]
        );
    }
}

#[test]
fn interaction_body_round_trips() {
    let payload = json!({"type": "block_actions", "actions": [{"value": "a b&c=d/é~-_."}]});
    let body = slack_sign::interaction_body(&payload);
    assert!(
        body.starts_with("payload=%7B%22actions%22%3A%5B%7B%22value%22%3A"),
        "{body}"
    );
    assert!(body.contains("a%20b%26c%3Dd%2F%C3%A9~-_."), "{body}");
    let fields: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].0, "payload");
    assert_eq!(serde_json::from_str::<Value>(&fields[0].1).unwrap(), payload);
}

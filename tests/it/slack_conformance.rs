//! Every real Slack request in the conformance corpus is accepted and handled without an error.

use crate::common::slack_harness::SlackBot;
use crate::common::slack_sign::interaction_body;
use serde_json::Value;
use sqlx::PgPool;
use std::path::PathBuf;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/slack")
}

/// (file, route, content type, body as sent)
fn requests() -> Vec<(String, &'static str, &'static str, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let form = "application/x-www-form-urlencoded";
        let json = "application/json";
        let request = if name.starts_with("slash_command_") || name.starts_with("ssl_check_") {
            Some(("/slack/commands", form, text))
        } else if name.contains("_form_") {
            Some(("/slack/interactions", form, text.trim_end().to_string()))
        } else if name.starts_with("block_actions_") || name.starts_with("view_submission_") {
            let payload: Value = serde_json::from_str(&text).unwrap();
            Some(("/slack/interactions", form, interaction_body(&payload)))
        } else if ["url_verification_", "app_mention_", "message_", "reaction_added_"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            Some(("/slack/events", json, text))
        } else {
            None
        };
        if let Some((route, ct, body)) = request {
            out.push((name, route, ct, body));
        }
    }
    out.sort();
    out
}

#[sqlx::test]
async fn every_conformance_request_is_accepted(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    let all = requests();
    assert!(all.len() >= 40, "the corpus shrank: {}", all.len());
    for (name, route, ct, body) in &all {
        let res = s.post_signed(route, ct, body.clone(), &[]).await;
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, 200, "{name}: {text}");
        assert!(!text.contains("could not record"), "{name} failed inside: {text}");
        if name.starts_with("url_verification_") {
            let sent: Value = serde_json::from_str(body).unwrap();
            let answer: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(answer["challenge"], sent["challenge"], "{name}");
        }
    }
    // Strangers (the corpus's users are not in people.toml) were refused and audited, never served.
    assert_eq!(s.bot.count("requests").await, 0);
    let lines = s.bot.audit_lines().await;
    assert!(
        lines.iter().any(|l| l.ends_with("refused:unauthenticated")),
        "{lines:?}"
    );
    s.stop().await;
}

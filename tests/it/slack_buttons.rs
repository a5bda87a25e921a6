//! A Slack button's meaning travels in its `action_id` and `value`, never in the label people
//! read: relabelling a button (or a translated Slack client) cannot change what a click does.

use crate::common::slack_harness::{SlackBot, CHANNEL};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test]
async fn a_click_means_what_its_action_id_says_whatever_its_button_reads(pool: PgPool) {
    let s = SlackBot::start(pool).await;
    s.command("alice", "new invoice amount=50 vendor=Coffee").await;
    s.command("alice", "new invoice amount=60 vendor=Tea").await;

    // A button reading "Approve" whose id is not one of ours does nothing.
    let mut stranger = s.press_payload("carol", "approve-now", "INV-2@1", CHANNEL);
    stranger["actions"][0]["text"]["text"] = json!("Approve");
    assert_eq!(s.interact(&stranger, &[]).await.0, 200);
    assert_eq!(s.bot.count("votes").await, 0);
    assert_eq!(s.bot.status("INV-2").await, "pending");

    // Our approve button, relabelled, still approves the version it showed.
    let mut relabelled = s.press_payload("carol", "approve", "INV-1@1", CHANNEL);
    relabelled["actions"][0]["text"]["text"] = json!("Genehmigen ✅");
    assert_eq!(s.interact(&relabelled, &[]).await.0, 200);
    assert_eq!(s.bot.count("votes").await, 1);
    assert_eq!(s.bot.status("INV-1").await, "approved");
    assert_eq!(s.bot.status("INV-2").await, "pending");
    s.stop().await;
}

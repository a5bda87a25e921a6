//! A Discord button means its custom_id, never its label: a click on the card the bot posted
//! works whatever the label says.

use crate::common::discord_harness::{DiscordBot, CHANNEL};
use sqlx::PgPool;
use std::time::Duration;

#[sqlx::test]
async fn a_click_means_its_custom_id_whatever_the_label_says(pool: PgPool) {
    let d = DiscordBot::start(pool).await;
    d.send(&d.command(
        "alice",
        "new",
        &[("workflow", "invoice"), ("fields", "amount=40 vendor=ACME")],
    ))
    .await;
    let posts = d
        .fake
        .wait_for(
            "POST",
            &format!("/api/v10/channels/{CHANNEL}/messages"),
            1,
            Duration::from_secs(10),
        )
        .await;
    let mut message = posts[0].body.clone();
    let row = message["components"][0]["components"].as_array_mut().unwrap();
    let approve = row
        .iter()
        .position(|b| b["custom_id"].as_str().unwrap().starts_with("approve:"))
        .unwrap();
    // Every label now says something else (the approve button even says "Reject").
    for b in row.iter_mut() {
        b["label"] = "Ablehnen".into();
    }
    row[approve]["label"] = "Reject".into();
    let custom_id = row[approve]["custom_id"].as_str().unwrap().to_string();
    let mut click = d.press("carol", &custom_id);
    click["message"] = message;
    let ack = d.send(&click).await;
    assert_eq!(ack["type"], 6, "a counted vote, not the reject form: {ack}");
    assert_eq!(d.bot.count("votes").await, 1);
    assert!(
        d.bot
            .audit_lines()
            .await
            .iter()
            .any(|l| l.starts_with("vote.approve done")),
        "{:?}",
        d.bot.audit_lines().await
    );
    d.stop().await;
}

//! Every posted copy of a request's card, so that each can be updated when the request changes.

use crate::chat::address::Platform;
use anyhow::Context;
use sqlx::PgExecutor;
use std::collections::HashMap;

/// One posted copy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardCopy {
    /// The platform it was posted on.
    pub platform: Platform,
    /// Workspace or guild, when known.
    pub workspace: Option<String>,
    /// Channel (or DM channel) id.
    pub channel: String,
    /// The platform's message id (Slack `ts`).
    pub message_id: String,
}

/// Remembers a posted copy (idempotent).
pub async fn record(db: impl PgExecutor<'_>, r#ref: &str, copy: &CardCopy) -> anyhow::Result<()> {
    sqlx::query!(
        "INSERT INTO chat_messages (ref, platform, workspace, channel, message_id) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (platform, channel, message_id) DO NOTHING",
        r#ref,
        copy.platform as Platform,
        copy.workspace.as_deref(),
        copy.channel,
        copy.message_id
    )
    .execute(db)
    .await
    .context("recording a posted card")?;
    Ok(())
}

/// Every posted copy of each of these requests' cards, oldest first, by ref.
pub async fn copies_of(db: impl PgExecutor<'_>, refs: &[String]) -> anyhow::Result<HashMap<String, Vec<CardCopy>>> {
    let mut by_ref: HashMap<String, Vec<CardCopy>> = HashMap::new();
    if refs.is_empty() {
        return Ok(by_ref);
    }
    let rows = sqlx::query!(
        "SELECT ref, platform, workspace, channel, message_id FROM chat_messages WHERE ref = ANY($1) ORDER BY id",
        refs
    )
    .fetch_all(db)
    .await
    .context("reading posted cards")?;
    for row in rows {
        // A copy on a platform this build does not know (written by a newer release) cannot be
        // updated; it must not hold back every other delivery of the round either.
        let Some(platform) = Platform::parse(&row.platform) else {
            tracing::warn!(
                r#ref = row.r#ref,
                platform = row.platform,
                "a posted card is on a platform this release does not know"
            );
            continue;
        };
        by_ref.entry(row.r#ref).or_default().push(CardCopy {
            platform,
            workspace: row.workspace,
            channel: row.channel,
            message_id: row.message_id,
        });
    }
    Ok(by_ref)
}

//! Idempotency keys: the first action with a key runs; a replay gets the first outcome back.

use anyhow::Context;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use sqlx::PgConnection;

/// Claims `key` for this transaction. Returns `Some(outcome)` when the key was already used
/// (a replay: the caller must write nothing and return that outcome), `None` when this is the
/// first use. A concurrent first use blocks here until it commits or rolls back.
pub async fn claim<T: DeserializeOwned>(conn: &mut PgConnection, key: &str) -> anyhow::Result<Option<T>> {
    let fresh: Option<String> =
        sqlx::query_scalar("INSERT INTO idempotency_keys (key) VALUES ($1) ON CONFLICT (key) DO NOTHING RETURNING key")
            .bind(key)
            .fetch_optional(&mut *conn)
            .await
            .context("claiming an idempotency key")?;
    if fresh.is_some() {
        return Ok(None);
    }
    let stored: Option<Value> = sqlx::query_scalar("SELECT outcome FROM idempotency_keys WHERE key = $1")
        .bind(key)
        .fetch_one(&mut *conn)
        .await
        .context("reading a replayed outcome")?;
    let stored = stored.context("an idempotency key was stored without its outcome")?;
    Ok(Some(
        serde_json::from_value(stored).context("decoding a replayed outcome")?,
    ))
}

/// Stores the outcome of the action that claimed `key`, in the same transaction.
pub async fn record<T: Serialize>(conn: &mut PgConnection, key: &str, outcome: &T) -> anyhow::Result<()> {
    sqlx::query("UPDATE idempotency_keys SET outcome = $2 WHERE key = $1")
        .bind(key)
        .bind(serde_json::to_value(outcome)?)
        .execute(conn)
        .await
        .context("recording an idempotent outcome")?;
    Ok(())
}

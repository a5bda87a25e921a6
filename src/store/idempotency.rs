//! Idempotency keys: the first action with a key runs; a replay gets the first outcome back.
//! A key is claimed by the statement that ends its action (see [`super::effects`]); a second
//! action with the same key waits there for the first to commit, finds the key taken, and is
//! rolled back whole.

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sqlx::PgExecutor;

/// The outcome stored under `key` by the action that used it first, if one has committed.
pub async fn stored<T: DeserializeOwned>(db: impl PgExecutor<'_>, key: &str) -> anyhow::Result<Option<T>> {
    let stored: Option<Option<Value>> = sqlx::query_scalar!("SELECT outcome FROM idempotency_keys WHERE key = $1", key)
        .fetch_optional(db)
        .await
        .context("reading a replayed outcome")?;
    match stored {
        None => Ok(None),
        Some(None) => anyhow::bail!("the idempotency key {key} was stored without its outcome"),
        Some(Some(v)) => Ok(Some(serde_json::from_value(v).context("decoding a replayed outcome")?)),
    }
}

//! The hash chain: sealing settled entries in commit order, and the canonical encoding.
//!
//! Writers never wait for the chain. Each entry records the id of the transaction that wrote
//! it (`txid`). A sealing pass takes the oldest transaction still running (the snapshot's
//! xmin): every entry written by an older transaction has either committed or vanished, so
//! they can be chained now and no later commit can slip in before them. Sealing runs under an
//! advisory lock, so several replicas may run sealers safely.

use super::entry::{select_entries, StoredEntry};
use anyhow::Context;
use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};
use std::time::Duration;

/// The advisory lock key that serialises sealing passes ("CSSEAL" in ASCII).
const SEAL_LOCK: i64 = 0x4353_5345_414c;
/// The previous hash of the first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// How many seals one INSERT writes.
const BATCH: usize = 2_000;

/// What a sealing pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SealReport {
    /// Entries sealed by this pass.
    pub sealed: u64,
    /// The chain position of the last sealed entry, if any.
    pub sealed_through: Option<i64>,
}

/// The bytes that are hashed for an entry at chain position `seq`: its formal fields as
/// compact JSON with sorted keys, without the chain fields themselves.
pub(crate) fn canonical(e: &StoredEntry, seq: i64) -> String {
    let mut v = e.to_json();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("prev_hash");
        obj.remove("hash");
        obj.insert("seq".into(), seq.into());
    }
    // serde_json's map is ordered by key, so this encoding is canonical.
    v.to_string()
}

/// `sha256(prev_hash "\n" canonical)` in lower-case hex.
pub(crate) fn link(prev_hash: &str, e: &StoredEntry, seq: i64) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical(e, seq).as_bytes());
    hex::encode(h.finalize())
}

/// Seals every settled, unsealed entry. Safe to run from several processes at once.
pub async fn seal(pool: &PgPool) -> anyhow::Result<SealReport> {
    let mut tx = pool.begin().await.context("starting a sealing pass")?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEAL_LOCK)
        .execute(&mut *tx)
        .await?;
    let last = sqlx::query("SELECT seq, hash, txid_bound::text AS bound FROM audit_seal ORDER BY seq DESC LIMIT 1")
        .fetch_optional(&mut *tx)
        .await?;
    let (mut seq, mut prev, lower) = match last {
        Some(r) => (
            r.try_get::<i64, _>("seq")?,
            r.try_get::<String, _>("hash")?,
            r.try_get::<String, _>("bound")?,
        ),
        None => (0, GENESIS.to_string(), "0".to_string()),
    };
    let upper: String = sqlx::query_scalar("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        .fetch_one(&mut *tx)
        .await?;
    let entries: Vec<StoredEntry> = sqlx::query(concat!(
        select_entries!(),
        " WHERE a.txid >= $1::xid8 AND a.txid < $2::xid8 ORDER BY a.txid, a.id"
    ))
    .bind(&lower)
    .bind(&upper)
    .fetch(&mut *tx)
    .map_err(anyhow::Error::from)
    .and_then(|row| async move { Ok(StoredEntry::from_row(&row)?) })
    .try_collect()
    .await
    .context("reading entries to seal")?;
    let sealed = entries.len() as u64;
    for chunk in entries.chunks(BATCH) {
        let mut seqs = Vec::with_capacity(chunk.len());
        let mut ids = Vec::with_capacity(chunk.len());
        let mut prevs = Vec::with_capacity(chunk.len());
        let mut hashes = Vec::with_capacity(chunk.len());
        for e in chunk {
            seq += 1;
            let hash = link(&prev, e, seq);
            seqs.push(seq);
            ids.push(e.id);
            prevs.push(std::mem::replace(&mut prev, hash.clone()));
            hashes.push(hash);
        }
        sqlx::query(
            "INSERT INTO audit_seal (seq, entry_id, prev_hash, hash, txid_bound) \
             SELECT s, e, p, h, $5::xid8 FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[]) AS t(s, e, p, h)",
        )
        .bind(&seqs)
        .bind(&ids)
        .bind(&prevs)
        .bind(&hashes)
        .bind(&upper)
        .execute(&mut *tx)
        .await
        .context("writing seals")?;
    }
    tx.commit().await.context("committing a sealing pass")?;
    Ok(SealReport {
        sealed,
        sealed_through: (seq > 0).then_some(seq),
    })
}

/// Seals in the background every `every`, until the returned handle is aborted. Failures are
/// logged and retried on the next tick: an unsealed entry is still in the log, only not yet chained.
pub fn spawn_sealer(pool: PgPool, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = seal(&pool).await {
                tracing::warn!(error = %format!("{e:#}"), "audit sealing pass failed; will retry");
            }
        }
    })
}

//! The formal export of the sealed log, as JSON lines or CSV.

use super::entry::StoredEntry;
use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::TryStreamExt;
use sqlx::PgPool;
use std::io::Write;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header row; `details` as a JSON string.
    Csv,
}

/// Which entries to export, by their `at` time: `since <= at < until`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ExportFilter {
    /// Inclusive lower bound.
    pub since: Option<DateTime<Utc>>,
    /// Exclusive upper bound.
    pub until: Option<DateTime<Utc>>,
}

const CSV_HEADER: [&str; 16] = [
    "seq",
    "id",
    "at",
    "actor",
    "identity",
    "action",
    "ref",
    "version",
    "rule",
    "policy_hash",
    "outcome",
    "reason",
    "details",
    "correlation_id",
    "prev_hash",
    "hash",
];

/// How much JSON a streamed export gathers before it hands a chunk on.
const CHUNK: usize = 64 * 1024;

/// The JSON-lines export of the sealed entries matching `filter`, as a stream of chunks (for an
/// HTTP response). A task of its own reads the log; it stops when the stream is dropped, and a
/// slow reader holds it back rather than filling memory.
pub fn jsonl_stream(
    pool: PgPool,
    filter: ExportFilter,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut rows = crate::store::audit::sealed_in_period(&pool, filter.since, filter.until);
        let mut buf = Vec::with_capacity(CHUNK);
        loop {
            let line = match rows.try_next().await {
                Ok(Some(e)) => serde_json::to_writer(&mut buf, &e.to_json()).map_err(anyhow::Error::from),
                Ok(None) => break,
                Err(e) => Err(e.into()),
            };
            if let Err(e) = line {
                tracing::warn!(error = %format!("{e:#}"), "streaming the audit log failed");
                let _ = tx
                    .send(Err(std::io::Error::other("reading the audit log failed")))
                    .await;
                return;
            }
            buf.push(b'\n');
            if buf.len() >= CHUNK && tx.send(Ok(std::mem::take(&mut buf))).await.is_err() {
                return;
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(Ok(buf)).await;
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) })
}

/// Writes every sealed entry matching `filter`, in chain order; returns how many.
pub async fn export(
    pool: &PgPool,
    format: ExportFormat,
    filter: ExportFilter,
    out: &mut dyn Write,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<u64> {
    let total = crate::store::audit::count_sealed_in_period(pool, filter.since, filter.until).await?;
    let total = total as u64;
    let n = match format {
        ExportFormat::Jsonl => {
            each_entry(pool, filter, total, &mut progress, |e| {
                serde_json::to_writer(&mut *out, &e.to_json())?;
                out.write_all(b"\n")?;
                Ok(())
            })
            .await?
        }
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(CSV_HEADER)?;
            let n = each_entry(pool, filter, total, &mut progress, |e| {
                Ok(w.write_record(csv_record(e))?)
            })
            .await?;
            w.flush()?;
            n
        }
    };
    out.flush().context("flushing the export")?;
    progress(n, total);
    Ok(n)
}

/// Streams the matching sealed entries in chain order into `sink`; returns how many.
async fn each_entry(
    pool: &PgPool,
    filter: ExportFilter,
    total: u64,
    progress: &mut impl FnMut(u64, u64),
    mut sink: impl FnMut(&StoredEntry) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut rows = crate::store::audit::sealed_in_period(pool, filter.since, filter.until);
    let mut n = 0u64;
    while let Some(e) = rows.try_next().await.context("reading the log")? {
        sink(&e)?;
        n += 1;
        if n % 4096 == 0 {
            progress(n, total);
        }
    }
    Ok(n)
}

fn csv_record(e: &StoredEntry) -> [String; 16] {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_default();
    [
        num(e.seq),
        e.id.to_string(),
        e.at_rfc3339(),
        opt(&e.actor),
        opt(&e.identity),
        e.action.clone(),
        opt(&e.r#ref),
        num(e.version.map(i64::from)),
        opt(&e.rule),
        opt(&e.policy_hash),
        e.outcome.clone(),
        opt(&e.reason),
        e.details.to_string(),
        opt(&e.correlation_id),
        opt(&e.prev_hash),
        opt(&e.hash),
    ]
}

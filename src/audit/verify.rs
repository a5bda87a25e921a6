//! Walks the whole chain and reports the first entry that does not hold.

use super::chain::{Linker, GENESIS};
use super::entry::StoredEntry;
use anyhow::Context;
use futures_util::TryStreamExt;
use sqlx::{PgPool, Row};
use std::fmt;

/// What is wrong with an entry of the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Problem {
    /// The entry's content no longer matches its hash: it was changed.
    HashMismatch,
    /// The entry's `prev_hash` is not the previous entry's hash: the chain was cut or reordered.
    BrokenLink,
    /// A chain position is missing (seals were removed).
    MissingSeq {
        /// The position that was expected here.
        expected: i64,
    },
    /// The sealed entry is gone from the log (deleted behind the triggers).
    MissingEntry {
        /// The insertion id the seal points at.
        entry_id: i64,
    },
    /// Entries old enough to be sealed are not: something was inserted behind the sealer's back.
    UnsealedOldEntries {
        /// How many.
        count: i64,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::HashMismatch => f.write_str("its content does not match its hash (the entry was changed)"),
            Problem::BrokenLink => f.write_str("its prev_hash is not the hash of the entry before it"),
            Problem::MissingSeq { expected } => write!(f, "chain position {expected} is missing"),
            Problem::MissingEntry { entry_id } => write!(f, "the log entry it seals (id {entry_id}) is missing"),
            Problem::UnsealedOldEntries { count } => {
                write!(
                    f,
                    "{count} entries older than the sealed chain are not in it (inserted behind its back)"
                )
            }
        }
    }
}

/// The result of a verification.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Entries checked.
    pub checked: u64,
    /// The last good position and its hash.
    pub sealed_through: Option<(i64, String)>,
    /// Entries written but not yet sealed (their transactions were still settling).
    pub unsealed: i64,
    /// The first bad entry: its chain position and what is wrong.
    pub first_bad: Option<(i64, Problem)>,
}

impl VerifyReport {
    /// Whether the chain holds.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Verifies the whole chain, calling `progress(done, total)` as it goes.
pub async fn verify(pool: &PgPool, mut progress: impl FnMut(u64, u64)) -> anyhow::Result<VerifyReport> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_seal")
        .fetch_one(pool)
        .await
        .context("counting sealed entries")?;
    let total = total as u64;
    let mut report = VerifyReport::default();
    let mut prev = GENESIS.to_string();
    let mut expected = 1i64;
    let mut linker = Linker::default();
    // Walk the seals in order through their index, joining each entry by id, so rows stream
    // from the first one on. Left to itself the planner hashes both tables and sorts the
    // result, which returns nothing until all of it is done and, on a small machine, takes the
    // cores the hashing here needs.
    let mut tx = pool.begin().await.context("starting the chain walk")?;
    sqlx::query(
        "SELECT set_config('max_parallel_workers_per_gather', '0', true), \
                set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), \
                set_config('enable_sort', 'off', true), set_config('jit', 'off', true)",
    )
    .execute(&mut *tx)
    .await
    .context("starting the chain walk")?;
    let mut rows = sqlx::query(CHAIN).fetch(&mut *tx);
    while let Some(row) = rows.try_next().await.context("reading the chain")? {
        let s = Sealed::from_row(&row).context("decoding the chain")?;
        let problem = if s.seq != expected {
            Some((expected, Problem::MissingSeq { expected }))
        } else if s.prev_hash != prev {
            Some((s.seq, Problem::BrokenLink))
        } else {
            match &s.entry {
                None => Some((s.seq, Problem::MissingEntry { entry_id: s.entry_id })),
                Some(entry) => {
                    (!linker.matches(&prev, entry, s.seq, &s.hash)).then_some((s.seq, Problem::HashMismatch))
                }
            }
        };
        if let Some(bad) = problem {
            report.sealed_through = (report.checked > 0).then(|| (expected - 1, prev));
            report.first_bad = Some(bad);
            return Ok(report);
        }
        report.checked += 1;
        expected += 1;
        if report.checked % 4096 == 0 {
            progress(report.checked, total);
        }
        prev = s.hash;
    }
    drop(rows);
    tx.commit().await.context("ending the chain walk")?;
    report.sealed_through = (report.checked > 0).then(|| (expected - 1, prev));
    progress(report.checked, total);
    let (unsealed, stray) = unsealed_counts(pool).await?;
    report.unsealed = unsealed;
    if stray > 0 {
        report.first_bad = Some((expected, Problem::UnsealedOldEntries { count: stray }));
    }
    Ok(report)
}

/// One seal and the entry it seals (`None` when the entry is gone).
struct Sealed {
    seq: i64,
    entry_id: i64,
    prev_hash: String,
    hash: String,
    entry: Option<StoredEntry>,
}

/// Every seal in chain order, with the entry it seals.
const CHAIN: &str = "SELECT s.seq AS chain_seq, s.entry_id AS sealed_id, s.prev_hash AS sealed_prev, \
     s.hash AS sealed_hash, a.id, s.seq, a.at, a.actor, a.identity, a.action, a.ref, a.version, \
     a.rule, a.policy_hash, a.outcome, a.reason, a.details, a.correlation_id, s.prev_hash, s.hash \
     FROM audit_seal s LEFT JOIN audit_log a ON a.id = s.entry_id ORDER BY s.seq";

impl Sealed {
    fn from_row(row: &sqlx::postgres::PgRow) -> Result<Sealed, sqlx::Error> {
        let present = row.try_get::<Option<i64>, _>("id")?.is_some();
        Ok(Sealed {
            seq: row.try_get("chain_seq")?,
            entry_id: row.try_get("sealed_id")?,
            prev_hash: row.try_get("sealed_prev")?,
            hash: row.try_get("sealed_hash")?,
            entry: if present {
                Some(StoredEntry::from_row(row)?)
            } else {
                None
            },
        })
    }
}

/// How many entries are written but not yet sealed.
pub async fn unsealed(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(unsealed_counts(pool).await?.0)
}

/// Entries not yet sealed, and entries that should have been (older than the last pass's bound).
async fn unsealed_counts(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    let row = sqlx::query(
        "WITH b AS (SELECT txid_bound FROM audit_seal ORDER BY seq DESC LIMIT 1) \
         SELECT \
           (SELECT count(*) FROM audit_log a WHERE a.txid >= coalesce((SELECT txid_bound FROM b), '0'::xid8)) AS unsealed, \
           (SELECT count(*) FROM audit_log a WHERE a.txid < (SELECT txid_bound FROM b) \
              AND NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.entry_id = a.id)) AS stray",
    )
    .fetch_one(pool)
    .await
    .context("counting unsealed entries")?;
    Ok((row.try_get("unsealed")?, row.try_get("stray")?))
}

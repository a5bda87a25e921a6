//! Walks the whole chain and reports the first entry that does not hold.

use super::chain::{Linker, GENESIS};
use crate::store::audit as store;
use anyhow::Context;
use futures_util::TryStreamExt;
use sqlx::PgPool;
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
pub async fn verify(pool: &PgPool, progress: impl FnMut(u64, u64)) -> anyhow::Result<VerifyReport> {
    verify_after(pool, None, progress).await
}

/// Verifies the chain after a position already verified (`(seq, hash)`: the link there is
/// taken as good), or the whole chain from its start. The digest verifies what was sealed since
/// the last digest this way, rather than the whole chain each time; `audit verify` walks it all.
pub async fn verify_after(
    pool: &PgPool,
    start: Option<(i64, String)>,
    mut progress: impl FnMut(u64, u64),
) -> anyhow::Result<VerifyReport> {
    let after = start.as_ref().map_or(0, |(seq, _)| *seq);
    let total = (store::count_sealed(pool).await? - after).max(0) as u64;
    let mut report = VerifyReport::default();
    let (mut expected, mut prev) = match start {
        Some((seq, hash)) => (seq + 1, hash),
        None => (1, GENESIS.to_string()),
    };
    let mut linker = Linker::default();
    let mut tx = pool.begin().await.context("starting the chain walk")?;
    store::stream_plan(&mut tx).await?;
    let mut rows = store::chain(&mut tx, after);
    while let Some(s) = rows.try_next().await.context("reading the chain")? {
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
            report.sealed_through = (expected > 1).then(|| (expected - 1, prev));
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
    report.sealed_through = (expected > 1).then(|| (expected - 1, prev));
    progress(report.checked, total);
    let (unsealed, stray) = unsealed_counts(pool).await?;
    report.unsealed = unsealed;
    if stray > 0 {
        report.first_bad = Some((expected, Problem::UnsealedOldEntries { count: stray }));
    }
    Ok(report)
}

/// How many entries are written but not yet sealed.
pub async fn unsealed(pool: &PgPool) -> anyhow::Result<i64> {
    Ok(unsealed_counts(pool).await?.0)
}

/// Entries not yet sealed, and entries that should have been (older than the last pass's bound).
async fn unsealed_counts(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    store::unsealed_counts(pool).await
}

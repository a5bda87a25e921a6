//! The hash chain: sealing settled entries in commit order, and the canonical encoding.
//!
//! Writers never wait for the chain. Each entry records the id of the transaction that wrote
//! it (`txid`). A sealing pass takes the oldest transaction still running (the snapshot's
//! xmin): every entry written by an older transaction has either committed or vanished, so
//! they can be chained now and no later commit can slip in before them. Sealing runs under an
//! advisory lock, so several replicas may run sealers safely.

use super::entry::StoredEntry;
use crate::store::audit as store;
use crate::store::locks::{self, Lock};
use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// The previous hash of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
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

/// An entry's formal fields at chain position `seq`, without the chain fields themselves, with
/// its members in sorted order: serialised compactly it is the canonical encoding (the same
/// bytes as the export object with sorted keys, less `prev_hash` and `hash`, plus `seq`), written
/// without building a JSON tree first.
#[derive(serde::Serialize)]
struct Canonical<'a> {
    action: &'a str,
    actor: &'a Option<String>,
    at: String,
    correlation_id: &'a Option<String>,
    details: &'a serde_json::Value,
    id: i64,
    identity: &'a Option<String>,
    outcome: &'a str,
    policy_hash: &'a Option<String>,
    reason: &'a Option<String>,
    r#ref: &'a Option<String>,
    rule: &'a Option<String>,
    seq: i64,
    version: Option<i32>,
}

impl<'a> Canonical<'a> {
    fn of(e: &'a StoredEntry, seq: i64) -> Self {
        Canonical {
            action: &e.action,
            actor: &e.actor,
            at: e.at_rfc3339(),
            correlation_id: &e.correlation_id,
            details: &e.details,
            id: e.id,
            identity: &e.identity,
            outcome: &e.outcome,
            policy_hash: &e.policy_hash,
            reason: &e.reason,
            r#ref: &e.r#ref,
            rule: &e.rule,
            seq,
            version: e.version,
        }
    }
}

/// The bytes that are hashed for an entry at chain position `seq`: its formal fields as
/// compact JSON with sorted keys, without the chain fields themselves.
#[cfg(test)]
pub(crate) fn canonical(e: &StoredEntry, seq: i64) -> String {
    serde_json::to_string(&Canonical::of(e, seq)).expect("an entry always serialises")
}

/// Hashes chain links, reusing one buffer for the bytes of every entry.
#[derive(Default)]
pub(crate) struct Linker {
    buf: Vec<u8>,
}

impl Linker {
    /// `sha256(prev_hash "\n" canonical)`.
    pub(crate) fn digest(&mut self, prev_hash: &str, e: &StoredEntry, seq: i64) -> [u8; 32] {
        self.buf.clear();
        self.buf.extend_from_slice(prev_hash.as_bytes());
        self.buf.push(b'\n');
        serde_json::to_writer(&mut self.buf, &Canonical::of(e, seq)).expect("an entry always serialises");
        Sha256::digest(&self.buf).into()
    }

    /// The link in lower-case hex, as stored.
    pub(crate) fn link(&mut self, prev_hash: &str, e: &StoredEntry, seq: i64) -> String {
        hex::encode(self.digest(prev_hash, e, seq))
    }

    /// Whether the link is `stored` (lower-case hex), without building the hex of the digest.
    pub(crate) fn matches(&mut self, prev_hash: &str, e: &StoredEntry, seq: i64, stored: &str) -> bool {
        let mut want = [0u8; 32];
        hex::decode_to_slice(stored, &mut want).is_ok()
            && stored.bytes().all(|b| !b.is_ascii_uppercase())
            && self.digest(prev_hash, e, seq) == want
    }
}

/// The chain hash of `entry` at position `seq` after `prev_hash`, as docs/audit.md defines it:
/// lower-case hex of `sha256(prev_hash "\n" canonical)`. Anyone can compute it (that is the
/// point of a published spec); what they cannot do is change a kept checkpoint.
pub fn link_hash(prev_hash: &str, entry: &StoredEntry, seq: i64) -> String {
    Linker::default().link(prev_hash, entry, seq)
}

/// Seals every settled, unsealed entry. Safe to run from several processes at once.
pub async fn seal(pool: &PgPool) -> anyhow::Result<SealReport> {
    let mut tx = pool.begin().await.context("starting a sealing pass")?;
    locks::for_transaction(&mut tx, Lock::Sealing).await?;
    let (mut seq, mut prev, lower) = match store::last_seal(&mut tx).await? {
        Some(last) => (last.seq, last.hash, last.bound),
        None => (0, GENESIS.to_string(), "0".to_string()),
    };
    let upper = store::settled_bound(&mut tx).await?;
    // Page through the entries in commit order, so memory stays bounded however many are due.
    let mut sealed = 0u64;
    let mut linker = Linker::default();
    let mut after: (String, i64) = (lower.clone(), 0);
    loop {
        let chunk = store::to_seal(&mut tx, &lower, &upper, (&after.0, after.1), BATCH as i64).await?;
        let Some(last) = chunk.last() else {
            break;
        };
        after = (last.txid.clone(), last.entry.id);
        sealed += chunk.len() as u64;
        let mut seqs = Vec::with_capacity(chunk.len());
        let mut ids = Vec::with_capacity(chunk.len());
        let mut prevs = Vec::with_capacity(chunk.len());
        let mut hashes = Vec::with_capacity(chunk.len());
        for e in chunk.iter().map(|c| &c.entry) {
            seq += 1;
            let hash = linker.link(&prev, e, seq);
            seqs.push(seq);
            ids.push(e.id);
            prevs.push(std::mem::replace(&mut prev, hash.clone()));
            hashes.push(hash);
        }
        let links = store::Links {
            seqs: &seqs,
            ids: &ids,
            prevs: &prevs,
            hashes: &hashes,
        };
        store::insert_seals(&mut tx, &links, &upper).await?;
    }
    tx.commit().await.context("committing a sealing pass")?;
    Ok(SealReport {
        sealed,
        sealed_through: (seq > 0).then_some(seq),
    })
}

/// Seals in the background every `every`, until `stop` is cancelled (a pass in hand is
/// finished). Failures are logged and retried on the next tick: an unsealed entry is still in
/// the log, only not yet chained.
pub fn spawn_sealer(
    tasks: &TaskTracker,
    pool: PgPool,
    every: Duration,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tasks.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tick.tick() => {}
            }
            if let Err(e) = seal(&pool).await {
                tracing::warn!(error = %format!("{e:#}"), "audit sealing pass failed; will retry");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    /// The definition the chain was first written with: the export object with sorted keys,
    /// less the chain fields, plus `seq`. The fast encoding must give the same bytes forever.
    fn reference(e: &StoredEntry, seq: i64) -> String {
        let mut v = e.to_json();
        let obj = v.as_object_mut().unwrap();
        obj.remove("prev_hash");
        obj.remove("hash");
        obj.insert("seq".into(), seq.into());
        v.to_string()
    }

    fn entry(details: serde_json::Value, filled: bool) -> StoredEntry {
        let some = |s: &str| filled.then(|| s.to_string());
        StoredEntry {
            id: 42,
            seq: None,
            at: Utc.with_ymd_and_hms(2026, 11, 30, 9, 15, 7).unwrap() + chrono::Duration::microseconds(123_456),
            actor: some("alice"),
            identity: some("slack:T0001/U0ALICE"),
            action: "vote.approve".into(),
            r#ref: some("INV-7"),
            version: filled.then_some(3),
            rule: some("large \"one\" \u{e9}\u{1F600}"),
            policy_hash: some("ab12"),
            outcome: "refused".into(),
            reason: some("self_approval"),
            details,
            correlation_id: some("slack-\n\t\u{7f}"),
            prev_hash: Some("00".into()),
            hash: Some("ff".into()),
        }
    }

    /// The fenced block after `<!-- example: NAME -->` in docs/audit.md.
    fn doc_example(doc: &str, name: &str) -> String {
        let marker = format!("<!-- example: {name} -->");
        let after = &doc[doc
            .find(&marker)
            .unwrap_or_else(|| panic!("docs/audit.md has no {marker}"))..];
        let body = &after[after.find('\n').unwrap() + 1..];
        let body = &body[body.find('\n').unwrap() + 1..]; // past the opening fence
        body[..body.find("\n```").unwrap()].to_string()
    }

    #[test]
    fn the_worked_example_in_docs_audit_md_is_what_the_chain_computes() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/audit.md")).unwrap();
        let e = StoredEntry {
            id: 1,
            seq: Some(1),
            at: Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).unwrap() + chrono::Duration::microseconds(123_456),
            actor: Some("alice".into()),
            identity: Some("slack:T0001/U0ALICE".into()),
            action: "request.opened".into(),
            r#ref: Some("INV-1".into()),
            version: Some(1),
            rule: Some("large".into()),
            policy_hash: Some("5d41402abc4b2a76b9719d911017c592".into()),
            outcome: "done".into(),
            reason: None,
            details: json!({
                "fields": { "vendor": "Müller \"Bau\" GmbH", "amount": { "minor": 1250000, "currency": "EUR" } },
                "message": "Request INV-1 opened.",
            }),
            correlation_id: None,
            prev_hash: Some(GENESIS.into()),
            hash: None,
        };
        let hash = Linker::default().link(GENESIS, &e, 1);
        let e = StoredEntry {
            hash: Some(hash.clone()),
            ..e
        };
        assert_eq!(doc_example(&doc, "export"), e.to_json().to_string());
        assert_eq!(doc_example(&doc, "canonical"), canonical(&e, 1));
        assert_eq!(doc_example(&doc, "hash"), hash);
        let bytes = canonical(&e, 1).len();
        assert!(
            doc.contains(&format!("one line, {bytes} bytes")),
            "docs/audit.md gives the byte count {bytes}"
        );
    }

    #[test]
    fn the_canonical_encoding_is_the_sorted_export_object_byte_for_byte() {
        let details = json!({ "z": [1, 2.5, -0.0, 1e300, null], "a": { "y": "\u{0}</script>", "b": true }, "m": "\\" });
        for e in [
            entry(details.clone(), true),
            entry(details, false),
            entry(json!({}), false),
        ] {
            for seq in [1, 987_654_321_012] {
                assert_eq!(canonical(&e, seq), reference(&e, seq));
            }
        }
    }
}

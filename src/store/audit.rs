//! The audit log's rows: entries as stored with their seals, the sealing pass's reads and
//! writes, the chain walk, exports by period and trails. The hashing and what it means live
//! in `audit/`; this is only how the rows are read and written.

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures_util::stream::BoxStream;
use serde_json::Value;
use sqlx::{PgConnection, PgExecutor, PgPool};

/// An entry as stored, with its place in the chain once sealed.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEntry {
    /// Insertion id (not the chain position).
    pub id: i64,
    /// Chain position, once sealed.
    pub seq: Option<i64>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Person id, or `None` for the system.
    pub actor: Option<String>,
    /// Identity acted through.
    pub identity: Option<String>,
    /// Action name.
    pub action: String,
    /// Request ref.
    pub r#ref: Option<String>,
    /// Request version.
    pub version: Option<i32>,
    /// Rule name.
    pub rule: Option<String>,
    /// Policy content hash.
    pub policy_hash: Option<String>,
    /// `done` or `refused`.
    pub outcome: String,
    /// Refusal reason.
    pub reason: Option<String>,
    /// Details object.
    pub details: Value,
    /// Correlation id of the inbound request.
    pub correlation_id: Option<String>,
    /// Hash of the previous sealed entry, once sealed.
    pub prev_hash: Option<String>,
    /// This entry's hash, once sealed.
    pub hash: Option<String>,
}

/// Every entry about one request, sealed or not yet, in the order they were written.
pub async fn trail(db: impl PgExecutor<'_>, r#ref: &str) -> anyhow::Result<Vec<StoredEntry>> {
    sqlx::query_as!(
        StoredEntry,
        r#"SELECT a.id, s.seq AS "seq?", a.at, a.actor, a.identity, a.action, a.ref AS "ref", a.version,
                  a.rule, a.policy_hash, a.outcome, a.reason, a.details, a.correlation_id,
                  s.prev_hash AS "prev_hash?", s.hash AS "hash?"
           FROM audit_log a LEFT JOIN audit_seal s ON s.entry_id = a.id
           WHERE a.ref = $1 ORDER BY a.id"#,
        r#ref
    )
    .fetch_all(db)
    .await
    .context("reading the audit trail")
}

/// The sealed entries of a period (either end open), in chain order, as they are read.
pub fn sealed_in_period<'a>(
    pool: &'a PgPool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> BoxStream<'a, Result<StoredEntry, sqlx::Error>> {
    sqlx::query_as!(
        StoredEntry,
        r#"SELECT a.id, s.seq AS "seq?", a.at, a.actor, a.identity, a.action, a.ref AS "ref", a.version,
                  a.rule, a.policy_hash, a.outcome, a.reason, a.details, a.correlation_id,
                  s.prev_hash AS "prev_hash?", s.hash AS "hash?"
           FROM audit_log a LEFT JOIN audit_seal s ON s.entry_id = a.id
           WHERE s.seq IS NOT NULL AND ($1::timestamptz IS NULL OR a.at >= $1)
             AND ($2::timestamptz IS NULL OR a.at < $2)
           ORDER BY s.seq"#,
        since,
        until
    )
    .fetch(pool)
}

/// How many sealed entries a period has.
pub async fn count_sealed_in_period(
    pool: &PgPool,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> anyhow::Result<i64> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM audit_seal s JOIN audit_log a ON a.id = s.entry_id
           WHERE ($1::timestamptz IS NULL OR a.at >= $1) AND ($2::timestamptz IS NULL OR a.at < $2)"#,
        since,
        until
    )
    .fetch_one(pool)
    .await
    .context("counting entries to export")
}

/// The last seal: its position, hash and the transaction bound its pass sealed up to.
pub struct LastSeal {
    /// Chain position.
    pub seq: i64,
    /// Its hash.
    pub hash: String,
    /// Entries of transactions below this bound were all sealed (an `xid8`, as text).
    pub bound: String,
}

/// The last seal, if any entry was ever sealed.
pub async fn last_seal(conn: &mut PgConnection) -> anyhow::Result<Option<LastSeal>> {
    sqlx::query_as!(
        LastSeal,
        r#"SELECT seq, hash, txid_bound::text AS "bound!" FROM audit_seal ORDER BY seq DESC LIMIT 1"#
    )
    .fetch_optional(conn)
    .await
    .context("reading the last seal")
}

/// The oldest transaction still running: entries of older ones have all settled.
pub async fn settled_bound(conn: &mut PgConnection) -> anyhow::Result<String> {
    sqlx::query_scalar!(r#"SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS "bound!""#)
        .fetch_one(conn)
        .await
        .context("reading the settled bound")
}

/// An entry to seal, with its transaction id (as text) for paging in commit order.
pub struct ToSeal {
    /// The entry's transaction.
    pub txid: String,
    /// The entry.
    pub entry: StoredEntry,
}

/// Up to `limit` unsealed entries of transactions in `[lower, upper)`, after `(txid, id)`, in
/// commit order.
pub async fn to_seal(
    conn: &mut PgConnection,
    lower: &str,
    upper: &str,
    after: (&str, i64),
    limit: i64,
) -> anyhow::Result<Vec<ToSeal>> {
    let rows = sqlx::query!(
        r#"SELECT a.txid::text AS "txid!", a.id, s.seq AS "seq?", a.at, a.actor, a.identity, a.action,
                  a.ref AS "ref", a.version, a.rule, a.policy_hash, a.outcome, a.reason, a.details,
                  a.correlation_id, s.prev_hash AS "prev_hash?", s.hash AS "hash?"
           FROM audit_log a LEFT JOIN audit_seal s ON s.entry_id = a.id
           WHERE a.txid >= $1::text::xid8 AND a.txid < $2::text::xid8
             AND (a.txid, a.id) > ($3::text::xid8, $4)
           ORDER BY a.txid, a.id LIMIT $5"#,
        lower,
        upper,
        after.0,
        after.1,
        limit
    )
    .fetch_all(conn)
    .await
    .context("reading entries to seal")?;
    Ok(rows
        .into_iter()
        .map(|r| ToSeal {
            txid: r.txid,
            entry: StoredEntry {
                id: r.id,
                seq: r.seq,
                at: r.at,
                actor: r.actor,
                identity: r.identity,
                action: r.action,
                r#ref: r.r#ref,
                version: r.version,
                rule: r.rule,
                policy_hash: r.policy_hash,
                outcome: r.outcome,
                reason: r.reason,
                details: r.details,
                correlation_id: r.correlation_id,
                prev_hash: r.prev_hash,
                hash: r.hash,
            },
        })
        .collect())
}

/// One sealing pass's new links, one array per column.
pub struct Links<'a> {
    /// Chain positions.
    pub seqs: &'a [i64],
    /// The entries sealed.
    pub ids: &'a [i64],
    /// Each link's previous hash.
    pub prevs: &'a [String],
    /// Each link's hash.
    pub hashes: &'a [String],
}

/// Writes a pass's links, all bounded by `upper`, through `countersign_seal`: the database
/// accepts only links that continue the chain, and the bot's role cannot write seals otherwise.
pub async fn insert_seals(conn: &mut PgConnection, links: &Links<'_>, upper: &str) -> anyhow::Result<()> {
    sqlx::query!(
        "SELECT countersign_seal($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text::xid8) AS sealed",
        links.seqs,
        links.ids,
        links.prevs,
        links.hashes,
        upper
    )
    .execute(conn)
    .await
    .context("writing seals")?;
    Ok(())
}

/// How many entries are sealed.
pub async fn count_sealed(pool: &PgPool) -> anyhow::Result<i64> {
    sqlx::query_scalar!(r#"SELECT count(*) AS "n!" FROM audit_seal"#)
        .fetch_one(pool)
        .await
        .context("counting sealed entries")
}

/// Turns the planner toward streaming the chain walk from its first row, for this transaction.
///
/// Walking the seals in order through their index, joining each entry by id, rows stream from
/// the first one on. Left to itself the planner hashes both tables and sorts the result, which
/// returns nothing until all of it is done and, on a small machine, takes the cores the
/// hashing of the walk needs.
pub async fn stream_plan(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query!(
        "SELECT set_config('max_parallel_workers_per_gather', '0', true) AS parallel,
                set_config('enable_hashjoin', 'off', true) AS hashjoin,
                set_config('enable_mergejoin', 'off', true) AS mergejoin,
                set_config('enable_sort', 'off', true) AS sort, set_config('jit', 'off', true) AS jit"
    )
    .fetch_one(conn)
    .await
    .context("starting the chain walk")?;
    Ok(())
}

/// One seal and the entry it seals (`None` when the entry is gone).
pub struct SealedRow {
    /// Chain position.
    pub seq: i64,
    /// The entry it seals.
    pub entry_id: i64,
    /// Previous hash.
    pub prev_hash: String,
    /// Hash.
    pub hash: String,
    /// The entry, when it is still there.
    pub entry: Option<StoredEntry>,
}

/// Every seal after position `after` (0: all of them) in chain order, with the entry it seals,
/// as they are read.
pub fn chain(conn: &mut PgConnection, after: i64) -> BoxStream<'_, Result<SealedRow, sqlx::Error>> {
    use futures_util::StreamExt;
    sqlx::query!(
        r#"SELECT s.seq, s.entry_id, s.prev_hash, s.hash,
                  a.id AS "id?", a.at AS "at?", a.actor, a.identity, a.action AS "action?", a.ref AS "ref",
                  a.version, a.rule, a.policy_hash, a.outcome AS "outcome?", a.reason,
                  a.details AS "details?", a.correlation_id
           FROM audit_seal s LEFT JOIN audit_log a ON a.id = s.entry_id WHERE s.seq > $1 ORDER BY s.seq"#,
        after
    )
    .fetch(conn)
    .map(|row| {
        row.map(|r| {
            let entry = match (r.id, r.at, r.action, r.outcome, r.details) {
                (Some(id), Some(at), Some(action), Some(outcome), Some(details)) => Some(StoredEntry {
                    id,
                    seq: Some(r.seq),
                    at,
                    actor: r.actor,
                    identity: r.identity,
                    action,
                    r#ref: r.r#ref,
                    version: r.version,
                    rule: r.rule,
                    policy_hash: r.policy_hash,
                    outcome,
                    reason: r.reason,
                    details,
                    correlation_id: r.correlation_id,
                    prev_hash: Some(r.prev_hash.clone()),
                    hash: Some(r.hash.clone()),
                }),
                _ => None,
            };
            SealedRow {
                seq: r.seq,
                entry_id: r.entry_id,
                prev_hash: r.prev_hash,
                hash: r.hash,
                entry,
            }
        })
    })
    .boxed()
}

/// Entries not yet sealed, and entries that should have been (older than the last pass's bound).
pub async fn unsealed_counts(pool: &PgPool) -> anyhow::Result<(i64, i64)> {
    let row = sqlx::query!(
        r#"WITH b AS (SELECT txid_bound FROM audit_seal ORDER BY seq DESC LIMIT 1)
         SELECT
           (SELECT count(*) FROM audit_log a WHERE a.txid >= coalesce((SELECT txid_bound FROM b), '0'::xid8)) AS "unsealed!",
           (SELECT count(*) FROM audit_log a WHERE a.txid < (SELECT txid_bound FROM b)
              AND NOT EXISTS (SELECT 1 FROM audit_seal s WHERE s.entry_id = a.id)) AS "stray!""#
    )
    .fetch_one(pool)
    .await
    .context("counting unsealed entries")?;
    Ok((row.unsealed, row.stray))
}

/// The content hash last recorded for the policy file `name` by entries of `action`.
pub async fn last_policy_hash(conn: &mut PgConnection, action: &str, name: &str) -> anyhow::Result<Option<String>> {
    let hash = sqlx::query_scalar!(
        "SELECT policy_hash FROM audit_log WHERE action = $1 AND details->>'name' = $2 ORDER BY id DESC LIMIT 1",
        action,
        name
    )
    .fetch_optional(conn)
    .await
    .context("reading the last policy load")?;
    Ok(hash.flatten())
}

/// The hash sealed at chain position `seq`, if there is one.
pub async fn seal_hash(pool: &PgPool, seq: i64) -> anyhow::Result<Option<String>> {
    sqlx::query_scalar!("SELECT hash FROM audit_seal WHERE seq = $1", seq)
        .fetch_optional(pool)
        .await
        .context("reading a seal")
}

/// The chain position the last digest verified the chain through, if a digest did.
pub async fn last_digest_verified(pool: &PgPool) -> anyhow::Result<Option<i64>> {
    let seq = sqlx::query_scalar!(
        r#"SELECT (details->>'chain_verified_through')::int8 AS "seq"
           FROM audit_log WHERE action = 'digest.sent' AND outcome = 'done'
             AND jsonb_typeof(details->'chain_verified_through') = 'number'
           ORDER BY id DESC LIMIT 1"#
    )
    .fetch_optional(pool)
    .await
    .context("reading the last digest's verified position")?;
    Ok(seq.flatten())
}

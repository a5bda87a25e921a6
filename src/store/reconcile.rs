//! Reads the state tables (requests, votes, decisions) against what the audit log says about
//! them, in one snapshot, and returns each difference as a row. What a difference means, and
//! how it is told, lives in `audit::reconcile`.

use anyhow::Context;
use sqlx::PgConnection;

/// One difference between the state tables and the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DifferenceRow {
    /// `not_opened`, `no_request`, `version`, `status`, `decision`, `vote_not_logged` or
    /// `vote_not_stored`.
    pub kind: String,
    /// The request's ref.
    pub r#ref: String,
    /// The version concerned (a vote's, or the request's as stored).
    pub version: Option<i32>,
    /// The voter, for a vote.
    pub who: Option<String>,
    /// What the state tables hold.
    pub state: Option<String>,
    /// What the log says.
    pub logged: Option<String>,
}

/// Makes the caller's transaction one read-only snapshot, so the state and the log are read as
/// of the same instant (they always commit together).
pub async fn snapshot(conn: &mut PgConnection) -> anyhow::Result<()> {
    sqlx::query!("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(conn)
        .await
        .context("starting a consistent read")?;
    Ok(())
}

/// Up to `limit` differences, ordered by ref.
///
/// The log's facts of each request: it was opened once (`request.opened`), its last version
/// (`request.opened`/`request.amended`), its final state (the one `request.<outcome>` entry),
/// and each vote (`vote.approve`/`vote.reject`, by actor and version). Only entries that took
/// effect (`done`) count.
pub async fn differences(conn: &mut PgConnection, limit: i64) -> anyhow::Result<Vec<DifferenceRow>> {
    sqlx::query_as!(
        DifferenceRow,
        r#"WITH log AS (
             SELECT ref, action, version, actor FROM audit_log
             WHERE outcome = 'done' AND ref IS NOT NULL
               AND action IN ('request.opened', 'request.amended', 'vote.approve', 'vote.reject',
                              'request.approved', 'request.rejected', 'request.cancelled', 'request.expired')),
           opened AS (
             SELECT ref, count(*) FILTER (WHERE action = 'request.opened') AS opens,
                    max(version) FILTER (WHERE action IN ('request.opened', 'request.amended')) AS version
             FROM log GROUP BY ref),
           finals AS (
             SELECT ref, array_agg(substr(action, 9) ORDER BY version) AS outcomes, max(version) AS version
             FROM log WHERE action IN ('request.approved', 'request.rejected', 'request.cancelled', 'request.expired')
             GROUP BY ref),
           logged_votes AS (
             SELECT ref, version, actor AS voter, substr(action, 6) AS kind FROM log WHERE action LIKE 'vote.%'),
           stored_votes AS (
             SELECT r.ref, v.version, v.voter, v.kind FROM votes v JOIN requests r ON r.id = v.request_id),
           found AS (
             SELECT 'not_opened' AS kind, r.ref, NULL::int4 AS version, NULL::text AS who,
                    NULL::text AS state, NULL::text AS logged
             FROM requests r LEFT JOIN opened o ON o.ref = r.ref WHERE coalesce(o.opens, 0) = 0
             UNION ALL
             SELECT 'no_request', o.ref, NULL, NULL, NULL, NULL
             FROM opened o WHERE o.opens > 0 AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.ref = o.ref)
             UNION ALL
             SELECT 'version', r.ref, r.version, NULL, r.version::text, o.version::text
             FROM requests r JOIN opened o ON o.ref = r.ref WHERE o.opens > 0 AND o.version IS DISTINCT FROM r.version
             UNION ALL
             SELECT 'status', r.ref, r.version, NULL, r.status, array_to_string(f.outcomes, ', ')
             FROM requests r LEFT JOIN finals f ON f.ref = r.ref
             WHERE (r.status = 'pending' AND f.outcomes IS NOT NULL)
                OR (r.status <> 'pending' AND f.outcomes IS DISTINCT FROM ARRAY[r.status::text])
             UNION ALL
             SELECT 'decision', r.ref, r.version, NULL,
                    CASE WHEN d.request_id IS NULL THEN NULL ELSE d.outcome || ' at version ' || d.version END,
                    CASE WHEN f.ref IS NULL THEN NULL ELSE array_to_string(f.outcomes, ', ') || ' at version ' || f.version END
             FROM requests r LEFT JOIN decisions d ON d.request_id = r.id LEFT JOIN finals f ON f.ref = r.ref
             WHERE (d.request_id IS NULL AND f.ref IS NOT NULL)
                OR (d.request_id IS NOT NULL AND (f.ref IS NULL OR f.outcomes IS DISTINCT FROM ARRAY[d.outcome::text]
                                                  OR f.version IS DISTINCT FROM d.version))
             UNION ALL
             SELECT 'vote_not_logged', ref, version, voter, kind, NULL
             FROM (SELECT * FROM stored_votes EXCEPT SELECT * FROM logged_votes) AS s
             UNION ALL
             SELECT 'vote_not_stored', ref, version, voter, NULL, kind
             FROM (SELECT * FROM logged_votes EXCEPT SELECT * FROM stored_votes) AS l)
           SELECT kind AS "kind!", ref AS "ref!", version, who, state, logged
           FROM found ORDER BY ref, kind, version, who LIMIT $1"#,
        limit
    )
    .fetch_all(conn)
    .await
    .context("comparing requests, votes and decisions with the audit log")
}

//! Effect targets: other Postgres databases, named in the environment
//! (`COUNTERSIGN_TARGET_<NAME>`, a secret URL), connected on first use; and the one place their
//! statements run. Effect statements come from policy files, so they are the one kind of SQL
//! here not checked when the crate compiles: they are prepared on their targets by
//! `countersign check --targets`, and always run with bound parameters.
//!
//! Exactly once is made by a ledger in the target: the statement and its row in
//! `countersign_effects` commit in one transaction there, under a lock on the effect's id, so a
//! second run (a retry, a replica, a restart after a crash) finds the row and does not run again.

use crate::effect::Bound;
use crate::policy::effect::TargetName;
use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::{PgArguments, PgPoolOptions};
use sqlx::{Arguments, PgPool, Row};
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

/// What `COUNTERSIGN_TARGET_` prefixes.
const PREFIX: &str = "COUNTERSIGN_TARGET_";

/// The targets this process may run effects on.
#[derive(Default)]
pub struct Targets {
    urls: BTreeMap<String, SecretString>,
    pools: Mutex<HashMap<String, PgPool>>,
}

impl std::fmt::Debug for Targets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URLs are secrets: only which variables are set.
        f.debug_struct("Targets")
            .field("set", &self.urls.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why a target cannot be used now.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// No URL is configured for it.
    #[error("no database is configured for target `{0}`: set {1}")]
    NotConfigured(String, String),
    /// Its URL does not read (the URL itself is never shown).
    #[error("{0} is not a valid postgres:// URL")]
    BadUrl(String),
    /// It could not be reached, or the connection broke: worth trying again later.
    #[error("target `{0}` cannot be reached: {1}")]
    Unreachable(String, String),
    /// The target refused the statement or the ledger (an error of the database): retrying the
    /// same statement gives the same answer.
    #[error("{0}")]
    Refused(String),
}

impl Targets {
    /// Every `COUNTERSIGN_TARGET_<NAME>` of the environment.
    pub fn from_env() -> Targets {
        Targets::from_vars(std::env::vars().filter(|(k, _)| k.starts_with(PREFIX)))
    }

    /// The targets of `(variable, url)` pairs.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Targets {
        Targets {
            urls: vars
                .into_iter()
                .filter(|(_, v)| !v.trim().is_empty())
                .map(|(k, v)| (k, SecretString::from(v)))
                .collect(),
            pools: Mutex::default(),
        }
    }

    /// The variables that are set (for `check --targets` and the start-up log; never the URLs).
    pub fn configured(&self) -> Vec<String> {
        self.urls.keys().cloned().collect()
    }

    /// A pool for `target`, created on first use; connections are opened when needed.
    pub fn pool(&self, target: &TargetName) -> Result<PgPool, TargetError> {
        let var = target.env_var();
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(pool) = pools.get(&var) {
            return Ok(pool.clone());
        }
        let url = self
            .urls
            .get(&var)
            .ok_or_else(|| TargetError::NotConfigured(target.to_string(), var.clone()))?;
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(5))
            .connect_lazy(url.expose_secret())
            .map_err(|_| TargetError::BadUrl(var.clone()))?;
        pools.insert(var, pool.clone());
        Ok(pool)
    }
}

/// One run of an effect on its target.
#[derive(Clone, Debug)]
pub struct Run<'a> {
    /// `INV-42@2`.
    pub effect_id: &'a str,
    /// The request.
    pub r#ref: &'a str,
    /// Its version.
    pub version: i32,
    /// The statement's hash, kept in the ledger.
    pub statement_sha256: &'a str,
    /// The statement with `$n` parameters.
    pub positional: &'a str,
    /// The parameters, in order.
    pub params: &'a [Bound],
    /// The row count it must change, if any.
    pub expect_rows: Option<u64>,
}

/// What a run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ran {
    /// It ran now, changing this many rows, and its ledger row committed with it.
    Now(u64),
    /// Its ledger row was already there: it had run (changing this many rows).
    Before(u64),
    /// It changed another number of rows than expected, and was rolled back.
    WrongCount {
        /// How many it would have changed.
        rows: u64,
        /// How many were expected.
        expected: u64,
    },
}

fn arguments(params: &[Bound]) -> Result<PgArguments, TargetError> {
    let mut args = PgArguments::default();
    let added = params.iter().try_for_each(|p| match p {
        Bound::Numeric(v) => args.add(*v),
        Bound::Bigint(v) => args.add(*v),
        Bound::Date(v) => args.add(*v),
        Bound::Text(v) => args.add(v.clone()),
        Bound::TextArray(v) => args.add(v.clone()),
        Bound::Timestamptz(v) => args.add(*v),
    });
    added.map_err(|e| TargetError::Refused(format!("a parameter cannot be bound: {e}")))?;
    Ok(args)
}

/// Sorts a database error: the target's own refusals are final, the rest is worth a retry.
fn classify(target: &str, e: sqlx::Error) -> TargetError {
    match e {
        sqlx::Error::Database(db) => TargetError::Refused(db.message().to_string()),
        other => TargetError::Unreachable(target.to_string(), other.to_string()),
    }
}

/// Runs the effect once: under a lock on its id, skipped when its ledger row is there, else the
/// statement and the ledger row in one transaction of the target.
pub async fn execute(pool: &PgPool, target: &str, run: &Run<'_>) -> Result<Ran, TargetError> {
    let e = |err| classify(target, err);
    let mut tx = pool.begin().await.map_err(e)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(run.effect_id)
        .execute(&mut *tx)
        .await
        .map_err(e)?;
    let before: Option<i64> = sqlx::query_scalar("SELECT rows FROM countersign_effects WHERE effect_id = $1")
        .bind(run.effect_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|err| ledger_missing(target, err))?;
    if let Some(rows) = before {
        tx.commit().await.map_err(e)?;
        return Ok(Ran::Before(u64::try_from(rows).unwrap_or_default()));
    }
    let done = sqlx::query_with(run.positional, arguments(run.params)?)
        .execute(&mut *tx)
        .await
        .map_err(e)?;
    let rows = done.rows_affected();
    if let Some(expected) = run.expect_rows.filter(|n| *n != rows) {
        tx.rollback().await.map_err(e)?;
        return Ok(Ran::WrongCount { rows, expected });
    }
    sqlx::query(
        "INSERT INTO countersign_effects (effect_id, ref, version, statement_sha256, rows) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(run.effect_id)
    .bind(run.r#ref)
    .bind(run.version)
    .bind(run.statement_sha256)
    .bind(i64::try_from(rows).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await
    .map_err(e)?;
    tx.commit().await.map_err(e)?;
    Ok(Ran::Now(rows))
}

/// A missing ledger is the operator's to create (or the bot's, when it may): said so.
fn ledger_missing(target: &str, err: sqlx::Error) -> TargetError {
    match &err {
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => TargetError::Refused(format!(
            "target `{target}` has no ledger table countersign_effects: run deploy/sql/target.sql there"
        )),
        _ => classify(target, err),
    }
}

/// Creates the ledger when it is missing and the role may create tables (else the operator runs
/// deploy/sql/target.sql).
pub async fn ensure_ledger(pool: &PgPool, target: &str) -> Result<(), TargetError> {
    let e = |err| classify(target, err);
    let exists: bool = sqlx::query("SELECT to_regclass('countersign_effects') IS NOT NULL AS present")
        .fetch_one(pool)
        .await
        .map_err(e)?
        .get("present");
    if exists {
        return Ok(());
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS countersign_effects (effect_id text PRIMARY KEY, ref text NOT NULL, \
         version integer NOT NULL, statement_sha256 text NOT NULL, rows bigint NOT NULL, \
         executed_at timestamptz NOT NULL DEFAULT now())",
    )
    .execute(pool)
    .await
    .map(|_| ())
    .map_err(|err| ledger_missing(target, err))
}

/// Runs the statement in a transaction that is rolled back: how many rows it would change, or the
/// target's refusal.
pub async fn preview(pool: &PgPool, target: &str, positional: &str, params: &[Bound]) -> Result<u64, TargetError> {
    let e = |err| classify(target, err);
    let mut tx = pool.begin().await.map_err(e)?;
    let done = sqlx::query_with(positional, arguments(params)?)
        .execute(&mut *tx)
        .await
        .map_err(e)?;
    tx.rollback().await.map_err(e)?;
    Ok(done.rows_affected())
}

/// Prepares the statement on the target without running it (`check --targets`).
pub async fn prepare(pool: &PgPool, target: &str, positional: &str) -> Result<(), TargetError> {
    use sqlx::Executor;
    let mut conn = pool.acquire().await.map_err(|err| classify(target, err))?;
    conn.prepare(positional)
        .await
        .map(|_| ())
        .map_err(|err| classify(target, err))
}

/// Runs an effect on the bot's own database, inside the caller's transaction (the deciding
/// one), under a savepoint: a refusal or a wrong row count undoes the effect alone, and the
/// decision still commits with the effect recorded as failed. The decision's row is the ledger.
pub async fn execute_here(
    conn: &mut sqlx::PgConnection,
    positional: &str,
    params: &[Bound],
    expect_rows: Option<u64>,
) -> Result<Ran, TargetError> {
    use sqlx::Connection;
    let e = |err| classify(crate::policy::effect::OWN_DATABASE, err);
    let mut savepoint = conn.begin().await.map_err(e)?;
    let done = match sqlx::query_with(positional, arguments(params)?)
        .execute(&mut *savepoint)
        .await
    {
        Ok(done) => done,
        Err(err) => {
            savepoint.rollback().await.map_err(e)?;
            return Err(e(err));
        }
    };
    let rows = done.rows_affected();
    if let Some(expected) = expect_rows.filter(|n| *n != rows) {
        savepoint.rollback().await.map_err(e)?;
        return Ok(Ran::WrongCount { rows, expected });
    }
    savepoint.commit().await.map_err(e)?;
    Ok(Ran::Now(rows))
}

/// Runs the statement on the bot's own database under a savepoint that is always rolled back
/// (a preview): how many rows it would change, or the refusal.
pub async fn preview_here(
    conn: &mut sqlx::PgConnection,
    positional: &str,
    params: &[Bound],
) -> Result<u64, TargetError> {
    use sqlx::Connection;
    let e = |err| classify(crate::policy::effect::OWN_DATABASE, err);
    let mut savepoint = conn.begin().await.map_err(e)?;
    let done = sqlx::query_with(positional, arguments(params)?)
        .execute(&mut *savepoint)
        .await;
    savepoint.rollback().await.map_err(e)?;
    Ok(done.map_err(e)?.rows_affected())
}

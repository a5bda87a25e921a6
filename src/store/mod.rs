//! Postgres access: connecting, migrations, and the rows of requests, versions, votes,
//! decisions and idempotency keys. Functions take a connection (usually a transaction) so
//! that a use case composes several of them into one atomic change.

pub mod audit;
pub mod chat_messages;
pub mod checkpoints;
pub mod digest;
pub mod effects;
pub mod idempotency;
pub mod locks;
pub mod outbox;
pub mod reconcile;
pub mod request_effects;
pub mod requests;
pub mod snapshot;
pub mod targets;
pub mod types;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// The embedded, forward-only migrations.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pooled connection idle for longer than this is checked before it is handed out.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Connects to Postgres with a pool of at most `max` connections.
///
/// The pool already checks every connection when it is returned, and drops it if it broke; by
/// default it also checks each one again when it is handed out, a second round trip on every
/// transaction. Only connections that sat idle for a while (where the server may have gone
/// away since) are checked here.
pub async fn connect(url: &str, max: u32) -> anyhow::Result<PgPool> {
    let options = PgConnectOptions::from_str(url)
        .context("DATABASE_URL is not a valid postgres:// URL")?
        .application_name("countersign");
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(10))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= CHECK_IDLE_AFTER {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .context(
            "cannot connect to Postgres: check DATABASE_URL and that the server is running \
             (scripts/with-postgres starts a private one)",
        )
}

/// Applies every pending migration.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR.run(pool).await.context("applying database migrations")
}

/// Whether every embedded migration has been applied.
pub async fn migrations_current(pool: &PgPool) -> anyhow::Result<bool> {
    let applied: Vec<i64> = sqlx::query_scalar!("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(pool)
        .await
        .unwrap_or_default();
    Ok(MIGRATOR.iter().all(|m| applied.contains(&m.version)))
}

/// Whether the database answers.
pub async fn ping(pool: &PgPool) -> bool {
    sqlx::query_scalar!("SELECT 1 AS one").fetch_one(pool).await.is_ok()
}

/// The chain position of the last sealed audit entry, if any.
pub async fn sealed_through(pool: &PgPool) -> anyhow::Result<Option<i64>> {
    sqlx::query_scalar!("SELECT max(seq) FROM audit_seal")
        .fetch_one(pool)
        .await
        .context("reading the sealed position")
}

/// The name of the demo's own database.
pub const DEMO_DATABASE: &str = "countersign_demo";

/// Drops and creates the demo's database, on a connection to the server's maintenance database.
pub async fn recreate_demo_database(admin: &mut sqlx::PgConnection) -> anyhow::Result<()> {
    // The name is a constant, never input: an identifier cannot be bound, and this one is fixed.
    sqlx::query!("DROP DATABASE IF EXISTS countersign_demo WITH (FORCE)")
        .execute(&mut *admin)
        .await
        .context("dropping the previous demo database")?;
    sqlx::query!("CREATE DATABASE countersign_demo")
        .execute(&mut *admin)
        .await
        .context("creating the demo database")?;
    Ok(())
}

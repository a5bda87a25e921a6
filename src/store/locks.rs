//! Advisory locks, by name: each is a `PgAdvisoryLock` whose key sqlx derives from its name,
//! so no bare number stands for a lock anywhere and two locks cannot collide by accident.

use anyhow::Context;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgAdvisoryLock, PgAdvisoryLockGuard, PgAdvisoryLockKey};
use sqlx::{PgConnection, PgPool, Postgres};
use std::sync::LazyLock;

/// The locks Countersign takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// One sealing pass at a time, across every replica.
    Sealing,
    /// One writer of policy-load records at a time.
    PolicyLoad,
    /// One replica holds the Discord gateway connection.
    DiscordGateway,
}

impl Lock {
    fn advisory(self) -> &'static PgAdvisoryLock {
        static SEALING: LazyLock<PgAdvisoryLock> = LazyLock::new(|| PgAdvisoryLock::new("countersign.audit.sealing"));
        static POLICY_LOAD: LazyLock<PgAdvisoryLock> = LazyLock::new(|| PgAdvisoryLock::new("countersign.policy.load"));
        static DISCORD_GATEWAY: LazyLock<PgAdvisoryLock> =
            LazyLock::new(|| PgAdvisoryLock::new("countersign.discord.gateway"));
        match self {
            Lock::Sealing => &SEALING,
            Lock::PolicyLoad => &POLICY_LOAD,
            Lock::DiscordGateway => &DISCORD_GATEWAY,
        }
    }

    fn key(self) -> i64 {
        match self.advisory().key() {
            PgAdvisoryLockKey::BigInt(k) => *k,
            // `PgAdvisoryLock::new` always makes a single 64-bit key.
            PgAdvisoryLockKey::IntPair(a, b) => (i64::from(*a) << 32) | i64::from(*b as u32),
            _ => unreachable!("PgAdvisoryLock::new makes a 64-bit key"),
        }
    }
}

/// Takes `lock` until the caller's transaction ends (waiting for it if another holds it).
pub async fn for_transaction(conn: &mut PgConnection, lock: Lock) -> anyhow::Result<()> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", lock.key())
        .execute(conn)
        .await
        .with_context(|| format!("taking the {lock:?} lock"))?;
    Ok(())
}

/// A lock held by a connection of its own until released (or the connection ends).
pub type Held = PgAdvisoryLockGuard<'static, PoolConnection<Postgres>>;

/// Takes `lock` on a connection of its own, if nobody holds it.
pub async fn try_hold(pool: &PgPool, lock: Lock) -> anyhow::Result<Option<Held>> {
    let conn = pool.acquire().await.context("connecting to hold a lock")?;
    let attempt = lock
        .advisory()
        .try_acquire(conn)
        .await
        .with_context(|| format!("trying the {lock:?} lock"))?;
    Ok(attempt.left())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_lock_has_its_own_key() {
        let keys = [Lock::Sealing, Lock::PolicyLoad, Lock::DiscordGateway].map(Lock::key);
        assert!(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2]);
    }
}

//! Shared by the benches: a fresh database per run, settings from the environment, percentiles,
//! the process's memory, and the report (a table, then one JSON object as the last line).
#![allow(dead_code)]

use anyhow::Context;
use countersign::store;
use sqlx::{Connection, PgConnection, PgPool};
use std::time::Duration;

/// `DATABASE_URL`, or a message saying how to get one.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        eprintln!("DATABASE_URL is not set: run the bench as `scripts/with-postgres cargo bench --bench ...`");
        std::process::exit(2)
    })
}

/// The same server URL with another database name (query parameters kept).
pub fn url_of(base: &str, db: &str) -> String {
    let (head, tail) = base.split_once("://").unwrap_or(("postgres", base));
    let (authority, rest) = tail.split_once('/').unwrap_or((tail, ""));
    let query = rest.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    format!("{head}://{authority}/{db}{query}")
}

/// Drops and creates database `db` on the server of `base` (its sessions are ended first).
pub async fn recreate(base: &str, db: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        db.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
        "not a bench database name: {db}"
    );
    let mut admin = PgConnection::connect(base)
        .await
        .context("connecting to DATABASE_URL")?;
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .execute(&mut admin)
        .await?;
    sqlx::raw_sql(&format!("CREATE DATABASE {db}"))
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    Ok(())
}

/// A fresh, migrated database `db`, and a pool of `max` connections to it.
pub async fn fresh_database(base: &str, db: &str, max: u32) -> anyhow::Result<(String, PgPool)> {
    recreate(base, db).await?;
    let url = url_of(base, db);
    let pool = store::connect(&url, max).await?;
    store::migrate(&pool).await?;
    Ok((url, pool))
}

/// A whole-number setting from the environment (`BENCH_CLIENTS=40`), or its default.
pub fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| {
            eprintln!("{name} must be a whole number, not {v:?}");
            std::process::exit(2)
        }),
        Err(_) => default,
    }
}

/// The `p`-th percentile (0..=100) of `sorted`, nearest rank; 0 when empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds, as a float.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A line of /proc/self/status in MiB (`VmHWM`: peak resident set; `VmRSS`: current).
pub fn proc_status_mb(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Rounds to `digits` decimals for the report.
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Prints `rows` as a two-column table under `title`.
pub fn table(title: &str, rows: &[(&str, String)]) {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!("\n{title}");
    println!("{}", "-".repeat(title.len()));
    for (k, v) in rows {
        println!("{k:<width$}  {v}");
    }
}

/// Entries per second.
pub fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

//! Prometheus metrics: counters the code bumps as things happen, and gauges read from the
//! database at scrape time (outbox depth, oldest undelivered message, the sealed chain).

use sqlx::PgPool;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// A metric name and its label pairs.
type Key = (&'static str, Vec<(&'static str, String)>);

#[derive(Default)]
struct Registry {
    counters: BTreeMap<Key, u64>,
    /// (sum of seconds, count) per key.
    timings: BTreeMap<Key, (f64, u64)>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn labels(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
}

/// Adds one to a counter.
pub fn count(name: &'static str, pairs: &[(&'static str, &str)]) {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    *r.counters.entry((name, labels(pairs))).or_default() += 1;
}

/// Records how long something took.
pub fn time(name: &'static str, pairs: &[(&'static str, &str)], took: Duration) {
    let mut r = registry().lock().unwrap_or_else(|p| p.into_inner());
    let e = r.timings.entry((name, labels(pairs))).or_default();
    e.0 += took.as_secs_f64();
    e.1 += 1;
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn series(name: &str, suffix: &str, labels: &[(&'static str, String)]) -> String {
    if labels.is_empty() {
        return format!("countersign_{name}{suffix}");
    }
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    format!("countersign_{name}{suffix}{{{}}}", l.join(","))
}

const HELP: &[(&str, &str, &str)] = &[
    (
        "http_requests_total",
        "counter",
        "Inbound platform requests by platform and outcome.",
    ),
    (
        "decisions_total",
        "counter",
        "Requests reaching a final state, by workflow and outcome.",
    ),
    ("refusals_total", "counter", "Refused attempts by reason."),
    (
        "deliveries_total",
        "counter",
        "Outbox delivery attempts by platform and result.",
    ),
    ("dead_letters_total", "counter", "Messages given up on."),
    ("platform_rate_limited_total", "counter", "429 answers from a platform."),
    (
        "platform_timeouts_total",
        "counter",
        "Platform API calls abandoned for want of an answer within their timeout.",
    ),
    ("platform_api_seconds", "summary", "Platform API call latency."),
];

/// The exposition text: counters, timings, and gauges read from the database now.
pub async fn render(pool: &PgPool) -> String {
    let mut out = String::new();
    {
        let r = registry().lock().unwrap_or_else(|p| p.into_inner());
        for (name, kind, help) in HELP {
            let _ = writeln!(
                out,
                "# HELP countersign_{name} {help}\n# TYPE countersign_{name} {kind}"
            );
            for ((n, l), v) in r.counters.iter().filter(|((n, _), _)| n == name) {
                let _ = writeln!(out, "{} {v}", series(n, "", l));
            }
            for ((n, l), (sum, c)) in r.timings.iter().filter(|((n, _), _)| n == name) {
                let _ = writeln!(out, "{} {sum}\n{} {c}", series(n, "_sum", l), series(n, "_count", l));
            }
        }
    }
    let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP countersign_{name} {help}\n# TYPE countersign_{name} gauge\ncountersign_{name} {value}"
        );
    };
    let row: Option<(i64, Option<f64>)> = sqlx::query_as(
        "SELECT count(*), EXTRACT(EPOCH FROM (now() - min(created_at)))::float8 FROM outbox \
         WHERE delivered_at IS NULL AND dead_at IS NULL",
    )
    .fetch_one(pool)
    .await
    .ok();
    let up = row.is_some();
    gauge(
        &mut out,
        "database_up",
        "1 when the database answered this scrape.",
        if up { 1.0 } else { 0.0 },
    );
    if let Some((depth, oldest)) = row {
        gauge(&mut out, "outbox_depth", "Messages waiting for delivery.", depth as f64);
        gauge(
            &mut out,
            "outbox_oldest_seconds",
            "Age of the oldest undelivered message.",
            oldest.unwrap_or(0.0),
        );
    }
    if let Ok(Some(seq)) = sqlx::query_scalar::<_, Option<i64>>("SELECT max(seq) FROM audit_seal")
        .fetch_one(pool)
        .await
    {
        gauge(
            &mut out,
            "audit_sealed_through",
            "Chain position of the last sealed audit entry.",
            seq as f64,
        );
    }
    gauge(
        &mut out,
        "db_pool_connections",
        "Open database connections.",
        f64::from(pool.size()),
    );
    gauge(
        &mut out,
        "db_pool_idle",
        "Idle database connections.",
        pool.num_idle() as f64,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(
            series("x", "", &[("a", "b\"c".to_string())]),
            "countersign_x{a=\"b\\\"c\"}"
        );
        assert_eq!(series("x", "_sum", &[]), "countersign_x_sum");
    }
}

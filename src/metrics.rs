//! Prometheus metrics: counters and latency histograms recorded through the `metrics` facade
//! into one process-wide Prometheus recorder, and gauges read from the database at scrape time
//! (outbox depth, oldest undelivered message, the sealed chain).
//!
//! Every family is named and described here, and each counter whose label values are known in
//! advance starts at zero, so that `increase()` sees the first event after a restart.

use crate::approval::{RefusalReason, Status, VoteKind};
use ::metrics::{counter, describe_counter, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use sqlx::PgPool;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::Duration;

const HTTP_REQUESTS: &str = "countersign_http_requests_total";
const DECISIONS: &str = "countersign_decisions_total";
const REFUSALS: &str = "countersign_refusals_total";
const DELIVERIES: &str = "countersign_deliveries_total";
const DEAD_LETTERS: &str = "countersign_dead_letters_total";
const RATE_LIMITED: &str = "countersign_platform_rate_limited_total";
const TIMEOUTS: &str = "countersign_platform_timeouts_total";
const CHECKPOINTS: &str = "countersign_audit_checkpoints_total";
const HTTP_SECONDS: &str = "countersign_http_request_seconds";
const VOTE_SECONDS: &str = "countersign_vote_seconds";
const DELIVERY_SECONDS: &str = "countersign_delivery_seconds";
const PLATFORM_API_SECONDS: &str = "countersign_platform_api_seconds";

/// Every counter and its HELP text.
const COUNTERS: &[(&str, &str)] = &[
    (
        HTTP_REQUESTS,
        "Inbound platform and API requests by platform and outcome.",
    ),
    (DECISIONS, "Requests reaching a final state, by workflow and outcome."),
    (REFUSALS, "Refused attempts by reason."),
    (DELIVERIES, "Outbox delivery attempts by intent kind and result."),
    (DEAD_LETTERS, "Messages given up on."),
    (RATE_LIMITED, "429 answers from a platform."),
    (
        TIMEOUTS,
        "Platform API calls abandoned for want of an answer within their timeout.",
    ),
    (
        CHECKPOINTS,
        "Background rounds of the audit chain by result: signed (a checkpoint), skipped (nothing new), verified (no receipt key: verified, nothing signed), broken (the chain failed its verification: nothing signed), failed (could not verify, sign or keep it).",
    ),
];

/// Every histogram and its HELP text; all are in seconds.
const HISTOGRAMS: &[(&str, &str)] = &[
    (
        HTTP_SECONDS,
        "Time to answer an inbound platform or API request, by platform.",
    ),
    (VOTE_SECONDS, "Time to record a vote (or refuse it), by vote kind."),
    (
        DELIVERY_SECONDS,
        "Time from the start of a delivery round to a message's result, or to its abandonment at the deadline, by intent kind.",
    ),
    (PLATFORM_API_SECONDS, "Platform API call latency."),
];

/// Upper bounds of the latency buckets, in seconds: from an answer out of memory to the longest
/// anything is waited on (a delivery round's deadline).
const BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// How often histogram samples are folded into their buckets when nobody scrapes: until then
/// they are kept one by one.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The `platform` label of inbound requests.
const INBOUND: [&str; 3] = ["slack", "discord", "api"];
/// The `outcome` label of inbound requests (http.rs sorts answers into these).
const HTTP_OUTCOMES: [&str; 6] = ["ok", "unauthorized", "forbidden", "too_large", "bad_request", "error"];
/// The platforms whose APIs are called.
const PLATFORMS: [&str; 2] = ["slack", "discord"];
/// The `result` label of deliveries.
const DELIVERY_RESULTS: [&str; 4] = ["delivered", "rate_limited", "failed", "refused"];
/// The `result` label of checkpoint attempts.
pub const CHECKPOINT_RESULTS: [&str; 5] = ["signed", "skipped", "verified", "broken", "failed"];
/// The final states a decision is counted in.
const FINAL: [Status; 4] = [Status::Approved, Status::Rejected, Status::Cancelled, Status::Expired];

/// The process's recorder, installed as the global one on first use. Servers started by tests
/// in one process share it, and each one's `/metrics` renders from this one handle.
pub fn install() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = recorder();
        let handle = recorder.handle();
        if let Err(e) = ::metrics::set_global_recorder(recorder) {
            tracing::error!(error = %e, "another metrics recorder is installed: /metrics will miss the counters and histograms");
        }
        spawn_upkeep(handle.clone());
        handle
    })
}

/// A recorder with the histogram buckets set, every family described and the counters of
/// known label sets at zero.
fn recorder() -> PrometheusRecorder {
    let builder = with_buckets(PrometheusBuilder::new()).unwrap_or_else(|e| {
        tracing::error!(error = %e, "latency buckets rejected: histograms are exported as summaries");
        PrometheusBuilder::new()
    });
    let recorder = builder.build_recorder();
    ::metrics::with_local_recorder(&recorder, register);
    recorder
}

fn with_buckets(builder: PrometheusBuilder) -> Result<PrometheusBuilder, BuildError> {
    HISTOGRAMS.iter().try_fold(builder, |b, (name, _)| {
        b.set_buckets_for_metric(Matcher::Full((*name).to_owned()), BUCKETS)
    })
}

fn register() {
    for (name, help) in COUNTERS {
        describe_counter!(*name, Unit::Count, *help);
    }
    for (name, help) in HISTOGRAMS {
        describe_histogram!(*name, Unit::Seconds, *help);
    }
    for platform in INBOUND {
        for outcome in HTTP_OUTCOMES {
            counter!(HTTP_REQUESTS, "platform" => platform, "outcome" => outcome).increment(0);
        }
    }
    for reason in RefusalReason::ALL {
        counter!(REFUSALS, "reason" => reason.as_str()).increment(0);
    }
    for kind in crate::outbox::Intent::KINDS {
        for result in DELIVERY_RESULTS {
            counter!(DELIVERIES, "kind" => kind, "result" => result).increment(0);
        }
    }
    counter!(DEAD_LETTERS).increment(0);
    for platform in PLATFORMS {
        counter!(RATE_LIMITED, "platform" => platform).increment(0);
    }
    // Only the Slack client has a timeout of its own; Discord's slow calls end as failures.
    counter!(TIMEOUTS, "platform" => "slack").increment(0);
    for result in CHECKPOINT_RESULTS {
        counter!(CHECKPOINTS, "result" => result).increment(0);
    }
}

/// A checkpoint attempt's result, one of [`CHECKPOINT_RESULTS`].
pub fn checkpoint(result: &'static str) {
    install();
    counter!(CHECKPOINTS, "result" => result).increment(1);
}

/// Histogram samples wait in the recorder until drained; a scrape drains them, and so does
/// this, so that a server nobody scrapes does not grow. A thread, not a task: the recorder
/// outlives any one runtime.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_EVERY);
            handle.run_upkeep();
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "no metrics upkeep thread: histogram samples are folded only when scraped");
    }
}

/// Zeroes the decision counters of these workflows: their names are known only once
/// commands/ is loaded.
pub fn workflows<'a>(names: impl IntoIterator<Item = &'a str>) {
    install();
    for workflow in names {
        for status in FINAL {
            counter!(DECISIONS, "workflow" => workflow.to_owned(), "outcome" => status.as_str()).increment(0);
        }
    }
}

/// Counts an inbound request and times its handling.
pub fn http_request(platform: &'static str, outcome: &'static str, took: Duration) {
    debug_assert!(
        INBOUND.contains(&platform) && HTTP_OUTCOMES.contains(&outcome),
        "not zeroed at start"
    );
    install();
    counter!(HTTP_REQUESTS, "platform" => platform, "outcome" => outcome).increment(1);
    histogram!(HTTP_SECONDS, "platform" => platform).record(took);
}

/// Counts a request reaching a final state.
pub fn decision(workflow: &str, outcome: Status) {
    install();
    counter!(DECISIONS, "workflow" => workflow.to_owned(), "outcome" => outcome.as_str()).increment(1);
}

/// Counts a refused attempt.
pub fn refusal(reason: RefusalReason) {
    debug_assert!(RefusalReason::ALL.contains(&reason), "not zeroed at start");
    install();
    counter!(REFUSALS, "reason" => reason.as_str()).increment(1);
}

/// Times the vote use case, refused votes included.
pub fn vote(kind: VoteKind, took: Duration) {
    install();
    histogram!(VOTE_SECONDS, "kind" => kind.as_str()).record(took);
}

/// Counts a delivery attempt's result.
pub fn delivery(kind: &'static str, result: &'static str) {
    debug_assert!(
        crate::outbox::Intent::KINDS.contains(&kind) && DELIVERY_RESULTS.contains(&result),
        "not zeroed at start"
    );
    install();
    counter!(DELIVERIES, "kind" => kind, "result" => result).increment(1);
}

/// Times a delivery from the start of its round.
pub fn delivery_time(kind: &'static str, took: Duration) {
    install();
    histogram!(DELIVERY_SECONDS, "kind" => kind).record(took);
}

/// Counts a message given up on.
pub fn dead_letter() {
    install();
    counter!(DEAD_LETTERS).increment(1);
}

/// Times a platform API call.
pub fn platform_call(platform: &'static str, method: &str, took: Duration) {
    install();
    histogram!(PLATFORM_API_SECONDS, "platform" => platform, "method" => method.to_owned()).record(took);
}

/// Counts a 429 from a platform.
pub fn rate_limited(platform: &'static str) {
    install();
    counter!(RATE_LIMITED, "platform" => platform).increment(1);
}

/// Counts a platform call abandoned at its timeout.
pub fn timed_out(platform: &'static str) {
    install();
    counter!(TIMEOUTS, "platform" => platform).increment(1);
}

/// The exposition text: counters, histograms, and gauges read from the database now.
pub async fn render(pool: &PgPool) -> String {
    let mut out = install().render();
    let gauge = |out: &mut String, name: &str, help: &str, value: f64| {
        let _ = writeln!(
            out,
            "# HELP countersign_{name} {help}\n# TYPE countersign_{name} gauge\ncountersign_{name} {value}"
        );
    };
    let row = crate::store::outbox::backlog(pool).await.ok();
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
    if let Ok(Some(seq)) = crate::store::sealed_through(pool).await {
        gauge(
            &mut out,
            "audit_sealed_through",
            "Chain position of the last sealed audit entry.",
            seq as f64,
        );
    }
    if let Ok(Some(latest)) = crate::store::checkpoints::latest(pool).await {
        gauge(
            &mut out,
            "audit_checkpoint_seq",
            "Chain position of the latest signed checkpoint.",
            latest.seq as f64,
        );
        gauge(
            &mut out,
            "audit_checkpoint_timestamp_seconds",
            "When the latest checkpoint was signed (seconds since the epoch).",
            latest.at.timestamp() as f64,
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
mod tests;

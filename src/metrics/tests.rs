//! The recorder's output: described families, counters at zero before any event, and histogram
//! buckets once something is timed. Each test records into a recorder of its own, so tests
//! running alongside (and the process-wide recorder) cannot change what it sees.

use super::*;

// The same reading of the exposition text as the integration tests', not a second copy of it.
#[path = "../../tests/it/common/exposition.rs"]
mod exposition;
use exposition::{undescribed, value};

/// Renders what `events` record into a fresh recorder set up as the process's is.
fn rendered(events: impl FnOnce()) -> String {
    let recorder = recorder();
    let handle = recorder.handle();
    ::metrics::with_local_recorder(&recorder, events);
    handle.render()
}

/// Every helper the code records through, once.
fn every_event() {
    workflows(["invoice"]);
    http_request("slack", "ok", Duration::from_millis(3));
    decision("invoice", Status::Approved);
    refusal(RefusalReason::SelfApproval);
    vote(VoteKind::Approve, Duration::from_millis(20));
    delivery("post_card", "delivered");
    delivery_time("post_card", Duration::from_millis(40));
    dead_letter();
    platform_call("slack", "chat_post_message", Duration::from_millis(30));
    rate_limited("discord");
    timed_out("slack");
}

#[test]
fn every_family_is_described() {
    let text = rendered(every_event);
    assert_eq!(undescribed(&text), Vec::<String>::new(), "in\n{text}");
    for (name, _) in COUNTERS.iter().chain(HISTOGRAMS) {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} is never recorded:\n{text}"
        );
    }
}

#[test]
fn the_check_catches_an_undescribed_family() {
    let text = rendered(|| counter!("countersign_undescribed_total").increment(1));
    assert_eq!(undescribed(&text), ["countersign_undescribed_total"]);
}

#[test]
fn counters_of_known_label_sets_are_zero_before_any_event() {
    let text = rendered(|| {});
    for series in [
        "countersign_http_requests_total{platform=\"slack\",outcome=\"ok\"} 0",
        "countersign_http_requests_total{platform=\"api\",outcome=\"unauthorized\"} 0",
        "countersign_refusals_total{reason=\"self_approval\"} 0",
        "countersign_refusals_total{reason=\"unauthenticated\"} 0",
        "countersign_deliveries_total{kind=\"post_card\",result=\"delivered\"} 0",
        "countersign_deliveries_total{kind=\"webhook\",result=\"refused\"} 0",
        "countersign_dead_letters_total 0",
        "countersign_platform_rate_limited_total{platform=\"discord\"} 0",
        "countersign_platform_timeouts_total{platform=\"slack\"} 0",
    ] {
        assert!(text.contains(series), "missing {series} in\n{text}");
    }
    assert_eq!(undescribed(&text), Vec::<String>::new(), "in\n{text}");
    let text = rendered(|| workflows(["invoice"]));
    assert!(text.contains("countersign_decisions_total{workflow=\"invoice\",outcome=\"expired\"} 0"));
}

#[test]
fn a_timed_call_lands_in_its_buckets() {
    let text = rendered(|| platform_call("slack", "chat_post_message", Duration::from_millis(30)));
    let series = "countersign_platform_api_seconds";
    let labels = "platform=\"slack\",method=\"chat_post_message\"";
    for line in [
        format!("# TYPE {series} histogram"),
        format!("{series}_bucket{{{labels},le=\"0.025\"}} 0"),
        format!("{series}_bucket{{{labels},le=\"0.05\"}} 1"),
        format!("{series}_bucket{{{labels},le=\"30\"}} 1"),
        format!("{series}_bucket{{{labels},le=\"+Inf\"}} 1"),
        format!("{series}_count{{{labels}}} 1"),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
    }
}

#[test]
fn counting_adds_to_the_zeroed_series() {
    let text = rendered(|| {
        refusal(RefusalReason::SelfApproval);
        refusal(RefusalReason::SelfApproval);
    });
    assert!(
        text.contains("countersign_refusals_total{reason=\"self_approval\"} 2"),
        "{text}"
    );
    assert_eq!(
        value(&text, "countersign_refusals_total{reason=\"self_approval\"}"),
        Some(2.0)
    );
}

#[test]
fn label_values_are_escaped() {
    let text = rendered(|| decision("in\"voice", Status::Rejected));
    assert!(
        text.contains("countersign_decisions_total{workflow=\"in\\\"voice\",outcome=\"rejected\"} 1"),
        "{text}"
    );
}

#[test]
fn the_latency_buckets_are_accepted() {
    assert!(with_buckets(PrometheusBuilder::new()).is_ok());
}

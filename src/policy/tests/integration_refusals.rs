//! Service accounts, `[announce]` and `[[webhook]]`: what loads, and what `check` refuses where.

use super::{assert_at, assert_one, loads, refusals, FLOW, PEOPLE};
use crate::policy::{PersonId, WebhookEvent};

/// The 1-based line of the first line of `text` that contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"))
}

const SERVICE: &str = "\n[[service]]\nid = \"pipeline\"\nname = \"Deploy pipeline\"\nroles = [\"requester\"]\n";

#[test]
fn a_service_loads_with_its_roles_and_never_counts_as_an_approver() {
    let people = format!("{PEOPLE}{SERVICE}");
    let set = loads(&[("people.toml", &people), ("flow.toml", FLOW)]);
    let svc = set.directory.service(&PersonId::parse("pipeline").unwrap()).unwrap();
    assert_eq!(svc.name, "Deploy pipeline");
    assert_eq!(set.directory.display_name(&svc.id), Some("Deploy pipeline"));
    let approver = crate::policy::Role::parse("requester").unwrap();
    assert!(set
        .directory
        .holders(&approver)
        .iter()
        .all(|p| p.id.as_str() != "pipeline"));
}

#[test]
fn a_role_held_only_by_a_service_may_open_requests_but_not_approve() {
    let people = format!("{PEOPLE}\n[[service]]\nid = \"erp\"\nroles = [\"erp\"]\n");
    let flow = FLOW.replace("request = [\"requester\"]", "request = [\"erp\"]");
    let set = loads(&[("people.toml", &people), ("flow.toml", &flow)]);
    assert_eq!(
        set.directory.service(&PersonId::parse("erp").unwrap()).unwrap().name,
        "erp"
    );

    let flow = FLOW.replace("role = \"approver\", count = 1", "role = \"erp\", count = 1");
    let errors = refusals(&[("people.toml", &people), ("flow.toml", &flow)]);
    assert_one(
        &errors,
        "flow.toml",
        line_of(&flow, "role = \"erp\""),
        38,
        "needs 1 approvals from erp, but no person holds that role (services never approve)",
    );
}

#[test]
fn a_service_cannot_take_a_persons_id() {
    let people = format!("{PEOPLE}\n[[service]]\nid = \"ben\"\nroles = [\"requester\"]\n");
    let errors = refusals(&[("people.toml", &people)]);
    assert_one(
        &errors,
        "people.toml",
        line_of(&people, "[[service]]") + 1,
        6,
        "`ben` is already a person",
    );
}

#[test]
fn a_service_needs_roles_and_only_known_keys() {
    let people = format!("{PEOPLE}\n[[service]]\nid = \"ci\"\nslack = [\"T1/UCI\"]\n");
    let errors = refusals(&[("people.toml", &people)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(
        &errors,
        "people.toml",
        line_of(&people, "slack = [\"T1/UCI\"]"),
        1,
        "unknown key `slack` in [[service]] #1",
    );
    assert_at(
        &errors,
        "people.toml",
        line_of(&people, "[[service]]"),
        1,
        "[[service]] #1 is missing `roles`",
    );
}

#[test]
fn a_workflow_announces_in_channels_and_delivers_receipts_to_webhooks() {
    let flow = format!(
        "{FLOW}\n[announce]\nslack_channel = \"T1/C0OPS\"\ndiscord_channel = \"123\"\n\n\
         [[webhook]]\nurl = \"https://ci.example.com/hook\"\nevents = [\"request.approved\", \"request.rejected\"]\n"
    );
    let set = loads(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    let wf = set.workflow("flow").unwrap();
    let places: Vec<String> = wf.announce.channels.iter().map(|p| p.to_string()).collect();
    assert_eq!(places, ["slack:T1/C0OPS", "discord:123"]);
    assert_eq!(wf.webhooks.len(), 1);
    assert!(wf.webhooks[0].events.contains(&WebhookEvent::Approved));
    assert!(!wf.webhooks[0].events.contains(&WebhookEvent::Expired));
}

#[test]
fn a_bad_announcement_channel_is_refused_where_it_is_written() {
    let flow = format!("{FLOW}\n[announce]\nslack_channel = \"C0OPS\"\nteams_channel = \"x\"\n");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert_at(
        &errors,
        "flow.toml",
        line_of(&flow, "slack_channel"),
        17,
        "must be WORKSPACE/CHANNEL",
    );
    assert_at(
        &errors,
        "flow.toml",
        line_of(&flow, "teams_channel"),
        1,
        "unknown key `teams_channel` in [announce]",
    );

    let flow = format!("{FLOW}\n[announce]\n");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_one(
        &errors,
        "flow.toml",
        line_of(&flow, "[announce]"),
        1,
        "[announce] names no channel",
    );
}

#[test]
fn a_webhook_needs_a_usable_url_and_known_events() {
    let flow = format!(
        "{FLOW}\n[[webhook]]\nurl = \"ftp://example.com\"\nevents = [\"request.approved\"]\n\n\
         [[webhook]]\nurl = \"https://example.com/h\"\nevents = [\"request.approvd\"]\n\n\
         [[webhook]]\nurl = \"https://example.com/other\"\n"
    );
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert_at(
        &errors,
        "flow.toml",
        line_of(&flow, "ftp://"),
        7,
        "must start with https://",
    );
    assert_at(
        &errors,
        "flow.toml",
        line_of(&flow, "request.approvd"),
        11,
        "unknown event `request.approvd`; a webhook receives any of: request.approved, request.rejected",
    );
    assert_at(
        &errors,
        "flow.toml",
        line_of(&flow, "example.com/other") - 1,
        1,
        "[[webhook]] #3 is missing `events`",
    );
}

#[test]
fn a_webhook_written_as_a_single_table_is_refused() {
    let flow = format!("{FLOW}\n[webhook]\nurl = \"https://example.com/h\"\n");
    let errors = refusals(&[("people.toml", PEOPLE), ("flow.toml", &flow)]);
    assert_one(
        &errors,
        "flow.toml",
        line_of(&flow, "[webhook]"),
        1,
        "must be written as [[webhook]] tables",
    );
}

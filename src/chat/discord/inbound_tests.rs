//! The typed interaction against Discord's real payloads (the conformance corpus) and against
//! malformed ones.

use super::*;
use serde_json::json;

fn corpus() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conformance/discord");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the conformance corpus is in tests/fixtures") {
        let path = entry.expect("a corpus entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        if !name.ends_with(".json") || name == "index.json" || name == "signatures.json" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("a corpus file");
        out.push((name, serde_json::from_str(&text).expect("corpus files are JSON")));
    }
    out
}

#[test]
fn every_corpus_interaction_parses_as_its_type() {
    let mut n = 0;
    for (name, raw) in corpus() {
        let typed: Interaction = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = match name.rsplit_once('_').map(|(k, _)| k) {
            Some("ping") => InteractionType::Ping,
            Some("application_command") => InteractionType::Command,
            Some("message_component") => InteractionType::Component,
            Some("autocomplete") => InteractionType::Autocomplete,
            Some("modal_submit") => InteractionType::Modal,
            other => panic!("{name}: a corpus file of unknown kind {other:?}"),
        };
        assert_eq!(typed.kind, Some(expected), "{name}");
        let who = raw.pointer("/member/user/id").or_else(|| raw.pointer("/user/id"));
        assert_eq!(typed.user_id().as_deref(), who.and_then(Value::as_str), "{name}");
        assert_eq!(typed.id().as_deref(), raw["id"].as_str(), "{name}");
        assert_eq!(typed.token().as_deref(), raw["token"].as_str(), "{name}");
        if matches!(expected, InteractionType::Component | InteractionType::Modal) {
            assert!(typed.custom_id().is_some(), "{name}");
        }
        if expected == InteractionType::Modal {
            assert!(!typed.modal_values().is_empty(), "{name}");
        }
        if expected == InteractionType::Autocomplete {
            assert!(typed.focused().is_some(), "{name}");
        }
        n += 1;
    }
    assert!(n >= 16, "the corpus shrank: {n}");
}

#[test]
fn a_guild_command_reads_its_subcommand_and_options() {
    let i = Interaction::read(json!({
        "type": 2, "id": "9", "token": "t", "guild_id": "g", "channel": { "id": "c" },
        "member": { "user": { "id": "u1" } }, "user": { "id": "ignored" },
        "data": { "name": "approval", "type": 1, "options": [{ "name": "reject", "type": 1, "options": [
            { "name": "ref", "type": 3, "value": "INV-1" }, { "name": "n", "type": 4, "value": 3 }
        ] }] }
    }));
    assert_eq!(i.kind, Some(InteractionType::Command));
    assert_eq!(i.user_id().as_deref(), Some("u1"));
    assert_eq!(i.channel_id().as_deref(), Some("c"));
    let args = vec![
        ("ref".to_string(), "INV-1".to_string()),
        ("n".to_string(), "3".to_string()),
    ];
    assert_eq!(i.subcommand(), Some(("reject".to_string(), args)));
}

#[test]
fn modal_values_skip_blanks_and_accept_bare_inputs() {
    let i = Interaction::read(json!({ "type": 5, "data": { "custom_id": "m", "components": [
        { "type": 1, "components": [{ "type": 4, "custom_id": "reason", "value": "Wrong vendor" }] },
        { "type": 1, "components": [{ "type": 4, "custom_id": "blank", "value": "  " }] },
        { "type": 4, "custom_id": "bare", "value": "x" }
    ] } }));
    let values = vec![
        ("reason".to_string(), "Wrong vendor".to_string()),
        ("bare".to_string(), "x".to_string()),
    ];
    assert_eq!(i.modal_values(), values);
}

#[test]
fn a_payload_of_the_wrong_shape_has_no_type() {
    for odd in [
        json!([1, 2]),
        json!({ "type": "two" }),
        json!({ "type": 300 }),
        json!({}),
        json!(null),
    ] {
        let i = Interaction::read(odd.clone());
        assert_eq!(i.kind, None, "{odd}");
        assert_eq!(i.id(), None, "{odd}");
    }
    let loose = Interaction::read(
        json!({ "type": 2, "id": 5, "member": "x", "data": { "options": [7, ["x", 1], { "name": "help", "type": 1 }] } }),
    );
    assert_eq!(
        loose.kind,
        Some(InteractionType::Command),
        "one odd field spoils nothing else"
    );
    assert_eq!((loose.id(), loose.user_id()), (None, None));
    assert_eq!(loose.subcommand(), Some(("help".to_string(), Vec::new())));
    assert_eq!(kind(&json!({ "type": 3 })), MESSAGE_COMPONENT);
}

//! The typed payloads against every interactivity payload and event of the conformance corpus:
//! they must read exactly what the untyped JSON walk they replaced read, so no real payload that
//! was served before is misread now.

use super::*;
use serde_json::json;

/// The JSON walk the typed reading replaced, kept as the oracle.
mod walk {
    use super::super::{ButtonPress, Who};
    use serde_json::Value;

    fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
        let mut cur = v;
        for p in path {
            cur = cur.get(p)?;
        }
        cur.as_str().filter(|s| !s.is_empty())
    }

    pub fn who(p: &Value) -> Who {
        Who {
            workspace: str_at(p, &["user", "team_id"])
                .or_else(|| str_at(p, &["team", "id"]))
                .or_else(|| str_at(p, &["view", "team_id"]))
                .map(str::to_owned),
            user: str_at(p, &["user", "id"]).map(str::to_owned),
            channel: str_at(p, &["channel", "id"])
                .or_else(|| str_at(p, &["container", "channel_id"]))
                .map(str::to_owned),
        }
    }

    pub fn presses(p: &Value) -> Vec<ButtonPress> {
        let actions = p.get("actions").and_then(Value::as_array).cloned().unwrap_or_default();
        actions
            .iter()
            .map(|a| ButtonPress {
                action_id: str_at(a, &["action_id"]).unwrap_or_default().to_string(),
                value: str_at(a, &["value"]).map(str::to_owned),
                action_ts: str_at(a, &["action_ts"]).map(str::to_owned),
            })
            .collect()
    }

    pub fn values(p: &Value) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let Some(blocks) = p.pointer("/view/state/values").and_then(Value::as_object) else {
            return out;
        };
        for (block_id, actions) in blocks {
            let Some(actions) = actions.as_object() else { continue };
            for e in actions.values() {
                let value = e
                    .get("value")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| str_at(e, &["selected_option", "value"]).map(str::to_owned))
                    .or_else(|| str_at(e, &["selected_date"]).map(str::to_owned));
                if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                    out.push((block_id.clone(), v));
                }
            }
        }
        out.sort();
        out
    }

    pub fn str_of<'a>(p: &'a Value, pointer: &str) -> Option<&'a str> {
        p.pointer(pointer).and_then(Value::as_str)
    }
}

fn corpus() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/conformance/slack")
}

/// Every interactivity payload of the corpus, decoded JSON and form bodies alike.
fn payloads() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if name.contains("_form_") {
            let form: Vec<(String, String)> = serde_urlencoded::from_str(text.trim_end()).unwrap();
            let payload = form.into_iter().find(|(k, _)| k == "payload").unwrap().1;
            out.push((name, serde_json::from_str(&payload).unwrap()));
        } else if name.starts_with("block_actions_") || name.starts_with("view_submission_") {
            out.push((name, serde_json::from_str(&text).unwrap()));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn assert_reads_like_the_walk(name: &str, raw: &Value) {
    let p = Interaction::from_json(raw);
    assert_eq!(who(&p), walk::who(raw), "{name}");
    assert_eq!(presses(&p), walk::presses(raw), "{name}");
    assert_eq!(submitted_values(&p), walk::values(raw), "{name}");
    assert_eq!(
        Some(p.kind()).filter(|k| !k.is_empty()),
        walk::str_of(raw, "/type"),
        "{name}"
    );
    assert_eq!(p.trigger_id.get(), walk::str_of(raw, "/trigger_id"), "{name}");
    let view = p.view();
    assert_eq!(
        view.and_then(|v| v.callback_id.get()),
        walk::str_of(raw, "/view/callback_id"),
        "{name}"
    );
    assert_eq!(view.and_then(|v| v.id.get()), walk::str_of(raw, "/view/id"), "{name}");
    assert_eq!(
        view.and_then(|v| v.private_metadata.get()),
        walk::str_of(raw, "/view/private_metadata"),
        "{name}"
    );
}

#[test]
fn every_corpus_payload_reads_as_the_json_walk_read_it() {
    let all = payloads();
    assert_eq!(all.len(), 23, "13 + 2 block_actions, 7 + 1 view_submission");
    for (name, raw) in &all {
        assert_reads_like_the_walk(name, raw);
    }
    let kinds: Vec<String> = all
        .iter()
        .map(|(_, raw)| Interaction::from_json(raw).kind().to_string())
        .collect();
    assert!(
        kinds.iter().all(|k| k == "block_actions" || k == "view_submission"),
        "{kinds:?}"
    );
}

#[test]
fn every_corpus_event_reads_as_the_json_walk_read_it() {
    let mut seen = 0;
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let events = ["url_verification_", "app_mention_", "message_", "reaction_added_"];
        if !events.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let raw: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let e = EventEnvelope::from_json(&raw);
        assert_eq!(e.kind.get(), walk::str_of(&raw, "/type"), "{name}");
        assert_eq!(
            e.challenge.as_ref(),
            raw.get("challenge").filter(|c| !c.is_null()),
            "{name}"
        );
        let inner = e.event.0.as_ref().and_then(|i| i.kind.get());
        assert_eq!(inner, walk::str_of(&raw, "/event/type"), "{name}");
        seen += 1;
    }
    assert_eq!(seen, 12);
    let odd = EventEnvelope::from_json(&json!({ "type": "url_verification", "challenge": 5, "event": [1] }));
    assert_eq!(
        (odd.kind.get(), odd.challenge),
        (Some("url_verification"), Some(json!(5)))
    );
    assert!(EventEnvelope::from_json(&json!(["url_verification", "c"]))
        .kind
        .get()
        .is_none());
}

#[test]
fn fields_of_an_odd_shape_read_as_absent_not_as_a_refusal() {
    let odd = [
        json!({ "type": "block_actions", "team": null, "user": { "id": "U1", "team_id": "" },
                "container": { "channel_id": "C1" }, "actions": [5, { "action_id": "approve", "value": "" }] }),
        json!({ "type": 7, "user": ["U1", "T1"], "channel": "C1", "actions": { "action_id": "approve" } }),
        json!({ "type": "view_submission", "view": { "id": 3, "team_id": "T9", "state": { "values": {
                "a": { "value": { "type": "plain_text_input", "value": "  " } },
                "b": [1], "c": { "x": { "selected_option": { "value": "opt" } }, "y": 2 },
                "d": { "value": { "selected_date": "2026-01-05", "value": null } } } } } }),
        json!([1, 2]),
        json!("payload"),
    ];
    for raw in &odd {
        assert_reads_like_the_walk(&raw.to_string(), raw);
    }
}

#[test]
fn a_form_body_without_a_payload_or_with_bad_json_is_refused_clearly() {
    assert_eq!(
        interaction_payload(b"nothing=here").unwrap_err(),
        "the form has no payload field"
    );
    assert!(interaction_payload(b"payload=%7Bnot")
        .unwrap_err()
        .starts_with("the payload is not JSON"));
}

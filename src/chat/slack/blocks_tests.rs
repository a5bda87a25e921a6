//! What a card and a modal look like on the wire: buttons that carry their meaning in ids and
//! values, text people typed kept plain or escaped, and the modal answers Slack expects.

use super::*;
use crate::approval::Status;
use crate::chat::render::CardAction;
use serde_json::{json, Value};

fn card() -> Card {
    let action = |kind| CardAction {
        kind,
        command: String::new(),
    };
    Card {
        r#ref: "INV-1".into(),
        title: "Invoice payment · INV-1".into(),
        status: Status::Pending,
        status_line: "Pending".into(),
        requester: "<!channel> *Mallory*".into(),
        version: 3,
        timing: "Asked now".into(),
        amendment: None,
        facts: vec![("Vendor".into(), ":tada: <b>".into())],
        rule: "large".into(),
        groups: vec![],
        decisions: vec![],
        actions: vec![
            action(ButtonKind::Approve),
            action(ButtonKind::Reject),
            action(ButtonKind::Details),
        ],
    }
}

fn wire(blocks: &[SlackBlock]) -> Value {
    serde_json::to_value(blocks).unwrap()
}

#[test]
fn a_button_carries_its_kind_and_target_and_its_label_only_as_text() {
    let blocks = wire(&card_blocks(&card()));
    let buttons = blocks
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap();
    assert_eq!(buttons["block_id"], ACTIONS_BLOCK);
    let expected = [
        (ButtonKind::Approve, "INV-1@3", Some("primary")),
        (ButtonKind::Reject, "INV-1@3", Some("danger")),
        (ButtonKind::Details, "INV-1", None),
    ];
    for (b, (kind, value, style)) in buttons["elements"].as_array().unwrap().iter().zip(expected) {
        let id = b["action_id"].as_str().unwrap();
        assert_eq!(ButtonKind::from_id(id), Some(kind));
        assert_eq!(b["value"], value);
        assert_eq!(b["style"].as_str(), style);
        assert_eq!(
            b["text"],
            json!({ "type": "plain_text", "text": kind.label(), "emoji": true })
        );
        assert!(!id.contains(kind.label()) && !value.contains(kind.label()));
    }
}

#[test]
fn what_people_typed_stays_plain_or_escaped() {
    let blocks = wire(&card_blocks(&card()));
    let all = blocks.to_string();
    assert!(all.contains("Requested by *&lt;!channel&gt; *Mallory**"), "{all}");
    assert!(!all.contains("<!channel>"));
    let facts = &blocks[3]["fields"];
    assert_eq!(facts[0], json!({ "type": "mrkdwn", "text": "*Vendor*" }));
    assert_eq!(
        facts[1],
        json!({ "type": "plain_text", "text": ":tada: <b>", "emoji": false })
    );
}

#[test]
fn the_reject_modal_asks_for_a_reason_of_at_most_500_characters() {
    let ctx = ModalContext {
        subject: "INV-1".into(),
        version: Some(3),
        ..ModalContext::default()
    };
    let view = serde_json::to_value(reject_modal(&ctx)).unwrap();
    assert_eq!(view["type"], "modal");
    assert_eq!(view["callback_id"], REJECT_CALLBACK);
    assert_eq!(view["title"]["text"], "Reject INV-1");
    let meta: ModalContext = serde_json::from_str(view["private_metadata"].as_str().unwrap()).unwrap();
    assert_eq!(meta, ctx);
    assert_eq!(
        view["blocks"][0]["element"],
        json!({ "type": "plain_text_input", "action_id": "value", "multiline": true, "max_length": 500 })
    );
}

#[test]
fn field_errors_are_a_view_submission_errors_answer() {
    let answer = serde_json::to_value(field_errors(&[("amount".into(), "too many decimals".into())])).unwrap();
    assert_eq!(
        answer,
        json!({ "response_action": "errors", "errors": { "amount": "too many decimals" } })
    );
}

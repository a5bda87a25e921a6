//! Slack payloads after their signature held: an interaction form body, and the JSON inside it,
//! are read without a panic whatever they hold.
#![no_main]

use countersign::chat::slack::inbound;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = inbound::interaction_payload(data) {
        let _ = inbound::who(&payload);
        let _ = inbound::presses(&payload);
        let _ = inbound::submitted_values(&payload);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = inbound::who(&v);
        let _ = inbound::presses(&v);
        let _ = inbound::submitted_values(&v);
    }
});

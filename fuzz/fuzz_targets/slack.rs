//! Slack payloads after their signature held: an interaction form body, the JSON inside it and
//! an Events API body are read into their typed forms without a panic whatever they hold.
#![no_main]

use countersign::chat::slack::inbound::{self, EventEnvelope, Interaction};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(payload) = inbound::interaction_payload(data) {
        let _ = inbound::who(&payload);
        let _ = inbound::presses(&payload);
        let _ = inbound::submitted_values(&payload);
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let p = Interaction::from_json(&v);
        let _ = inbound::who(&p);
        let _ = inbound::presses(&p);
        let _ = inbound::submitted_values(&p);
        let _ = (p.kind(), p.callback(), p.view().is_some());
        let _ = EventEnvelope::from_json(&v);
    }
});

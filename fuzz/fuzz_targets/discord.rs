//! Discord interactions after their signature held: the typed reading of the interaction JSON,
//! and every accessor on it, cope with any shape, never a panic.
#![no_main]

use countersign::chat::discord::inbound::Interaction;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let i = Interaction::read(v);
        let _ = i.user_id();
        let _ = i.guild_id();
        let _ = i.channel_id();
        let _ = i.id();
        let _ = i.token();
        let _ = i.subcommand();
        let _ = i.focused();
        let _ = i.custom_id();
        let _ = i.modal_values();
    }
});

//! Discord interactions after their signature held: every reader of the interaction JSON
//! copes with any shape, never a panic.
#![no_main]

use countersign::chat::discord::inbound as read;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(i) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = read::kind(&i);
        let _ = read::user_id(&i);
        let _ = read::guild_id(&i);
        let _ = read::channel_id(&i);
        let _ = read::id_and_token(&i);
        let _ = read::subcommand(&i);
        let _ = read::focused(&i);
        let _ = read::custom_id(&i);
        let _ = read::modal_values(&i);
    }
});

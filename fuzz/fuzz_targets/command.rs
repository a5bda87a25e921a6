//! The command language: any line parses to a command or a usage message, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let _ = countersign::chat::command::parse(line);
        let _ = countersign::chat::command::button_vote_target(line);
        let _ = countersign::approval::Ref::parse(line);
    }
});

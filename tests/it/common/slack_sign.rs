//! Owns signing of requests the way Slack signs them (`X-Slack-Signature`), and the
//! form encoding of interaction payloads (`payload=<percent-encoded JSON>`), for tests
//! that play Slack calling the bot.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The `X-Slack-Signature` value for `body` sent at `timestamp` (Unix seconds):
/// `"v0=" + hex(HMAC_SHA256(secret, "v0:{timestamp}:{body}"))`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any size");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// The form body Slack posts for an interaction: `"payload="` + the compact JSON of
/// `payload`, percent-encoded except for the unreserved `A-Z a-z 0-9 - _ . ~`.
pub fn interaction_body(payload: &serde_json::Value) -> String {
    format!("payload={}", percent_encode(&payload.to_string()))
}

/// Percent-encodes every byte of `s` but the unreserved ones, with upper-case hex.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

//! Owns signing of requests the way Discord signs interactions (`X-Signature-Ed25519` over
//! `X-Signature-Timestamp` + raw body), with a fixed test key pair, for tests that play Discord
//! calling the bot.

use ed25519_dalek::{Signer, SigningKey};

/// The test key pair: `SigningKey::from_bytes(&[7u8; 32])` and its public key in hex
/// (the value to configure as the application's public key).
pub fn keypair() -> (SigningKey, String) {
    let key = SigningKey::from_bytes(&[7u8; 32]);
    let public = hex::encode(key.verifying_key().to_bytes());
    (key, public)
}

/// The `X-Signature-Ed25519` value for `body` sent with `X-Signature-Timestamp: timestamp`:
/// hex of the Ed25519 signature over the timestamp bytes followed by the body bytes.
pub fn sign(key: &SigningKey, timestamp: &str, body: &str) -> String {
    let mut message = Vec::with_capacity(timestamp.len() + body.len());
    message.extend_from_slice(timestamp.as_bytes());
    message.extend_from_slice(body.as_bytes());
    hex::encode(key.sign(&message).to_bytes())
}

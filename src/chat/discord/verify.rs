//! Discord request signatures: Ed25519 over `timestamp || raw body` with the application's public
//! key (serenity's verifier), plus the freshness window serenity leaves to us.

use crate::chat::signature::check_fresh;
pub use crate::chat::signature::SignatureError;
use crate::clock::Clock;
use serenity::interactions_endpoint::Verifier;
use std::sync::Arc;

/// Checks inbound Discord interactions.
#[derive(Clone)]
pub struct DiscordVerifier {
    verifiers: Arc<Vec<Verifier>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DiscordVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiscordVerifier")
    }
}

impl DiscordVerifier {
    /// A verifier for the hex public key from the Developer Portal (`DISCORD_PUBLIC_KEY`).
    pub fn new(public_keys_hex: &str, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        // Several keys, comma-separated, are accepted while an application is being replaced.
        let mut verifiers = Vec::new();
        for key in public_keys_hex.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            let bytes = hex::decode(key)
                .map_err(|_| anyhow::anyhow!("DISCORD_PUBLIC_KEY is not hex: copy it from the Developer Portal"))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("DISCORD_PUBLIC_KEY must be 32 bytes (64 hex characters)"))?;
            // A small-order point (the identity above all) verifies signatures anyone can make.
            let weak = ed25519_dalek::VerifyingKey::from_bytes(&key).map_or(true, |k| k.is_weak());
            anyhow::ensure!(
                !weak,
                "DISCORD_PUBLIC_KEY is not a usable Ed25519 public key (it is malformed or a weak, \
                 small-order point that would accept forged signatures): copy the application's \
                 public key from the Developer Portal"
            );
            verifiers.push(
                Verifier::try_new(key).map_err(|_| anyhow::anyhow!("DISCORD_PUBLIC_KEY is not a valid Ed25519 key"))?,
            );
        }
        anyhow::ensure!(!verifiers.is_empty(), "DISCORD_PUBLIC_KEY is empty");
        Ok(DiscordVerifier {
            verifiers: Arc::new(verifiers),
            clock,
        })
    }

    /// Verifies a request from its raw headers and body. Nothing may be parsed before this.
    pub fn verify(&self, timestamp: Option<&str>, signature: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
        let timestamp = timestamp.ok_or(SignatureError::Missing("X-Signature-Timestamp"))?;
        self.verify_signature(timestamp, signature, body)?;
        check_fresh(self.clock.as_ref(), timestamp)?;
        Ok(())
    }

    /// The Ed25519 check alone, over the raw `timestamp || body` bytes (no freshness window).
    pub fn verify_signature(
        &self,
        timestamp: &str,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<(), SignatureError> {
        let signature = signature.ok_or(SignatureError::Missing("X-Signature-Ed25519"))?;
        if self
            .verifiers
            .iter()
            .any(|v| v.verify(signature, timestamp, body).is_ok())
        {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use chrono::{TimeZone, Utc};

    #[derive(serde::Deserialize)]
    struct Vector {
        id: String,
        public_key: String,
        timestamp: serde_json::Value,
        body: String,
        signature: String,
        valid: bool,
    }

    #[test]
    fn a_weak_or_malformed_public_key_is_refused_at_start() {
        let clock: Arc<dyn Clock> = Arc::new(crate::clock::SystemClock);
        let identity = format!("01{}", "00".repeat(31));
        let err = DiscordVerifier::new(&identity, clock.clone()).expect_err("the identity point is weak");
        assert!(err.to_string().contains("weak"), "{err}");
        let zero = "00".repeat(32);
        assert!(
            DiscordVerifier::new(&zero, clock.clone()).is_err(),
            "a small-order point"
        );
        let not_on_curve = format!("02{}", "00".repeat(31));
        assert!(DiscordVerifier::new(&not_on_curve, clock).is_err());
    }

    #[test]
    fn every_conformance_vector_is_judged_right_with_the_clock_pinned() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/conformance/discord/signatures.json"
        );
        let text = std::fs::read_to_string(path).expect("the conformance corpus is in tests/fixtures/conformance");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let vectors: Vec<Vector> = serde_json::from_value(v.get("vectors").cloned().unwrap_or(v)).unwrap();
        assert_eq!(vectors.len(), 12);
        for v in vectors {
            let ts = v
                .timestamp
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| v.timestamp.to_string());
            let at = ts
                .parse::<i64>()
                .ok()
                .and_then(|t| Utc.timestamp_opt(t, 0).single())
                .unwrap_or_else(Utc::now);
            // A vector without a usable timestamp tests the signature alone (no replay window).
            let numeric = ts.parse::<i64>().is_ok();
            let result = DiscordVerifier::new(&v.public_key, Arc::new(ManualClock::new(at)))
                .map_err(|e| e.to_string())
                .and_then(|verifier| {
                    let checked = if numeric {
                        verifier.verify(Some(&ts), Some(&v.signature), v.body.as_bytes())
                    } else {
                        verifier.verify_signature(&ts, Some(&v.signature), v.body.as_bytes())
                    };
                    checked.map_err(|e| e.to_string())
                });
            assert_eq!(result.is_ok(), v.valid, "{}: {result:?}", v.id);
        }
    }
}

//! Slack request signatures: HMAC-SHA256 over `v0:{timestamp}:{raw body}`, checked in constant
//! time against every configured signing secret (two during a rotation), with a freshness window.

use crate::chat::signature::check_fresh;
pub use crate::chat::signature::SignatureError;
use crate::clock::Clock;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;

/// Checks inbound Slack requests.
#[derive(Clone)]
pub struct SlackVerifier {
    secrets: Vec<Vec<u8>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for SlackVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets themselves.
        write!(f, "SlackVerifier({} secret(s))", self.secrets.len())
    }
}

impl SlackVerifier {
    /// A verifier accepting any of `secrets` (comma-separated in `SLACK_SIGNING_SECRET` during a
    /// rotation), with Slack's 5-minute window.
    pub fn new(secrets: &[String], clock: Arc<dyn Clock>) -> Self {
        SlackVerifier {
            secrets: secrets
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.as_bytes().to_vec())
                .collect(),
            clock,
        }
    }

    /// Verifies a request from its raw headers and body. Nothing may be parsed before this.
    pub fn verify(&self, timestamp: Option<&str>, signature: Option<&str>, body: &[u8]) -> Result<(), SignatureError> {
        let timestamp = timestamp.ok_or(SignatureError::Missing("X-Slack-Request-Timestamp"))?;
        let signature = signature.ok_or(SignatureError::Missing("X-Slack-Signature"))?;
        check_fresh(self.clock.as_ref(), timestamp)?;
        let expected = signature.strip_prefix("v0=").ok_or(SignatureError::Mismatch)?;
        let expected = hex::decode(expected).map_err(|_| SignatureError::Mismatch)?;
        for secret in &self.secrets {
            let mut mac = Hmac::<Sha256>::new_from_slice(secret).map_err(|_| SignatureError::Mismatch)?;
            mac.update(b"v0:");
            mac.update(timestamp.as_bytes());
            mac.update(b":");
            mac.update(body);
            if mac.verify_slice(&expected).is_ok() {
                return Ok(());
            }
        }
        Err(SignatureError::Mismatch)
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
        secret: String,
        timestamp: serde_json::Value,
        body: String,
        signature: String,
        valid: bool,
    }

    fn vectors() -> Vec<Vector> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/conformance/slack/signatures.json"
        );
        let text = std::fs::read_to_string(path).expect("the conformance corpus is in tests/fixtures/conformance");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let list = v.get("vectors").cloned().unwrap_or(v);
        serde_json::from_value(list).unwrap()
    }

    #[test]
    fn every_conformance_vector_is_judged_right_with_the_clock_pinned() {
        let all = vectors();
        assert_eq!(all.len(), 12);
        for v in all {
            let ts = match &v.timestamp {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let at = Utc.timestamp_opt(ts.parse().unwrap(), 0).unwrap();
            let verifier = SlackVerifier::new(std::slice::from_ref(&v.secret), Arc::new(ManualClock::new(at)));
            let result = verifier.verify(Some(&ts), Some(&v.signature), v.body.as_bytes());
            assert_eq!(result.is_ok(), v.valid, "{}: {result:?}", v.id);
        }
    }

    #[test]
    fn a_stale_request_is_refused_even_when_signed_right() {
        let v = vectors().into_iter().find(|v| v.valid).unwrap();
        let ts = v
            .timestamp
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.timestamp.to_string());
        let later = Utc.timestamp_opt(ts.parse::<i64>().unwrap() + 301, 0).unwrap();
        let verifier = SlackVerifier::new(std::slice::from_ref(&v.secret), Arc::new(ManualClock::new(later)));
        assert_eq!(
            verifier.verify(Some(&ts), Some(&v.signature), v.body.as_bytes()),
            Err(SignatureError::Stale(301))
        );
    }

    #[test]
    fn during_a_rotation_either_secret_is_accepted() {
        let v = vectors().into_iter().find(|v| v.valid).unwrap();
        let ts = v
            .timestamp
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.timestamp.to_string());
        let at = Utc.timestamp_opt(ts.parse().unwrap(), 0).unwrap();
        let verifier = SlackVerifier::new(&["new-secret".into(), v.secret.clone()], Arc::new(ManualClock::new(at)));
        assert!(verifier
            .verify(Some(&ts), Some(&v.signature), v.body.as_bytes())
            .is_ok());
        assert!(format!("{verifier:?}").contains("2 secret(s)"));
    }
}

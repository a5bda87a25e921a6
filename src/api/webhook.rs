//! Delivers decision receipts and audit checkpoints to a workflow's webhooks, for the outbox
//! worker: a receipt is signed at delivery time from the request's final state, a checkpoint is
//! sent as it was signed, both POSTed as JSON, and a failure is classed for the worker (retry
//! with backoff, wait out a 429, or dead-letter).

use super::receipt::{self, ReceiptError, ReceiptSigner};
use crate::audit::checkpoint::Checkpoint;
use crate::engine::Engine;
use crate::outbox::DeliveryError;
use crate::policy::WebhookEvent;
use serde_json::json;
use std::time::Duration;

/// How long a receiver may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// What to wait after a 429 that does not say.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

/// POSTs receipts to webhooks.
#[derive(Clone, Debug)]
pub struct WebhookSender {
    engine: Engine,
    signer: Option<ReceiptSigner>,
    http: reqwest::Client,
}

impl WebhookSender {
    /// A sender; without a receipt key every webhook message is dead-lettered with that reason.
    pub fn new(engine: Engine, signer: Option<ReceiptSigner>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("countersign/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(WebhookSender { engine, signer, http })
    }

    /// Delivers the receipt of `ref`'s final state (`event`) to `url`. The `Idempotency-Key`
    /// header is the same on every attempt, so a receiver can drop a repeat.
    pub async fn deliver(&self, r#ref: &str, url: &str, event: &str) -> Result<(), DeliveryError> {
        let signer = self.signer.as_ref().ok_or_else(|| {
            DeliveryError::Permanent(
                "receipts are not configured (COUNTERSIGN_RECEIPT_KEY); webhooks carry them".into(),
            )
        })?;
        let view = self
            .engine
            .current_view(r#ref)
            .await
            .map_err(|e| DeliveryError::Transient(format!("{e:#}")))?
            .ok_or_else(|| DeliveryError::Permanent(format!("no request {ref}")))?;
        let claims = receipt::claims(&self.engine, &view).await.map_err(|e| match e {
            ReceiptError::NotFinal(_) => DeliveryError::Permanent(e.to_string()),
            ReceiptError::NotSealed(_) => DeliveryError::Transient(e.to_string()),
            ReceiptError::Other(e) => DeliveryError::Transient(format!("{e:#}")),
        })?;
        let token = signer
            .sign(&claims)
            .map_err(|e| DeliveryError::Permanent(format!("{e:#}")))?;
        let body =
            json!({ "event": event, "ref": r#ref, "status": claims.status, "kid": signer.kid(), "receipt": token });
        self.post(url, event, &format!("{ref}:{event}"), &body).await
    }

    /// Delivers the signed checkpoint at chain position `seq` to `url` (event
    /// `audit.checkpoint`): the body is the checkpoint as published, one line of a kept file.
    pub async fn deliver_checkpoint(&self, seq: i64, url: &str) -> Result<(), DeliveryError> {
        let event = WebhookEvent::Checkpoint.as_str();
        let checkpoint = crate::store::checkpoints::at(self.engine.pool(), seq)
            .await
            .map_err(|e| DeliveryError::Transient(format!("{e:#}")))?
            .ok_or_else(|| DeliveryError::Permanent(format!("no checkpoint at #{seq}")))?;
        let c = Checkpoint::of(checkpoint);
        let body = json!({ "event": event, "seq": c.seq, "hash": c.hash, "at": c.at, "kid": c.kid, "jws": c.jws });
        self.post(url, event, &format!("checkpoint:{seq}"), &body).await
    }

    async fn post(&self, url: &str, event: &str, key: &str, body: &serde_json::Value) -> Result<(), DeliveryError> {
        let res = self
            .http
            .post(url)
            .header("countersign-event", event)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await
            .map_err(|e| DeliveryError::Transient(format!("webhook {}: {}", shown_url(url), without_url(&e))))?;
        classify(
            res.status().as_u16(),
            res.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            &shown_url(url),
        )
    }
}

/// A receiver's address as errors, logs and dead letters name it: its scheme and host only. The
/// path and query of a webhook URL often carry its secret (`/hooks/T0/B1/xyz`), and what is
/// stored in the outbox or logged must never.
pub fn shown_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("?")),
        Err(_) => "(an unparsable URL)".to_string(),
    }
}

/// reqwest's errors repeat the URL; the message leaves it out.
fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(&format!(" ({u})"), "").replace(u.as_str(), "(the receiver)");
    }
    s
}

/// What a receiver's status means for the worker.
fn classify(status: u16, retry_after: Option<&str>, url: &str) -> Result<(), DeliveryError> {
    match status {
        200..=299 => Ok(()),
        429 => Err(DeliveryError::RateLimited {
            retry_after: retry_after
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs_f64),
        }),
        408 | 409 | 425 | 500..=599 => Err(DeliveryError::Transient(format!("webhook {url} answered {status}"))),
        _ => Err(DeliveryError::Permanent(format!(
            "webhook {url} answered {status}: fix the receiver or the [[webhook]] url"
        ))),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_webhook_url_is_named_by_its_host_only() {
        let shown = super::shown_url("https://hooks.example.test/services/T0/B1/s3cr3t?token=abc");
        assert_eq!(shown, "https://hooks.example.test/…");
        assert!(!shown.contains("s3cr3t") && !shown.contains("abc"));
    }
    use super::*;

    #[test]
    fn a_receivers_answer_decides_retry_wait_or_give_up() {
        assert_eq!(classify(204, None, "u"), Ok(()));
        assert_eq!(
            classify(429, Some("2"), "u"),
            Err(DeliveryError::RateLimited {
                retry_after: Duration::from_secs(2)
            })
        );
        assert_eq!(
            classify(429, Some("soon"), "u"),
            Err(DeliveryError::RateLimited {
                retry_after: DEFAULT_RETRY_AFTER
            })
        );
        assert!(matches!(classify(503, None, "u"), Err(DeliveryError::Transient(_))));
        assert!(matches!(classify(404, None, "u"), Err(DeliveryError::Permanent(m)) if m.contains("404")));
    }
}

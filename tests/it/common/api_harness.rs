//! Drives the server's HTTP API with real JWTs: the example commands/ plus service accounts,
//! an announcement channel and (optionally) a webhook, an HS256 secret and an Ed25519 key for
//! API tokens, and an Ed25519 receipt key.

use super::slack_harness::SlackBot;
use super::tempdir::TempDir;
use super::{commands_dir, example_commands};
use countersign::api::{ApiAuth, ReceiptSigner};
use countersign::clock::Clock;
use countersign::server::ApiSettings;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sqlx::PgPool;

/// The HS256 secret the server checks API tokens with.
pub const SECRET: &str = "countersign-test-secret-0123456789abcdef";
/// The Slack channel the invoice workflow announces API requests in.
pub const ANNOUNCE: &str = "C0PAYMENTS";

/// A fresh Ed25519 key pair as PKCS#8 DER.
pub fn ed25519_pkcs8() -> Vec<u8> {
    let rng = ring::rand::SystemRandom::new();
    ring::signature::Ed25519KeyPair::generate_pkcs8(&rng)
        .unwrap()
        .as_ref()
        .to_vec()
}

/// DER as a PEM block.
pub fn pem(tag: &str, der: &[u8]) -> String {
    pem::encode(&pem::Pem::new(tag, der.to_vec()))
}

/// The server with the API configured, its keys and its commands/.
pub struct ApiBot {
    pub slack: SlackBot,
    pub http: reqwest::Client,
    /// The private half of the EdDSA key API tokens may be signed with.
    pub token_key_pem: String,
    /// The server's receipt key (it signs receipts and checkpoints).
    pub receipts: ReceiptSigner,
    _dir: TempDir,
}

impl ApiBot {
    /// Starts the server; `webhook`, when given, receives the invoice workflow's receipts.
    pub async fn start(pool: PgPool, webhook: Option<&str>) -> ApiBot {
        // The example people.toml has the services `erp` (an analyst) and `siem` (an auditor).
        let people = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
        let mut invoice = std::fs::read_to_string(example_commands().join("invoice.toml"))
            .unwrap()
            .replace("T0001/C0FINANCE", &format!("T0001/{ANNOUNCE}"));
        assert!(
            invoice.contains(ANNOUNCE),
            "the example invoice workflow announces in a channel"
        );
        if let Some(url) = webhook {
            invoice +=
                &format!("\n[[webhook]]\nurl = \"{url}\"\nevents = [\"request.approved\", \"request.rejected\", \"audit.checkpoint\"]\n");
        }
        let mut files = vec![
            ("people.toml".to_string(), people),
            ("invoice.toml".to_string(), invoice),
        ];
        for other in ["prod-access.toml", "purchase-order.toml"] {
            files.push((
                other.to_string(),
                std::fs::read_to_string(example_commands().join(other)).unwrap(),
            ));
        }
        let refs: Vec<(&str, &str)> = files.iter().map(|(n, t)| (n.as_str(), t.as_str())).collect();
        let dir = commands_dir(&refs);

        let token_key = ed25519_pkcs8();
        let token_public =
            ring::signature::KeyPair::public_key(&ring::signature::Ed25519KeyPair::from_pkcs8(&token_key).unwrap())
                .as_ref()
                .to_vec();
        // SubjectPublicKeyInfo for Ed25519: the fixed prefix, then the 32 key bytes.
        let mut spki = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        spki.extend_from_slice(&token_public);
        let public_path = dir.path().join("api-token-key.pub.pem");
        std::fs::write(&public_path, pem("PUBLIC KEY", &spki)).unwrap();
        let receipts = ReceiptSigner::from_pem(pem("PRIVATE KEY", &ed25519_pkcs8()).as_bytes()).unwrap();
        let api = ApiSettings {
            auth: ApiAuth::new(Some(SECRET), Some(&public_path)).unwrap(),
            receipts: Some(receipts.clone()),
            checkpoint_every: None,
        };
        let slack = SlackBot::start_with_api(pool, dir.path(), api).await;
        ApiBot {
            slack,
            http: reqwest::Client::new(),
            token_key_pem: pem("PRIVATE KEY", &token_key),
            receipts,
            _dir: dir,
        }
    }

    /// The bot's clock, in seconds since the epoch.
    pub fn now(&self) -> i64 {
        self.slack.bot.clock.now().timestamp()
    }

    /// An HS256 token for `sub`, valid for an hour from the bot's clock.
    pub fn token(&self, sub: &str) -> String {
        self.sign_hs256(
            &json!({ "sub": sub, "aud": "countersign", "iat": self.now(), "exp": self.now() + 3600 }),
            SECRET,
        )
    }

    /// Claims signed with HS256 and `secret`.
    pub fn sign_hs256(&self, claims: &Value, secret: &str) -> String {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }

    /// Claims signed with the EdDSA key the server accepts tokens from.
    pub fn sign_eddsa(&self, claims: &Value) -> String {
        let key = EncodingKey::from_ed_pem(self.token_key_pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key).unwrap()
    }

    /// A request with `Authorization: Bearer <token>` when a token is given.
    pub fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.slack.base));
        match token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    /// GET as `sub`; returns the status and the JSON body.
    pub async fn get(&self, path: &str, sub: &str) -> (u16, Value) {
        let res = self
            .call(reqwest::Method::GET, path, Some(&self.token(sub)))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// POST /api/v1/requests as `sub`, with an optional idempotency key.
    pub async fn open(&self, sub: &str, body: &Value, key: Option<&str>) -> (u16, Value) {
        let mut req = self
            .call(reqwest::Method::POST, "/api/v1/requests", Some(&self.token(sub)))
            .json(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Refused audit entries as `identity action reason`, in order.
    pub async fn refusals(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT coalesce(identity, '-') || ' ' || action || ' ' || coalesce(reason, '-') FROM audit_log \
             WHERE outcome = 'refused' ORDER BY id",
        )
        .fetch_all(self.slack.bot.engine.pool())
        .await
        .unwrap()
    }
}

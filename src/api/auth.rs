//! Who is calling the API: a bearer JWT, checked on its signature first (HS256 with the shared
//! secret, or RS256/EdDSA with the configured public key), then on its claims (`aud` =
//! `countersign`, `exp`, and `nbf`/`iat` with a small leeway) against the engine's clock.

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The audience every token must name.
pub const AUDIENCE: &str = "countersign";
/// How far `exp`, `nbf` and `iat` may be off, for clocks that disagree a little.
pub const LEEWAY_SECONDS: i64 = 30;

/// Why a token was not accepted. The message says what to do; it never repeats the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header: send `Authorization: Bearer <JWT>`")]
    Missing,
    /// Not `Bearer <token>`, or not three base64url parts of JSON.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// An algorithm this server does not accept (including `none`).
    #[error("tokens signed with {0} are not accepted; use {1}")]
    Algorithm(String, String),
    /// The signature does not verify with the configured key.
    #[error("the token's signature does not verify: it was not signed with this server's key")]
    Signature,
    /// A required claim is absent.
    #[error("the token has no `{0}` claim; `sub`, `aud` and `exp` are required")]
    MissingClaim(String),
    /// `aud` does not name this service.
    #[error("the token's audience is not `countersign`: mint it with aud = \"countersign\"")]
    Audience,
    /// `exp` has passed.
    #[error("the token expired at {0}: mint a new one")]
    Expired(String),
    /// `nbf` or `iat` lies in the future.
    #[error("the token is not valid yet ({0}): check the issuer's clock")]
    NotYet(String),
    /// A valid token whose `sub` is neither a person nor a service of people.toml.
    #[error("`{0}` is not a person or service in commands/people.toml: add a [[service]] for it")]
    UnknownSubject(String),
    /// The API has no key to check tokens with.
    #[error("the API is not configured: set COUNTERSIGN_API_JWT_SECRET or COUNTERSIGN_API_JWT_PUBLIC_KEY")]
    NotConfigured,
}

/// The claims Countersign reads; others are ignored.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Claims {
    /// The caller: a person or service id.
    pub sub: String,
    /// Seconds since the epoch (fractions allowed, as RFC 7519 permits).
    pub exp: f64,
    /// Not valid before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<f64>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<f64>,
}

/// The keys that API tokens may be signed with.
#[derive(Clone, Default)]
pub struct ApiAuth {
    secret: Option<DecodingKey>,
    public: Option<(DecodingKey, Algorithm)>,
}

impl std::fmt::Debug for ApiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAuth")
            .field("hs256", &self.secret.is_some())
            .field("public_key", &self.public.as_ref().map(|(_, a)| *a))
            .finish()
    }
}

impl ApiAuth {
    /// From `COUNTERSIGN_API_JWT_SECRET` and the PEM file named by `COUNTERSIGN_API_JWT_PUBLIC_KEY`.
    pub fn new(secret: Option<&str>, public_key: Option<&Path>) -> anyhow::Result<Self> {
        let secret = match secret {
            Some(s) if s.len() < 32 => anyhow::bail!(
                "COUNTERSIGN_API_JWT_SECRET is too short: use at least 32 random bytes (e.g. `openssl rand -hex 32`)"
            ),
            Some(s) => Some(DecodingKey::from_secret(s.as_bytes())),
            None => None,
        };
        let public = match public_key {
            None => None,
            Some(path) => {
                let pem = std::fs::read(path)
                    .with_context(|| format!("reading COUNTERSIGN_API_JWT_PUBLIC_KEY {}", path.display()))?;
                let key = DecodingKey::from_ed_pem(&pem)
                    .map(|k| (k, Algorithm::EdDSA))
                    .or_else(|_| DecodingKey::from_rsa_pem(&pem).map(|k| (k, Algorithm::RS256)))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "{} is not an Ed25519 or RSA public key in PEM (`-----BEGIN PUBLIC KEY-----`)",
                            path.display()
                        )
                    })?;
                Some(key)
            }
        };
        Ok(ApiAuth { secret, public })
    }

    /// Whether any key is configured.
    pub fn is_configured(&self) -> bool {
        self.secret.is_some() || self.public.is_some()
    }

    fn accepted(&self) -> String {
        let mut algs = Vec::new();
        if self.secret.is_some() {
            algs.push("HS256");
        }
        if let Some((_, a)) = &self.public {
            algs.push(if *a == Algorithm::EdDSA { "EdDSA" } else { "RS256" });
        }
        algs.join(" or ")
    }

    /// Checks an `Authorization` header value at `now`; returns the token's claims.
    pub fn verify(&self, authorization: Option<&str>, now: DateTime<Utc>) -> Result<Claims, AuthError> {
        if !self.is_configured() {
            return Err(AuthError::NotConfigured);
        }
        let header = authorization.ok_or(AuthError::Missing)?;
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or_else(|| AuthError::Malformed("the Authorization header must be `Bearer <JWT>`".into()))?;
        let alg = algorithm_of(token)?;
        let key = match alg.as_str() {
            "HS256" => self.secret.as_ref(),
            "EdDSA" => self
                .public
                .as_ref()
                .filter(|(_, a)| *a == Algorithm::EdDSA)
                .map(|(k, _)| k),
            "RS256" => self
                .public
                .as_ref()
                .filter(|(_, a)| *a == Algorithm::RS256)
                .map(|(k, _)| k),
            _ => None,
        }
        .ok_or_else(|| AuthError::Algorithm(alg.clone(), self.accepted()))?;
        let algorithm: Algorithm = alg
            .parse()
            .map_err(|_| AuthError::Algorithm(alg.clone(), self.accepted()))?;
        let mut validation = Validation::new(algorithm);
        // Times are checked below against the engine's clock, not the process's.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["sub", "aud", "exp"]);
        let claims = jsonwebtoken::decode::<Claims>(token, key, &validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature | ErrorKind::Crypto(_) => AuthError::Signature,
                ErrorKind::MissingRequiredClaim(c) => AuthError::MissingClaim(c.clone()),
                ErrorKind::InvalidAudience => AuthError::Audience,
                ErrorKind::InvalidAlgorithm => AuthError::Algorithm(alg.clone(), self.accepted()),
                ErrorKind::Json(e) => AuthError::Malformed(format!("its claims do not read: {e}")),
                _ => AuthError::Malformed("it is not three base64url parts of JSON".into()),
            })?
            .claims;
        let now = now.timestamp() as f64;
        let at = |t: f64| DateTime::from_timestamp(t as i64, 0).map_or_else(|| t.to_string(), |d| d.to_rfc3339());
        if claims.exp <= now - LEEWAY_SECONDS as f64 {
            return Err(AuthError::Expired(at(claims.exp)));
        }
        if let Some(nbf) = claims.nbf.filter(|&t| t > now + LEEWAY_SECONDS as f64) {
            return Err(AuthError::NotYet(format!("nbf is {}", at(nbf))));
        }
        if let Some(iat) = claims.iat.filter(|&t| t > now + LEEWAY_SECONDS as f64) {
            return Err(AuthError::NotYet(format!("iat is {}", at(iat))));
        }
        if claims.sub.is_empty() {
            return Err(AuthError::MissingClaim("sub".into()));
        }
        Ok(claims)
    }
}

/// The `alg` of a token's header, read before anything is trusted, so that `none` and other
/// algorithms are named in the refusal.
fn algorithm_of(token: &str) -> Result<String, AuthError> {
    let malformed = || AuthError::Malformed("it is not three base64url parts of JSON".into());
    let mut parts = token.split('.');
    let (Some(head), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(head).map_err(|_| malformed())?;
    let header: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    // RFC 7515 §4.1.11: a recipient that does not understand an extension listed in `crit`
    // must refuse the token. Countersign understands none.
    if header.get("crit").is_some() {
        return Err(AuthError::Malformed(
            "its header lists critical extensions (`crit`) this server does not understand; mint it without `crit`"
                .into(),
        ));
    }
    header["alg"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| AuthError::Malformed("its header has no `alg`".into()))
}

/// Mints an HS256 token for `sub`, valid from `now` for `ttl` (for `countersign token issue`).
pub fn issue_hs256(secret: &str, sub: &str, now: DateTime<Utc>, ttl: std::time::Duration) -> anyhow::Result<String> {
    let ttl = i64::try_from(ttl.as_secs()).context("ttl out of range")?;
    let claims = serde_json::json!({
        "sub": sub,
        "aud": AUDIENCE,
        "iat": now.timestamp(),
        "nbf": now.timestamp(),
        "exp": now.timestamp() + ttl,
    });
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .context("signing the token")
}

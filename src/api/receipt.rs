//! Signed decision receipts: a JWT that states how a request ended (ref, version, final state,
//! rule, approvers) and names the sealed audit entry that recorded it, signed with the key in
//! `COUNTERSIGN_RECEIPT_KEY` (Ed25519 or RSA) and verifiable with `/.well-known/jwks.json`.

use crate::engine::{Engine, RequestView};
use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The receipt's claims. Everything in it is read from the database and the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    /// Always `countersign`.
    pub iss: String,
    /// The request's ref, as the receipt's subject.
    pub sub: String,
    /// When the request reached its final state (seconds since the epoch): a receipt is the
    /// same token however often it is asked for.
    pub iat: i64,
    /// `INV-42`.
    pub r#ref: String,
    /// The workflow id.
    pub workflow: String,
    /// The version that was decided.
    pub version: i32,
    /// `approved`, `rejected`, `cancelled` or `expired`.
    pub status: String,
    /// The rule that applied.
    pub rule: String,
    /// The content hash of the workflow file in force.
    pub policy_hash: Option<String>,
    /// Who asked (a person or service id).
    pub requester: String,
    /// Everyone whose approval counted, in group order.
    pub approvers: Vec<String>,
    /// Who rejected, and why.
    pub rejected_by: Option<Value>,
    /// The final state's time, RFC 3339.
    pub decided_at: String,
    /// The audit entry that recorded the final state: its chain position, id and hash.
    pub audit: AuditPointer,
}

/// Where a receipt's decision stands in the audit chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPointer {
    /// Chain position.
    pub seq: i64,
    /// Entry id.
    pub id: i64,
    /// The entry's chain hash.
    pub hash: String,
}

/// Why a receipt cannot be given.
#[derive(Debug, thiserror::Error)]
pub enum ReceiptError {
    /// The request has not reached a final state.
    #[error("{0} is still pending: a receipt exists once it is decided")]
    NotFinal(String),
    /// The final state's audit entry is written but not yet chained (a sealing pass is due).
    #[error("the audit entry of {0} is not sealed yet; try again in a moment")]
    NotSealed(String),
    /// Reading the database failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The receipt key: signs receipts and publishes its public half.
#[derive(Clone)]
pub struct ReceiptSigner {
    key: EncodingKey,
    algorithm: Algorithm,
    kid: String,
    jwk: Value,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("algorithm", &self.algorithm)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The RFC 7638 thumbprint of a JWK's required members (given in lexicographic order).
fn thumbprint(members: &[(&str, &str)]) -> String {
    let canonical = members
        .iter()
        .map(|(k, v)| format!("\"{k}\":\"{v}\""))
        .collect::<Vec<_>>()
        .join(",");
    b64(&Sha256::digest(format!("{{{canonical}}}").as_bytes()))
}

impl ReceiptSigner {
    /// Reads a PEM private key: Ed25519 (PKCS#8) signs with EdDSA, RSA (PKCS#8 or PKCS#1)
    /// with RS256.
    pub fn from_pem_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read(path)
            .with_context(|| format!("reading the receipt key {} (COUNTERSIGN_RECEIPT_KEY)", path.display()))?;
        Self::from_pem(&text).with_context(|| format!("the receipt key {}", path.display()))
    }

    /// Reads a PEM private key from memory.
    pub fn from_pem(text: &[u8]) -> anyhow::Result<Self> {
        let block = pem::parse(text).context("not a PEM file")?;
        let der = block.contents();
        if let Ok(pair) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der) {
            let x = b64(pair.public_key().as_ref());
            let kid = thumbprint(&[("crv", "Ed25519"), ("kty", "OKP"), ("x", &x)]);
            let jwk = json!({ "kty": "OKP", "crv": "Ed25519", "x": x, "alg": "EdDSA", "use": "sig", "kid": kid });
            return Ok(ReceiptSigner {
                key: EncodingKey::from_ed_der(der),
                algorithm: Algorithm::EdDSA,
                kid,
                jwk,
            });
        }
        let rsa = match block.tag() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(der).map(|k| (k, false)),
            _ => RsaKeyPair::from_pkcs8(der).map(|k| (k, true)),
        };
        let Ok((pair, pkcs8)) = rsa else {
            bail!(
                "expected an Ed25519 or RSA private key in PEM (for example from `openssl genpkey -algorithm ed25519`)"
            );
        };
        let public = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
        let (n, e) = (b64(&public.n), b64(&public.e));
        let kid = thumbprint(&[("e", &e), ("kty", "RSA"), ("n", &n)]);
        let jwk = json!({ "kty": "RSA", "n": n, "e": e, "alg": "RS256", "use": "sig", "kid": kid });
        // jsonwebtoken's RSA signer takes PKCS#1 DER; a PKCS#8 file goes through its PEM reader.
        let key = if pkcs8 {
            EncodingKey::from_rsa_pem(text).context("reading the RSA key")?
        } else {
            EncodingKey::from_rsa_der(der)
        };
        Ok(ReceiptSigner {
            key,
            algorithm: Algorithm::RS256,
            kid,
            jwk,
        })
    }

    /// The key id (its RFC 7638 thumbprint), in every receipt's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs claims.
    pub fn sign(&self, claims: &ReceiptClaims) -> anyhow::Result<String> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).context("signing a receipt")
    }
}

/// The JWKS document: the receipt key, or no key when receipts are not configured.
pub fn jwks(signer: Option<&ReceiptSigner>) -> Value {
    json!({ "keys": signer.map(|s| vec![s.jwk().clone()]).unwrap_or_default() })
}

/// How many sealing passes a receipt waits for (50 ms apart) before answering "not sealed yet".
const SEAL_TRIES: u32 = 20;

/// The claims of a decided request's receipt, from its view and the sealed audit entry that
/// recorded the final state. Seals the chain first when that entry is not chained yet.
pub async fn claims(engine: &Engine, view: &RequestView) -> Result<ReceiptClaims, ReceiptError> {
    let (Some(decided_at), true) = (view.decided_at, view.status.is_final()) else {
        return Err(ReceiptError::NotFinal(view.r#ref.clone()));
    };
    let action = format!("request.{}", view.status.as_str());
    // The sealer chains entries once every older transaction has settled; a transaction still
    // open elsewhere can hold that back for a moment, so seal and look again a few times.
    let mut tries = 0;
    let entry = loop {
        let trail = crate::audit::trail(engine.pool(), &view.r#ref).await?;
        let entry = trail
            .into_iter()
            .rev()
            .find(|e| e.action == action && e.outcome == "done")
            .with_context(|| {
                format!(
                    "{} is {} but its audit entry is missing",
                    view.r#ref,
                    view.status.as_str()
                )
            })?;
        if entry.seq.is_some() || tries == SEAL_TRIES {
            break entry;
        }
        if tries > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        crate::audit::seal(engine.pool()).await?;
        tries += 1;
    };
    let (Some(seq), Some(hash)) = (entry.seq, entry.hash.clone()) else {
        return Err(ReceiptError::NotSealed(view.r#ref.clone()));
    };
    Ok(ReceiptClaims {
        iss: "countersign".into(),
        sub: view.r#ref.clone(),
        iat: decided_at.timestamp(),
        r#ref: view.r#ref.clone(),
        workflow: view.workflow.clone(),
        version: view.version,
        status: view.status.as_str().into(),
        rule: view.rule.clone(),
        policy_hash: entry.policy_hash.clone(),
        requester: view.requester.id.clone(),
        approvers: view.approvers().into_iter().map(|p| p.id.clone()).collect(),
        rejected_by: view
            .rejected_by
            .as_ref()
            .map(|(p, reason)| json!({ "id": p.id, "reason": reason })),
        decided_at: decided_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        audit: AuditPointer {
            seq,
            id: entry.id,
            hash,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_thumbprint_is_rfc_7638s() {
        // RFC 7638 section 3.1's example key and thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        assert_eq!(
            thumbprint(&[("e", "AQAB"), ("kty", "RSA"), ("n", n)]),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn a_key_that_is_not_ed25519_or_rsa_is_refused_with_a_hint() {
        let e = ReceiptSigner::from_pem(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").unwrap_err();
        assert!(format!("{e:#}").contains("Ed25519 or RSA"), "{e:#}");
        let e = ReceiptSigner::from_pem(b"not a key").unwrap_err();
        assert!(format!("{e:#}").contains("PEM"), "{e:#}");
    }
}

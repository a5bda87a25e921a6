//! The receipt key: signs decision receipts and checkpoints of the audit chain (JWS), and
//! publishes its public half with the public halves of the keys it replaced, so that anything
//! signed before a rotation still verifies against `/.well-known/jwks.json`.

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::Path;

/// The receipt key: signs receipts and checkpoints, and publishes its public half with those
/// of the keys it replaced.
#[derive(Clone)]
pub struct ReceiptSigner {
    key: EncodingKey,
    algorithm: Algorithm,
    kid: String,
    jwk: Value,
    /// The public keys of earlier receipt keys (`COUNTERSIGN_RECEIPT_PREVIOUS_JWKS`).
    previous: Vec<Value>,
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
                previous: Vec::new(),
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
            previous: Vec::new(),
        })
    }

    /// Also publishes the public keys of a JWKS document saved before a rotation (what
    /// `/.well-known/jwks.json` served then), so that what the old keys signed still verifies.
    /// The current key is not repeated.
    pub fn with_previous_jwks_file(mut self, path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "reading the previous receipt keys {} (COUNTERSIGN_RECEIPT_PREVIOUS_JWKS)",
                path.display()
            )
        })?;
        let set: Value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not JSON: expected a JWKS document {{\"keys\": [...]}}",
                path.display()
            )
        })?;
        let keyring =
            Keyring::from_jwks(&set).with_context(|| format!("the previous receipt keys {}", path.display()))?;
        self.previous = keyring
            .public
            .into_iter()
            .filter(|k| k["kid"].as_str() != Some(&self.kid))
            .collect();
        Ok(self)
    }

    /// The key id (its RFC 7638 thumbprint), in every receipt's header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK.
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// Signs claims as a compact JWS (a JWT), the key id in its header.
    pub fn sign(&self, claims: &impl Serialize) -> anyhow::Result<String> {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.key).context("signing with the receipt key")
    }

    /// Every public key it publishes: the current one first, then the ones it replaced.
    pub fn public_keys(&self) -> Vec<Value> {
        std::iter::once(self.jwk.clone())
            .chain(self.previous.iter().cloned())
            .collect()
    }

    /// The keys that verify what this key, or a key it replaced, signed.
    pub fn keyring(&self) -> Keyring {
        Keyring {
            public: self.public_keys(),
        }
    }
}

/// The JWKS document: the receipt key and the keys it replaced, or no key when receipts are not
/// configured.
pub fn jwks(signer: Option<&ReceiptSigner>) -> Value {
    json!({ "keys": signer.map(ReceiptSigner::public_keys).unwrap_or_default() })
}

/// Public keys to verify receipts and checkpoints with, by key id.
#[derive(Clone, Debug, Default)]
pub struct Keyring {
    public: Vec<Value>,
}

/// Why a token does not verify.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// Not a compact JWS, or its header names no key.
    #[error("not a signed token (a compact JWS with a kid): {0}")]
    Malformed(String),
    /// Signed by a key the keyring does not hold.
    #[error("signed by key {0}, which is not among the published keys")]
    UnknownKey(String),
    /// The signature does not match the content: the token was altered, or forged.
    #[error("the signature does not verify ({0})")]
    Invalid(String),
}

impl Keyring {
    /// The keys of a JWKS document (`{"keys": [...]}`).
    pub fn from_jwks(set: &Value) -> anyhow::Result<Keyring> {
        let keys = set["keys"]
            .as_array()
            .context("expected a JWKS document: an object with a \"keys\" array")?;
        for k in keys {
            anyhow::ensure!(
                k["kid"].is_string() && k["kty"].is_string(),
                "every key needs a kid and a kty: {k}"
            );
            serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k.clone())
                .with_context(|| format!("key {} is not a JWK this version can read", k["kid"]))?;
        }
        Ok(Keyring { public: keys.clone() })
    }

    /// Whether it holds no key at all.
    pub fn is_empty(&self) -> bool {
        self.public.is_empty()
    }

    /// Checks `token`'s signature against the key its header names and returns its claims.
    pub fn verify<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, SignatureError> {
        let header = jsonwebtoken::decode_header(token).map_err(|e| SignatureError::Malformed(e.to_string()))?;
        let kid = header
            .kid
            .ok_or_else(|| SignatureError::Malformed("the header has no kid".into()))?;
        let jwk = self
            .public
            .iter()
            .find(|k| k["kid"].as_str() == Some(kid.as_str()))
            .and_then(|k| serde_json::from_value::<jsonwebtoken::jwk::Jwk>(k.clone()).ok())
            .ok_or_else(|| SignatureError::UnknownKey(kid.clone()))?;
        let key = jsonwebtoken::DecodingKey::from_jwk(&jwk).map_err(|e| SignatureError::Invalid(e.to_string()))?;
        // The key decides the algorithm, never the token's header.
        let algorithm = match &jwk.algorithm {
            jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
            _ => return Err(SignatureError::UnknownKey(format!("{kid} (not an Ed25519 or RSA key)"))),
        };
        let mut validation = jsonwebtoken::Validation::new(algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<T>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| SignatureError::Invalid(e.to_string()))
    }
}

/// The claims of a compact JWS, read without checking its signature (for a file whose key is
/// not at hand: its position and hash are still checked against the chain).
pub fn unverified_claims<T: serde::de::DeserializeOwned>(token: &str) -> Result<T, SignatureError> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| SignatureError::Malformed("expected three dot-separated parts".into()))?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|e| SignatureError::Malformed(e.to_string()))?;
    serde_json::from_slice(&bytes).map_err(|e| SignatureError::Malformed(e.to_string()))
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

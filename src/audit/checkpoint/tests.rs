//! Reading kept checkpoints and receipts: what a signature covers is what counts, a line edited
//! around it is refused, a forged or re-keyed token is named, and the algorithm is the key's.

use super::*;
use crate::audit::signer::Keyring;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::TimeZone;
use proptest::prelude::*;

fn signer() -> ReceiptSigner {
    let rng = ring::rand::SystemRandom::new();
    let der = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    let pem = pem::encode(&pem::Pem::new("PRIVATE KEY", der.as_ref().to_vec()));
    ReceiptSigner::from_pem(pem.as_bytes()).unwrap()
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap()
}

#[test]
fn a_checkpoint_reads_back_from_each_form_it_is_published_in() {
    let s = signer();
    let c = Checkpoint::sign(&s, 42, &"ab".repeat(32), at()).unwrap();
    let keys = s.keyring();
    let webhook_body = serde_json::json!({ "event": "audit.checkpoint", "seq": 42, "hash": c.hash, "jws": c.jws });
    for line in [
        c.to_line(),
        c.jws.clone(),
        format!("\"{}\"", c.jws),
        webhook_body.to_string(),
    ] {
        let kept = read_checkpoint(&line, Some(&keys)).unwrap();
        assert_eq!((kept.seq, kept.hash.as_str()), (42, c.hash.as_str()), "{line}");
        assert!(kept.signature_checked);
        assert_eq!(kept.name, "checkpoint #42 (signed 2026-11-25T10:00:00Z)");
    }
}

#[test]
fn a_line_edited_around_its_signature_is_refused() {
    let s = signer();
    let c = Checkpoint::sign(&s, 42, &"ab".repeat(32), at()).unwrap();
    let edited = c.to_line().replace("\"seq\":42", "\"seq\":41");
    let err = read_checkpoint(&edited, Some(&s.keyring())).unwrap_err();
    assert!(err.contains("differ from what its signature covers"), "{err}");
}

#[test]
fn a_payload_changed_under_its_signature_or_signed_by_another_key_is_named() {
    let s = signer();
    let c = Checkpoint::sign(&s, 42, &"ab".repeat(32), at()).unwrap();
    let mut parts: Vec<String> = c.jws.split('.').map(str::to_owned).collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
    parts[1] = URL_SAFE_NO_PAD.encode(payload.replace("\"seq\":42", "\"seq\":43"));
    let err = read_checkpoint(&parts.join("."), Some(&s.keyring())).unwrap_err();
    assert!(err.contains("the signature does not verify"), "{err}");
    let other = Checkpoint::sign(&signer(), 42, &"ab".repeat(32), at()).unwrap();
    let err = read_checkpoint(&other.jws, Some(&s.keyring())).unwrap_err();
    assert!(err.contains("not among the published keys"), "{err}");
    // Without keys the position is still read, and said to be unchecked.
    assert!(!read_checkpoint(&other.jws, None).unwrap().signature_checked);
}

#[test]
fn a_token_that_names_another_algorithm_is_checked_with_the_keys_own() {
    // HS256 with the public key's bytes as the secret: the classic confusion. The key is
    // Ed25519, so the token is checked as EdDSA and refused.
    let s = signer();
    let x = s.jwk()["x"].as_str().unwrap().to_string();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(s.kid().to_string());
    let claims = CheckpointClaims {
        iss: "countersign".into(),
        sub: SUBJECT.into(),
        iat: 0,
        seq: 1,
        hash: "00".repeat(32),
        at: "2026-11-25T10:00:00Z".into(),
    };
    let token = jsonwebtoken::encode(&header, &claims, &jsonwebtoken::EncodingKey::from_secret(x.as_bytes())).unwrap();
    assert!(read_checkpoint(&token, Some(&s.keyring())).is_err());
}

#[test]
fn a_receipt_is_not_a_checkpoint() {
    let s = signer();
    let token = s
        .sign(&serde_json::json!({ "iss": "countersign", "sub": "INV-1", "seq": 1, "hash": "x", "at": "t", "iat": 0 }))
        .unwrap();
    let err = read_checkpoint(&token, Some(&s.keyring())).unwrap_err();
    assert!(err.contains("not a checkpoint"), "{err}");
}

#[test]
fn a_jwks_document_without_keys_or_with_a_key_without_kid_is_refused() {
    assert!(Keyring::from_jwks(&serde_json::json!({})).is_err());
    assert!(Keyring::from_jwks(&serde_json::json!({ "keys": [{ "kty": "OKP" }] })).is_err());
    assert!(Keyring::from_jwks(&serde_json::json!({ "keys": [] }))
        .unwrap()
        .is_empty());
}

proptest! {
    #[test]
    fn any_head_signs_and_reads_back(seq in 1i64..i64::MAX, hash in "[0-9a-f]{64}") {
        let s = signer();
        let c = Checkpoint::sign(&s, seq, &hash, at()).unwrap();
        let kept = read_checkpoint(&c.to_line(), Some(&s.keyring())).unwrap();
        prop_assert_eq!((kept.seq, kept.hash), (seq, hash));
    }
}

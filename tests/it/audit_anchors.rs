//! The chain anchored outside the database: signed checkpoints of its head, kept by an
//! auditor, prove what a chain walk alone cannot. An edit with every seal recomputed, a cut
//! tail and a re-ordering each pass the walk (or are named by it) and each fail
//! `audit verify --checkpoint`; a receipt is checked the same way; checkpoints verify against
//! the published JWKS with a JWT library of its own, before and after a key rotation.

use crate::common::tamper::{behind_the_triggers, countersign, reseal_from, seq_of, Key, Run};
use crate::common::tempdir::TempDir;
use crate::common::Bot;
use countersign::api::receipt;
use countersign::audit::signer::ReceiptSigner;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sqlx::PgPool;
use std::path::{Path, PathBuf};

async fn story(bot: &Bot) {
    bot.say("alice", "new invoice amount=12500.00 vendor=ACME").await;
    bot.say("bob", "approve INV-1").await;
    bot.say("carol", "approve INV-1").await;
    bot.say("dave", "approve INV-1").await;
    bot.say("alice", "new invoice amount=80.00 vendor=Pens").await;
    bot.settle().await;
}

/// `countersign audit checkpoint` with `key`, kept in `dir/checkpoints.jsonl` as an auditor
/// keeps them; returns the file and the checkpoint.
fn keep_checkpoint(pool: &PgPool, key: &Key, dir: &Path) -> (PathBuf, Value) {
    let run = countersign(
        pool,
        &[("COUNTERSIGN_RECEIPT_KEY", &key.path)],
        &["audit", "checkpoint"],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let file = dir.join("checkpoints.jsonl");
    let mut kept = std::fs::read_to_string(&file).unwrap_or_default();
    kept.push_str(&run.stdout);
    std::fs::write(&file, kept).unwrap();
    (file, serde_json::from_str(run.stdout.trim()).unwrap())
}

fn verify(pool: &PgPool, key: &Key, args: &[&str]) -> Run {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    countersign(pool, &[("COUNTERSIGN_RECEIPT_KEY", &key.path)], &all)
}

/// Verifies a checkpoint's JWS against a JWKS document with jsonwebtoken, as any auditor's
/// tool would: the key its header names, EdDSA, issuer countersign.
fn verify_with_jwks(jws: &str, jwks: &Value) -> Value {
    let header = jsonwebtoken::decode_header(jws).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"].as_str() == header.kid.as_deref())
        .expect("the checkpoint's key is in the JWKS");
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::EdDSA);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.set_issuer(&["countersign"]);
    jsonwebtoken::decode::<Value>(jws, &key, &v)
        .expect("the checkpoint verifies")
        .claims
}

async fn head(pool: &PgPool) -> (i64, String) {
    sqlx::query_as("SELECT seq, hash FROM audit_seal ORDER BY seq DESC LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test]
async fn a_checkpoint_signs_the_head_is_recorded_and_verifies_against_the_jwks(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let dir = TempDir::new();
    let key = Key::new(dir.path(), "receipt.pem");
    let (seq, hash) = head(&pool).await;
    let (file, checkpoint) = keep_checkpoint(&pool, &key, dir.path());
    assert_eq!(
        (
            checkpoint["seq"].as_i64().unwrap(),
            checkpoint["hash"].as_str().unwrap()
        ),
        (seq, hash.as_str())
    );
    let claims = verify_with_jwks(checkpoint["jws"].as_str().unwrap(), &receipt::jwks(Some(&key.signer)));
    assert_eq!(claims["sub"], "audit-chain");
    assert_eq!(
        (claims["seq"].as_i64().unwrap(), claims["hash"].as_str().unwrap()),
        (seq, hash.as_str())
    );
    assert_eq!(checkpoint["kid"], key.signer.kid());
    // The log records it; asked again with nothing new, it is the same checkpoint.
    bot.settle().await;
    assert_eq!(bot.audit_lines().await.last().unwrap(), "audit.checkpoint done");
    let (_, again) = keep_checkpoint(&pool, &key, dir.path());
    assert_eq!(again, checkpoint);
    let run = verify(&pool, &key, &["--checkpoint", file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains(
            "OK: 2 of 2 kept checkpoints and receipts are in the chain with their hashes (signatures checked)"
        ),
        "{}",
        run.stdout
    );
}

#[sqlx::test]
async fn an_edit_with_every_seal_recomputed_passes_the_walk_but_not_a_kept_checkpoint(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let dir = TempDir::new();
    let key = Key::new(dir.path(), "receipt.pem");
    let (file, checkpoint) = keep_checkpoint(&pool, &key, dir.path());
    bot.say("alice", "new invoice amount=5.00 vendor=Tea").await;
    bot.settle().await;
    let victim = seq_of(&pool, "vote.approve", "done").await;
    behind_the_triggers(
        &pool,
        &[
            "UPDATE audit_log SET details = details || '{\"note\": \"nothing happened\"}' \
           WHERE id = (SELECT entry_id FROM audit_seal WHERE seq = $1)",
        ],
        victim,
    )
    .await;
    reseal_from(&pool, victim).await;
    let walk = verify(&pool, &key, &[]);
    assert_eq!(walk.code, 0, "the walk alone cannot see a rewrite: {}", walk.stdout);
    let run = verify(&pool, &key, &["--checkpoint", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let named = format!(
        "NOT HELD: {}:1: checkpoint #{} (signed ",
        file.display(),
        checkpoint["seq"]
    );
    assert!(run.stdout.contains(&named), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("the entries up to it were changed, re-ordered or re-sealed"),
        "{}",
        run.stdout
    );
}

#[sqlx::test]
async fn a_cut_tail_is_caught_by_a_kept_checkpoint(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let dir = TempDir::new();
    let key = Key::new(dir.path(), "receipt.pem");
    let (file, checkpoint) = keep_checkpoint(&pool, &key, dir.path());
    let at = checkpoint["seq"].as_i64().unwrap();
    behind_the_triggers(
        &pool,
        &[
            "DELETE FROM audit_log WHERE id IN (SELECT entry_id FROM audit_seal WHERE seq >= $1)",
            "DELETE FROM audit_seal WHERE seq >= $1",
            "DELETE FROM audit_log WHERE action = 'audit.checkpoint'",
        ],
        at - 1,
    )
    .await;
    let run = verify(&pool, &key, &["--checkpoint", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("OK: "),
        "the walk finds the shorter chain whole: {}",
        run.stdout
    );
    let named = format!("checkpoint #{at} (signed ");
    assert!(run.stdout.contains(&named), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("the chain ends at #{}: entries were cut off its end", at - 2)),
        "{}",
        run.stdout
    );
}

#[sqlx::test]
async fn two_seals_swapped_are_named_by_the_walk_and_resealed_by_the_checkpoint(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let dir = TempDir::new();
    let key = Key::new(dir.path(), "receipt.pem");
    let (file, _) = keep_checkpoint(&pool, &key, dir.path());
    let swap = [
        "UPDATE audit_seal SET entry_id = -entry_id WHERE seq IN ($1, $1 + 1)",
        "UPDATE audit_seal s SET entry_id = -o.entry_id FROM audit_seal o \
         WHERE s.seq IN ($1, $1 + 1) AND o.seq IN ($1, $1 + 1) AND o.seq <> s.seq AND s.entry_id < 0 AND o.entry_id < 0",
    ];
    behind_the_triggers(&pool, &swap[..1], 2).await;
    behind_the_triggers(&pool, &swap[1..], 2).await;
    let run = verify(&pool, &key, &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("BROKEN at entry #2: its content does not match its hash"),
        "{}",
        run.stdout
    );
    reseal_from(&pool, 2).await;
    let run = verify(&pool, &key, &["--checkpoint", file.to_str().unwrap()]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(run.stdout.starts_with("OK: "), "{}", run.stdout);
    assert!(run.stdout.contains("NOT HELD: "), "{}", run.stdout);
}

#[sqlx::test]
async fn a_receipt_is_checked_against_the_chain_and_its_signature(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let dir = TempDir::new();
    let key = Key::new(dir.path(), "receipt.pem");
    let view = bot.engine.current_view("INV-1").await.unwrap().unwrap();
    let claims = receipt::claims(&bot.engine, &view).await.unwrap();
    let file = dir.path().join("INV-1.jwt");
    std::fs::write(&file, key.signer.sign(&claims).unwrap()).unwrap();
    let run = verify(&pool, &key, &["--receipt", file.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("OK: 1 of 1 kept"), "{}", run.stdout);

    // A receipt made up by someone without the key.
    let forger = Key::new(dir.path(), "forger.pem");
    let forged = dir.path().join("forged.jwt");
    std::fs::write(&forged, forger.signer.sign(&claims).unwrap()).unwrap();
    let run = verify(&pool, &key, &["--receipt", forged.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("which is not among the published keys"),
        "{}",
        run.stdout
    );

    // The decision's entry rewritten with every seal after it.
    behind_the_triggers(
        &pool,
        &["UPDATE audit_log SET details = '{}' WHERE id = (SELECT entry_id FROM audit_seal WHERE seq = $1)"],
        claims.audit.seq,
    )
    .await;
    reseal_from(&pool, claims.audit.seq).await;
    let run = verify(&pool, &key, &["--receipt", file.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("NOT HELD: "), "{}", run.stdout);
    assert!(
        run.stdout.contains("receipt of INV-1 (approved): the chain has hash"),
        "{}",
        run.stdout
    );
}

#[sqlx::test]
async fn checkpoints_signed_before_a_key_rotation_verify_with_the_previous_jwks(pool: PgPool) {
    let bot = Bot::new(pool.clone()).await;
    story(&bot).await;
    let dir = TempDir::new();
    let old = Key::new(dir.path(), "old.pem");
    let (file, _) = keep_checkpoint(&pool, &old, dir.path());
    let new = Key::new(dir.path(), "new.pem");
    let run = verify(&pool, &new, &["--checkpoint", file.to_str().unwrap()]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("which is not among the published keys"),
        "{}",
        run.stdout
    );

    let previous = dir.path().join("previous-jwks.json");
    std::fs::write(&previous, receipt::jwks(Some(&old.signer)).to_string()).unwrap();
    let env = [
        ("COUNTERSIGN_RECEIPT_KEY", new.path.as_path()),
        ("COUNTERSIGN_RECEIPT_PREVIOUS_JWKS", &previous),
    ];
    let run = countersign(
        &pool,
        &env,
        &["audit", "verify", "--checkpoint", file.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let rotated = ReceiptSigner::from_pem_file(&new.path)
        .unwrap()
        .with_previous_jwks_file(&previous)
        .unwrap();
    let kids: Vec<Value> = receipt::jwks(Some(&rotated))["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, vec![Value::from(new.signer.kid()), Value::from(old.signer.kid())]);
    // An auditor's own copy of the JWKS works without any key of the server's.
    let jwks = dir.path().join("jwks.json");
    std::fs::write(&jwks, receipt::jwks(Some(&rotated)).to_string()).unwrap();
    let run = countersign(
        &pool,
        &[],
        &[
            "audit",
            "verify",
            "--jwks",
            jwks.to_str().unwrap(),
            "--checkpoint",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

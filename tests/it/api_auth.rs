//! Who may call the API: every kind of bad token gets 401 with a JSON body that says what to do,
//! a good token without the permission gets 403, and every refusal is audited.

use crate::common::api_harness::{ApiBot, SECRET};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;

/// GET /api/v1/requests with `token` (or none); returns status, WWW-Authenticate and body.
async fn attempt(api: &ApiBot, token: Option<&str>) -> (u16, Option<String>, Value) {
    let res = api.call(Method::GET, "/api/v1/requests", token).send().await.unwrap();
    let status = res.status().as_u16();
    let www = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, www, res.json().await.unwrap())
}

/// An HS256 token with a header of our choosing, signed with the server's secret.
fn hs256_with_header(header: &Value, claims: &Value) -> String {
    use hmac::{Hmac, Mac};
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[sqlx::test]
async fn every_bad_token_is_refused_with_401_and_audited(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let now = api.now();
    let claims = |extra: Value| {
        let mut c = json!({ "sub": "erp", "aud": "countersign", "exp": now + 600 });
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "missing Authorization header"),
        ("malformed", Some("not.a.jwt".into()), "malformed token"),
        ("not even three parts", Some("abc".into()), "malformed token"),
        (
            "expired",
            Some(api.sign_hs256(&claims(json!({ "exp": now - 120 })), SECRET)),
            "expired",
        ),
        (
            "wrong audience",
            Some(api.sign_hs256(&claims(json!({ "aud": "billing" })), SECRET)),
            "audience",
        ),
        (
            "no audience",
            Some(api.sign_hs256(&json!({ "sub": "erp", "exp": now + 600 }), SECRET)),
            "`aud`",
        ),
        (
            "no expiry",
            Some(api.sign_hs256(&json!({ "sub": "erp", "aud": "countersign" }), SECRET)),
            "`exp`",
        ),
        ("alg none", Some(none_token), "none are not accepted"),
        (
            "wrong secret",
            Some(api.sign_hs256(&claims(json!({})), "another-secret-of-enough-length-000000")),
            "signature",
        ),
        (
            "not yet valid",
            Some(api.sign_hs256(&claims(json!({ "nbf": now + 600 })), SECRET)),
            "not valid yet",
        ),
        (
            "issued in the future",
            Some(api.sign_hs256(&claims(json!({ "iat": now + 600 })), SECRET)),
            "not valid yet",
        ),
        (
            "a critical extension this server does not know",
            Some(hs256_with_header(
                &json!({ "alg": "HS256", "typ": "JWT", "crit": ["x-step-up"], "x-step-up": true }),
                &claims(json!({})),
            )),
            "`crit`",
        ),
        (
            "unknown subject",
            Some(api.sign_hs256(&claims(json!({ "sub": "mallory" })), SECRET)),
            "`mallory` is not a person or service",
        ),
    ];
    for (what, token, expected) in &cases {
        let (status, www, body) = attempt(&api, token.as_deref()).await;
        assert_eq!(status, 401, "{what}: {body}");
        let www = www.unwrap_or_else(|| panic!("{what}: no WWW-Authenticate"));
        assert!(www.starts_with("Bearer realm=\"countersign\""), "{what}: {www}");
        assert_eq!(www.contains("invalid_token"), token.is_some(), "{what}: {www}");
        assert_eq!(body["error"], "unauthenticated", "{what}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(expected), "{what}: {message}");
        if let Some(t) = token {
            assert!(!message.contains(t.as_str()), "{what}: the token is echoed back");
        }
    }
    // The first refusal of each identity in a minute is recorded in full; the others are
    // counted, with what each was told, in one entry when the minute is over.
    api.slack.bot.clock.advance(chrono::TimeDelta::seconds(61));
    api.slack.bot.engine.flush_refusal_counts().await.unwrap();
    let counted: Vec<Value> =
        sqlx::query_scalar("SELECT details FROM audit_log WHERE details ? 'repeated' ORDER BY id")
            .fetch_all(api.slack.bot.engine.pool())
            .await
            .unwrap();
    let repeated: u64 = counted.iter().map(|d| d["repeated"].as_u64().unwrap()).sum();
    let refusals = api.refusals().await;
    assert_eq!(
        refusals.len() - counted.len() + repeated as usize,
        cases.len(),
        "{refusals:#?} {counted:#?}"
    );
    let told: Vec<String> = sqlx::query_scalar(
        "SELECT details->>'message' FROM audit_log WHERE reason = 'unauthenticated' AND NOT details ? 'repeated'",
    )
    .fetch_all(api.slack.bot.engine.pool())
    .await
    .unwrap();
    for (what, _, expected) in &cases {
        let in_full = told.iter().any(|m| m.contains(expected));
        let in_count = counted
            .iter()
            .any(|d| d["messages"].as_object().unwrap().keys().any(|m| m.contains(expected)));
        assert!(
            in_full || in_count,
            "{what}: {expected:?} is not in the log: {told:#?} {counted:#?}"
        );
    }
    assert_eq!(
        refusals
            .iter()
            .filter(|r| *r == "api:? request.viewed unauthenticated")
            .count(),
        2,
        "the first in full and one count: {refusals:#?}"
    );
    assert!(refusals.contains(&"api:mallory request.viewed unauthenticated".to_string()));
    assert_eq!(api.slack.bot.count("requests").await, 0);
}

#[sqlx::test]
async fn a_token_within_the_leeway_is_accepted_and_eddsa_tokens_work_too(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let now = api.now();
    // Expired 10 s ago and issued 10 s ahead: inside the 30 s leeway for clock skew.
    let skewed = api.sign_hs256(
        &json!({ "sub": "erp", "aud": "countersign", "exp": now - 10, "iat": now + 10 }),
        SECRET,
    );
    assert_eq!(attempt(&api, Some(&skewed)).await.0, 200);
    let eddsa = api.sign_eddsa(&json!({ "sub": "grace", "aud": ["countersign"], "exp": now + 60 }));
    let (status, _, body) = attempt(&api, Some(&eddsa)).await;
    assert_eq!(status, 200, "{body}");
    // An HS256 token signed with the EdDSA public key's bytes (algorithm confusion) is refused.
    let (status, _, body) = attempt(
        &api,
        Some(&api.sign_hs256(&json!({ "sub": "erp", "aud": "countersign", "exp": now + 60 }), "short")),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(api.refusals().await.len() == 1);
}

#[sqlx::test]
async fn a_valid_token_without_the_permission_gets_403_and_is_audited(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    // Frank (an engineer) may not open invoices.
    let body = json!({ "workflow": "invoice", "fields": { "amount": "100.00", "vendor": "ACME" } });
    let (status, answer) = api.open("frank", &body, None).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"], "not_permitted");
    assert!(answer["message"].as_str().unwrap().contains("analyst"), "{answer}");
    // The ERP service may not read the whole audit log; the SIEM collector may.
    let res = api
        .call(Method::GET, "/api/v1/audit", Some(&api.token("erp")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 403);
    let res = api
        .call(Method::GET, "/api/v1/audit", Some(&api.token("siem")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    // An unknown ref is 404, and audited like any refused view.
    let (status, _) = api.get("/api/v1/requests/INV-99", "bob").await;
    assert_eq!(status, 404);
    assert_eq!(
        api.refusals().await,
        vec![
            "api:frank request.opened not_permitted",
            "api:erp audit.exported not_permitted",
            "api:bob request.viewed unknown_ref",
        ]
    );
    assert_eq!(api.slack.bot.count("requests").await, 0);
}

#[sqlx::test]
async fn a_server_without_api_keys_answers_501_and_records_nothing(pool: PgPool) {
    let slack = crate::common::slack_harness::SlackBot::start(pool).await;
    let before = slack.bot.count("audit_log").await;
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/requests", slack.base))
        .bearer_auth("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 501);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_configured");
    assert!(body["message"].as_str().unwrap().contains("COUNTERSIGN_API_JWT_SECRET"));
    assert_eq!(slack.bot.count("audit_log").await, before);
    // The key set is published, empty, for verifiers to find.
    let jwks: Value = reqwest::get(format!("{}/.well-known/jwks.json", slack.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks, json!({ "keys": [] }));
}

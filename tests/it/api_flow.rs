//! Other systems through the API: a service opens a request that approvers decide in Slack, the
//! decision comes back as a receipt that verifies against the JWKS and reaches a webhook through
//! a failing receiver, a retried POST opens one request, and the routes match docs/openapi.yaml.

use crate::common::api_harness::{ApiBot, ANNOUNCE};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A webhook receiver on loopback that fails `failures` times with 500, then accepts.
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(u16, HeaderMap, Value)>>>,
    failures: usize,
}

impl Receiver {
    async fn start(failures: usize) -> (Receiver, String) {
        let r = Receiver {
            failures,
            ..Receiver::default()
        };
        let app = axum::Router::new()
            .route("/receipts", axum::routing::post(Receiver::take))
            .with_state(r.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/receipts", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (r, url)
    }

    async fn take(State(r): State<Receiver>, headers: HeaderMap, body: axum::body::Bytes) -> StatusCode {
        let mut seen = r.seen.lock().unwrap();
        let status = if seen.len() < r.failures { 500 } else { 200 };
        seen.push((status, headers, serde_json::from_slice(&body).unwrap()));
        StatusCode::from_u16(status).unwrap()
    }

    async fn accepted(&self, timeout: Duration) -> (HeaderMap, Value) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some((_, h, b)) = self.seen.lock().unwrap().iter().find(|(s, _, _)| *s == 200) {
                return (h.clone(), b.clone());
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no receipt was accepted in {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Verifies a receipt against the server's JWKS; returns its claims.
async fn verify_receipt(api: &ApiBot, token: &str) -> Value {
    let jwks: Value = api
        .call(Method::GET, "/.well-known/jwks.json", None)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == json!(header.kid))
        .expect("kid in JWKS");
    assert_eq!(jwk["kty"], "OKP");
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap()).unwrap();
    let mut v = Validation::new(Algorithm::EdDSA);
    v.required_spec_claims.clear();
    v.validate_exp = false;
    v.set_issuer(&["countersign"]);
    jsonwebtoken::decode::<Value>(token, &key, &v)
        .expect("the receipt verifies")
        .claims
}

#[sqlx::test]
async fn a_service_opens_a_request_that_approvers_decide_in_slack_and_gets_a_signed_receipt(pool: PgPool) {
    let (receiver, url) = Receiver::start(2).await;
    let api = ApiBot::start(pool, Some(&url)).await;
    let body = json!({ "workflow": "invoice", "fields": { "amount": "12500.00", "vendor": "ACME GmbH" } });
    let (status, opened) = api.open("erp", &body, Some("erp-po-7781")).await;
    assert_eq!(status, 201, "{opened}");
    assert_eq!(opened["ref"], "INV-1");
    assert_eq!(opened["status"], "pending");
    assert_eq!(opened["requester"], json!({ "id": "erp", "name": "ERP system" }));
    assert_eq!(
        opened["needed"],
        json!([{ "role": "finance-approver", "missing": 1 }, { "role": "finance-director", "missing": 1 }])
    );

    // Announced in the workflow's channel, and sent to the approvers privately.
    let fake = &api.slack.fake;
    let posts = fake.wait_for("chat.postMessage", 4, Duration::from_secs(5)).await;
    assert!(posts.iter().any(|c| c.body["channel"] == ANNOUNCE), "{posts:#?}");
    for approver in ["U0CAROL", "U0HEIDI", "U0DAVE"] {
        assert!(
            posts.iter().any(|c| c.body["channel"] == approver),
            "no DM to {approver}"
        );
    }

    // Decided in Slack.
    for person in ["carol", "dave"] {
        let payload = api.slack.press_payload(person, "approve", "INV-1@1", ANNOUNCE);
        assert_eq!(api.slack.interact(&payload, &[]).await.0, 200);
    }
    let (status, request) = api.get("/api/v1/requests/INV-1", "erp").await;
    assert_eq!(status, 200);
    assert_eq!(request["status"], "approved");
    assert_eq!(request["votes"].as_array().unwrap().len(), 2);
    assert_eq!(request["needed"], json!([]));
    assert_eq!(request["fields"]["amount"], "12,500.00 EUR");

    // The receipt, read back and verified against the published key.
    let (status, answer) = api.get("/api/v1/requests/INV-1/receipt", "erp").await;
    assert_eq!(status, 200, "{answer}");
    let claims = verify_receipt(&api, answer["receipt"].as_str().unwrap()).await;
    assert_eq!(claims["ref"], "INV-1");
    assert_eq!(claims["status"], "approved");
    assert_eq!(claims["rule"], "large");
    assert_eq!(claims["approvers"], json!(["carol", "dave"]));
    let (seq, hash): (i64, String) = sqlx::query_as(
        "SELECT s.seq, s.hash FROM audit_log a JOIN audit_seal s ON s.entry_id = a.id \
         WHERE a.ref = 'INV-1' AND a.action = 'request.approved'",
    )
    .fetch_one(api.slack.bot.engine.pool())
    .await
    .unwrap();
    assert_eq!(claims["audit"]["seq"], seq);
    assert_eq!(claims["audit"]["hash"], hash);
    // Asked again, it is the same token.
    let (_, again) = api.get("/api/v1/requests/INV-1/receipt", "erp").await;
    assert_eq!(again["receipt"], answer["receipt"]);

    // The webhook got it on the third try, exactly once accepted.
    let (headers, delivered) = receiver.accepted(Duration::from_secs(10)).await;
    assert_eq!(delivered["event"], "request.approved");
    assert_eq!(delivered["receipt"], answer["receipt"]);
    assert_eq!(headers["idempotency-key"], "INV-1:request.approved");
    api.slack.drained().await;
    let seen = receiver
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(s, _, _)| *s)
        .collect::<Vec<_>>();
    assert_eq!(seen, vec![500, 500, 200]);

    // The requester cannot be told in chat (a service), and nothing is dead.
    let dead: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL")
        .fetch_one(api.slack.bot.engine.pool())
        .await
        .unwrap();
    assert_eq!(dead, 0);
    api.slack.bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn a_retried_post_with_the_same_key_opens_one_request(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let body = json!({ "workflow": "invoice", "fields": { "amount": 1200, "vendor": "ACME GmbH" } });
    let (first, a) = api.open("erp", &body, Some("retry-1")).await;
    let (second, b) = api.open("erp", &body, Some("retry-1")).await;
    assert_eq!((first, second), (201, 201));
    assert_eq!(a["ref"], b["ref"]);
    assert_eq!(api.slack.bot.count("requests").await, 1);
    // The same key from another caller is another key.
    let (status, c) = api.open("alice", &body, Some("retry-1")).await;
    assert_eq!(status, 201);
    assert_ne!(c["ref"], a["ref"]);
    // Without a key, a second POST is a second request.
    api.open("erp", &body, None).await;
    assert_eq!(api.slack.bot.count("requests").await, 3);
}

#[sqlx::test]
async fn bad_input_gets_422_field_by_field_or_400_and_changes_nothing(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    let bad = json!({ "workflow": "invoice", "fields": { "amount": "-5.001", "vendor": "" } });
    let (status, answer) = api.open("erp", &bad, None).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"], "invalid_input");
    let fields: Vec<&str> = answer["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"amount"), "{answer}");
    let (status, answer) = api
        .open(
            "erp",
            &json!({ "workflow": "invoice", "fields": { "amount": true } }),
            None,
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("string or a number"));
    let (status, answer) = api.open("erp", &json!({ "flow": "invoice" }), None).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = api.get("/api/v1/requests?status=done", "erp").await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = api.get("/api/v1/audit?since=yesterday", "siem").await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(api.slack.bot.count("requests").await, 0);
    assert_eq!(api.refusals().await.len(), 5);
}

#[sqlx::test]
async fn listing_pages_through_requests_and_the_siem_pulls_the_log_as_json_lines(pool: PgPool) {
    let api = ApiBot::start(pool, None).await;
    for vendor in ["A", "B", "C"] {
        let body = json!({ "workflow": "invoice", "fields": { "amount": "10.00", "vendor": vendor } });
        assert_eq!(api.open("erp", &body, None).await.0, 201);
    }
    let (_, page1) = api
        .get("/api/v1/requests?status=pending&workflow=invoice&limit=2", "grace")
        .await;
    let refs: Vec<&str> = page1["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["INV-3", "INV-2"]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = api
        .get(&format!("/api/v1/requests?limit=2&cursor={cursor}"), "grace")
        .await;
    let refs: Vec<&str> = page2["requests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap())
        .collect();
    assert_eq!(refs, ["INV-1"]);
    assert_eq!(page2["next_cursor"], Value::Null);
    // Frank (an engineer) sees no invoices.
    let (_, none) = api.get("/api/v1/requests", "frank").await;
    assert_eq!(none["requests"], json!([]));

    // Everything so far is chained before the pull, whatever other tests hold open.
    api.slack.bot.settle().await;
    let res = api
        .call(
            Method::GET,
            "/api/v1/audit?since=2026-01-01T00:00:00Z",
            Some(&api.token("siem")),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.iter().filter(|l| l["action"] == "request.opened").count(), 3);
    // The pull itself is on the record (it reaches the stream once the chain seals it).
    let pulls: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'audit.exported' AND actor = 'siem' AND outcome = 'done'",
    )
    .fetch_one(api.slack.bot.engine.pool())
    .await
    .unwrap();
    assert_eq!(pulls, 1);
    assert!(lines
        .windows(2)
        .all(|w| w[1]["seq"].as_i64() == Some(w[0]["seq"].as_i64().unwrap() + 1)));
}

/// The operations of docs/openapi.yaml, as (METHOD, path), read by indentation.
fn documented() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.yaml")).unwrap();
    let mut out = Vec::new();
    let (mut in_paths, mut path) = (false, String::new());
    for line in doc.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            in_paths = line.trim_end() == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  ").filter(|l| l.starts_with('/')) {
            path = p.trim_end().trim_end_matches(':').to_string();
        } else if let Some(m) = line.strip_prefix("    ").filter(|l| !l.starts_with(' ')) {
            let m = m.trim_end().trim_end_matches(':');
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                out.push((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[sqlx::test]
async fn every_route_is_in_the_openapi_document_and_the_other_way_round(pool: PgPool) {
    let mut served: Vec<(String, String)> = countersign::api::routes()
        .into_iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let mut doc = documented();
    served.sort();
    doc.sort();
    assert_eq!(served, doc, "docs/openapi.yaml and the API's routes differ");
    // And each is really served (an unauthenticated call is refused, never 404 or 405).
    let api = ApiBot::start(pool, None).await;
    for (method, path) in &served {
        let path = path.replace("{ref}", "INV-1");
        let res = api.call(method.parse().unwrap(), &path, None).send().await.unwrap();
        assert!(
            ![404, 405].contains(&res.status().as_u16()),
            "{method} {path}: {}",
            res.status()
        );
    }
}

#[sqlx::test]
async fn a_checkpoint_reaches_its_webhook_and_the_siems_pull_as_a_line_that_verifies(pool: PgPool) {
    use countersign::audit::checkpoint::{holds, read_checkpoint};
    use countersign::engine::checkpoint::Occasion;
    let (receiver, url) = Receiver::start(1).await;
    let api = ApiBot::start(pool.clone(), Some(&url)).await;
    let engine = &api.slack.bot.engine;
    // Other tests' transactions on the same server can hold sealing back for a moment.
    api.slack.bot.settle().await;
    let signed = engine
        .checkpoint(&api.receipts, Occasion::Asked)
        .await
        .unwrap()
        .unwrap();

    // Pushed to the subscribed receiver (after one failure), as one line of a kept file.
    let (headers, body) = receiver.accepted(Duration::from_secs(10)).await;
    assert_eq!(body["event"], "audit.checkpoint");
    assert_eq!(body["jws"], signed.jws.as_str());
    assert_eq!(
        headers["idempotency-key"],
        format!("checkpoint:{}", signed.seq).as_str()
    );
    let kept = read_checkpoint(&body.to_string(), Some(&api.receipts.keyring())).unwrap();
    assert_eq!((kept.seq, kept.hash.as_str()), (signed.seq, signed.hash.as_str()));
    assert_eq!(holds(&pool, &kept).await.unwrap(), Ok(()));

    // Pulled by the SIEM (an auditor), paged by position.
    let (status, page) = api.get("/api/v1/audit/checkpoints", "siem").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["checkpoints"][0]["jws"], signed.jws.as_str());
    assert_eq!(page["next_after"], Value::Null);
    let (_, later) = api
        .get(&format!("/api/v1/audit/checkpoints?after={}", signed.seq), "siem")
        .await;
    assert_eq!(later["checkpoints"], json!([]));

    // Refused, and each refusal recorded: not an auditor, and parameters that do not read.
    assert_eq!(api.get("/api/v1/audit/checkpoints", "erp").await.0, 403);
    for bad in ["after=-1", "limit=0", "limit=5000", "since=2026-01-01"] {
        let (status, answer) = api.get(&format!("/api/v1/audit/checkpoints?{bad}"), "siem").await;
        assert_eq!(status, 400, "{bad}: {answer}");
    }
    let refused: Vec<(String, String)> = sqlx::query_as(
        "SELECT actor, reason FROM audit_log WHERE action = 'audit.checkpoint' AND outcome = 'refused' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut expected = vec![("erp".to_string(), "not_permitted".to_string())];
    expected.extend(std::iter::repeat_n(
        ("siem".to_string(), "invalid_input".to_string()),
        4,
    ));
    assert_eq!(refused, expected);
}

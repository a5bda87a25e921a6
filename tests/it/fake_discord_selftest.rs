//! Owns the self-test of the Discord test doubles: raw HTTP against `common/fake_discord.rs`
//! (routes, wire shapes, scripted failures, auth), and `common/discord_sign.rs` against the
//! signature vectors in the conformance corpus's discord/signatures.json (in the project,
//! in `tests/fixtures/conformance/`).

use crate::common::discord_sign;
use crate::common::fake_discord;

use ed25519_dalek::{Signature, VerifyingKey};
use fake_discord::{FakeDiscord, Scripted, APPLICATION_ID, BOT_TOKEN};
use serde_json::{json, Value};
use std::time::Duration;

/// The Discord part of the conformance corpus, kept in the project under tests/fixtures.
fn conformance() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/conformance/discord").to_owned()
}

/// A client of the fake that sends `Authorization: Bot <BOT_TOKEN>` (or `auth` if given).
struct Api {
    http: reqwest::Client,
    base: String,
    auth: Option<String>,
}

impl Api {
    fn new(fake: &FakeDiscord) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: format!("{}/api/v10", fake.base_url()),
            auth: Some(format!("Bot {BOT_TOKEN}")),
        }
    }

    fn with_auth(fake: &FakeDiscord, auth: Option<&str>) -> Api {
        Api {
            auth: auth.map(String::from),
            ..Api::new(fake)
        }
    }

    /// Sends `method path` with a JSON body; returns status, headers and the parsed JSON reply.
    async fn send(&self, method: &str, path: &str, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, format!("{}{path}", self.base)).json(&body);
        if let Some(a) = &self.auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{headers:?}"
        );
        (status, headers, resp.json().await.unwrap())
    }
}

fn conformance_json(name: &str) -> Value {
    let path = format!("{}/api/{name}", conformance());
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&raw).unwrap()
}

fn is_snowflake(v: &Value) -> bool {
    let s = v.as_str().unwrap_or("");
    (18..=19).contains(&s.len()) && s.parse::<u64>().is_ok()
}

#[tokio::test]
async fn messages_create_edit_and_unknown() {
    let fake = FakeDiscord::start().await;
    let api = Api::new(&fake);
    let body = json!({
        "content": "deploy web-7?",
        "embeds": [{"title": "Request R-1", "color": 5793266}],
        "components": [{"type": 1, "components": [{"type": 2, "style": 3, "label": "Approve", "custom_id": "approve:R-1"}]}],
        "allowed_mentions": {"parse": []},
    });
    let (status, _, first) = api.send("POST", "/channels/111111111111111111/messages", body).await;
    assert_eq!(status, 200, "{first}");
    assert!(is_snowflake(&first["id"]), "{first}");
    assert_eq!(first["channel_id"], "111111111111111111");
    assert_eq!(first["content"], "deploy web-7?");
    assert_eq!(first["embeds"][0]["title"], "Request R-1");
    assert_eq!(first["embeds"][0]["type"], "rich", "Discord fills in the embed type");
    assert_eq!(first["components"][0]["components"][0]["custom_id"], "approve:R-1");
    assert_eq!(first["author"]["id"], APPLICATION_ID);
    assert_eq!(first["author"]["bot"], true);
    assert_eq!(first["type"], 0);
    assert_eq!(first["edited_timestamp"], Value::Null);
    assert!(
        first["timestamp"].as_str().unwrap().starts_with("2026-01-05T09:00:00."),
        "{first}"
    );

    let (_, _, second) = api
        .send("POST", "/channels/111111111111111111/messages", json!({"content": "b"}))
        .await;
    let (a, b) = (first["id"].as_str().unwrap(), second["id"].as_str().unwrap());
    assert!(
        b.parse::<u64>().unwrap() > a.parse::<u64>().unwrap(),
        "ids increase: {a} {b}"
    );

    let path = format!("/channels/111111111111111111/messages/{a}");
    let (status, _, edited) = api
        .send("PATCH", &path, json!({"content": "approved", "components": []}))
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["id"], first["id"]);
    assert_eq!(edited["content"], "approved");
    assert_eq!(edited["components"], json!([]));
    assert_eq!(edited["embeds"], first["embeds"], "fields not sent are kept");
    assert!(edited["edited_timestamp"].is_string());

    let unknown = json!({"message": "Unknown Message", "code": 10008});
    let (status, _, reply) = api
        .send(
            "PATCH",
            "/channels/111111111111111111/messages/123456789012345678",
            json!({"content": "x"}),
        )
        .await;
    assert_eq!((status, reply), (404, unknown.clone()));
    let (status, _, reply) = api
        .send(
            "PATCH",
            &format!("/channels/222222222222222222/messages/{a}"),
            json!({}),
        )
        .await;
    assert_eq!(
        (status, reply),
        (404, unknown),
        "a message is only found in its own channel"
    );

    let (status, _, reply) = api.send("POST", "/channels/1/messages", json!({"content": ""})).await;
    assert_eq!(
        (status, reply),
        (400, json!({"message": "Cannot send an empty message", "code": 50006}))
    );

    assert_eq!(fake.calls().len(), 6);
    assert_eq!(fake.calls_to("POST", "/api/v10/channels/").len(), 2);
    let edits = fake.calls_to("PATCH", "/api/v10/channels/");
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].path, format!("/api/v10{path}"));
    assert_eq!(edits[0].body["content"], "approved");
    assert_eq!(fake.calls()[0].body["allowed_mentions"], json!({"parse": []}));
}

#[tokio::test]
async fn dm_channels_are_per_user() {
    let fake = FakeDiscord::start().await;
    let api = Api::new(&fake);
    let alice = "200000000000000001";
    let (status, _, dm) = api
        .send("POST", "/users/@me/channels", json!({"recipient_id": alice}))
        .await;
    assert_eq!(status, 200, "{dm}");
    assert_eq!(dm["id"], fake.dm_channel_of(alice));
    assert!(is_snowflake(&dm["id"]));
    assert_eq!(dm["type"], 1);
    assert_eq!(dm["recipients"][0]["id"], alice);
    let (_, _, again) = api
        .send("POST", "/users/@me/channels", json!({"recipient_id": alice}))
        .await;
    assert_eq!(again["id"], dm["id"]);
    assert_ne!(fake.dm_channel_of("200000000000000002"), fake.dm_channel_of(alice));

    // A message into the DM channel, as a bot does next.
    let path = format!("/channels/{}/messages", fake.dm_channel_of(alice));
    let (_, _, msg) = api
        .send("POST", &path, json!({"content": "your approval is needed"}))
        .await;
    assert_eq!(msg["channel_id"], dm["id"]);

    let (status, _, bad) = api.send("POST", "/users/@me/channels", json!({})).await;
    assert_eq!(status, 400);
    assert_eq!(bad["code"], 50035);
    assert_eq!(
        bad["errors"]["recipient_id"]["_errors"][0]["code"],
        "BASE_TYPE_REQUIRED"
    );
    assert_eq!(fake.calls_to("POST", "/api/v10/users/@me/channels").len(), 2);
}

#[tokio::test]
async fn interaction_webhooks() {
    let fake = FakeDiscord::start().await;
    let api = Api::new(&fake);
    let original = format!("/webhooks/{APPLICATION_ID}/tok-abc/messages/@original");
    let (status, _, m) = api
        .send(
            "PATCH",
            &original,
            json!({"content": "Approved by Alice", "components": []}),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    assert!(is_snowflake(&m["id"]));
    assert_eq!(m["content"], "Approved by Alice");
    assert_eq!(m["webhook_id"], APPLICATION_ID);
    let (_, _, m2) = api.send("PATCH", &original, json!({"content": "Approved (2/2)"})).await;
    assert_eq!(m2["id"], m["id"], "@original is one message per token");
    assert_eq!(m2["content"], "Approved (2/2)");

    let followup = format!("/webhooks/{APPLICATION_ID}/tok-abc");
    let (status, _, f) = api
        .send("POST", &followup, json!({"content": "only you", "flags": 64}))
        .await;
    assert_eq!(status, 200, "{f}");
    assert_ne!(f["id"], m["id"]);
    assert_eq!(f["flags"], 64);

    // Interaction webhooks are authorized by their token: no Authorization header is fine.
    let (status, _, _) = Api::with_auth(&fake, None)
        .send("POST", &followup, json!({"content": "x"}))
        .await;
    assert_eq!(status, 200);
    let (status, _, reply) = api.send("POST", "/webhooks/1/tok-abc", json!({"content": "x"})).await;
    assert_eq!(
        (status, reply),
        (404, json!({"message": "Unknown Webhook", "code": 10015}))
    );

    assert_eq!(fake.calls_to("PATCH", "/api/v10/webhooks/").len(), 2);
    assert_eq!(fake.calls_to("POST", &format!("/api/v10{followup}")).len(), 2);
}

#[tokio::test]
async fn command_registration_echoes_with_ids() {
    let fake = FakeDiscord::start().await;
    let api = Api::new(&fake);
    let commands = json!([
        {"name": "approve", "description": "Request an approval", "options": [
            {"type": 3, "name": "action", "description": "what", "required": true}]},
        {"name": "requests", "description": "List open requests"},
    ]);
    let global = format!("/applications/{APPLICATION_ID}/commands");
    let (status, _, got) = api.send("PUT", &global, commands.clone()).await;
    assert_eq!(status, 200, "{got}");
    let got = got.as_array().unwrap();
    assert_eq!(got.len(), 2);
    for (sent, back) in commands.as_array().unwrap().iter().zip(got) {
        assert!(is_snowflake(&back["id"]), "{back}");
        assert!(is_snowflake(&back["version"]), "{back}");
        assert_eq!(back["application_id"], APPLICATION_ID);
        assert_eq!(back["type"], 1);
        for (k, v) in sent.as_object().unwrap() {
            assert_eq!(&back[k], v, "{k} echoed");
        }
    }
    assert_ne!(got[0]["id"], got[1]["id"]);

    let (_, _, again) = api.send("PUT", &global, commands.clone()).await;
    assert_eq!(again[0]["id"], got[0]["id"], "overwriting keeps a command's id");
    assert_ne!(again[0]["version"], got[0]["version"]);

    let guild = format!("/applications/{APPLICATION_ID}/guilds/300000000000000003/commands");
    let (status, _, g) = api.send("PUT", &guild, commands).await;
    assert_eq!(status, 200);
    assert_eq!(g[0]["guild_id"], "300000000000000003");
    assert_ne!(g[0]["id"], got[0]["id"]);

    let (status, _, reply) = api.send("PUT", "/applications/42/commands", json!([])).await;
    assert_eq!(
        (status, reply),
        (404, json!({"message": "Unknown Application", "code": 10002}))
    );
    assert_eq!(fake.calls_to("PUT", "/api/v10/applications/").len(), 3);
}

#[tokio::test]
async fn scripted_429_then_500_then_ok() {
    let fake = FakeDiscord::start().await;
    let api = Api::new(&fake);
    fake.script(
        "POST",
        "/api/v10/channels/",
        vec![
            Scripted::RateLimited {
                retry_after: 64.57,
                global: false,
            },
            Scripted::ServerError,
        ],
    );
    let send = || api.send("POST", "/channels/5/messages", json!({"content": "x"}));

    // A scripted call elsewhere is unaffected.
    let (status, _, _) = api
        .send("POST", "/users/@me/channels", json!({"recipient_id": "7"}))
        .await;
    assert_eq!(status, 200);

    let (status, headers, body) = send().await;
    assert_eq!(status, 429);
    assert_eq!(body, conformance_json("rate_limited_429_user_1.json"));
    assert_eq!(headers["retry-after"], "65");
    assert_eq!(headers["x-ratelimit-scope"], "user");
    assert!(headers.get("x-ratelimit-global").is_none());

    let (status, _, body) = send().await;
    assert_eq!(
        (status, body),
        (500, json!({"message": "500: Internal Server Error", "code": 0}))
    );
    let (status, _, body) = send().await;
    assert_eq!(status, 200, "normal service resumes: {body}");

    fake.script(
        "POST",
        "/api/v10/channels/5/",
        vec![Scripted::RateLimited {
            retry_after: 64.57,
            global: true,
        }],
    );
    let (status, headers, body) = send().await;
    assert_eq!(status, 429);
    assert_eq!(body, conformance_json("rate_limited_429_global_1.json"));
    assert_eq!(headers["retry-after"], "65");
    assert_eq!(headers["x-ratelimit-global"], "true");
    assert_eq!(headers["x-ratelimit-scope"], "global");

    fake.script(
        "patch",
        "/api/v10/channels/",
        vec![Scripted::Error {
            status: 403,
            code: 50013,
            message: "Missing Permissions",
        }],
    );
    let (status, _, body) = api
        .send("PATCH", "/channels/5/messages/1", json!({"content": "y"}))
        .await;
    assert_eq!(
        (status, body),
        (403, json!({"message": "Missing Permissions", "code": 50013}))
    );

    assert_eq!(fake.calls().len(), 6, "failed calls are recorded too");
    assert_eq!(
        fake.calls_to("POST", "/api/v10/channels/").len(),
        1,
        "only the ok one counts"
    );
    assert!(fake.calls_to("PATCH", "/").is_empty());
}

#[tokio::test]
async fn wrong_or_missing_token_and_unknown_routes() {
    let fake = FakeDiscord::start().await;
    let unauthorized = json!({"message": "401: Unauthorized", "code": 0});
    for auth in [
        Some("Bot wrong-token"),
        Some(&format!("Bearer {BOT_TOKEN}") as &str),
        Some(BOT_TOKEN),
        None,
    ] {
        let api = Api::with_auth(&fake, auth);
        let (status, _, body) = api.send("POST", "/channels/5/messages", json!({"content": "x"})).await;
        assert_eq!((status, body), (401, unauthorized.clone()), "auth {auth:?}");
    }
    // A wrong token is refused on interaction webhooks too.
    let followup = format!("/webhooks/{APPLICATION_ID}/tok");
    let (status, _, _) = Api::with_auth(&fake, Some("Bot nope"))
        .send("POST", &followup, json!({"content": "x"}))
        .await;
    assert_eq!(status, 401);

    let api = Api::new(&fake);
    let not_found = json!({"message": "404: Not Found", "code": 0});
    for (method, path) in [
        ("DELETE", "/channels/5/messages/1"),
        ("GET", "/gateway/bot"),
        ("POST", "/nope"),
    ] {
        let (status, _, body) = api.send(method, path, json!({})).await;
        assert_eq!((status, body), (404, not_found.clone()), "{method} {path}");
    }
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v10/channels/5/messages", fake.base_url()))
        .header("authorization", format!("Bot {BOT_TOKEN}"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.json::<Value>().await.unwrap()["code"], 50109);

    assert_eq!(fake.calls().len(), 9);
    assert!(fake.calls_to("POST", "/").is_empty());
}

#[tokio::test]
async fn wait_for_sees_late_calls() {
    let fake = FakeDiscord::start().await;
    let url = format!("{}/api/v10/channels/9/messages", fake.base_url());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reqwest::Client::new()
            .post(url)
            .header("authorization", format!("Bot {BOT_TOKEN}"))
            .json(&json!({"content": "later"}))
            .send()
            .await
            .unwrap();
    });
    let got = fake
        .wait_for("POST", "/api/v10/channels/9/", 1, Duration::from_secs(5))
        .await;
    assert_eq!(got[0].body["content"], "later");
}

#[tokio::test]
#[should_panic(expected = "waited")]
async fn wait_for_panics_on_timeout() {
    let fake = FakeDiscord::start().await;
    fake.wait_for("POST", "/api/v10/channels/", 1, Duration::from_millis(50))
        .await;
}

/// Whether `signature_hex` is a valid strict Ed25519 signature by `public_key_hex` over
/// `timestamp` + `body`; malformed hex or lengths count as invalid.
fn verifies(public_key_hex: &str, timestamp: &str, body: &str, signature_hex: &str) -> bool {
    let (Ok(pk), Ok(sig)) = (hex::decode(public_key_hex), hex::decode(signature_hex)) else {
        return false;
    };
    let (Ok(pk), Ok(sig)) = (<[u8; 32]>::try_from(pk), <[u8; 64]>::try_from(sig)) else {
        return false;
    };
    let Ok(key) = VerifyingKey::from_bytes(&pk) else {
        return false;
    };
    let message = [timestamp.as_bytes(), body.as_bytes()].concat();
    key.verify_strict(&message, &Signature::from_bytes(&sig)).is_ok()
}

#[test]
fn signature_vectors_verify_as_labelled() {
    let path = format!("{}/signatures.json", conformance());
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let vectors: Vec<Value> = serde_json::from_str(&raw).unwrap();
    assert!(vectors.iter().any(|v| v["valid"] == true) && vectors.iter().any(|v| v["valid"] == false));
    for v in &vectors {
        let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("vector {}: no {k}", v["id"]));
        let ok = verifies(s("public_key"), s("timestamp"), s("body"), s("signature"));
        assert_eq!(ok, v["valid"].as_bool().unwrap(), "vector {}", v["id"]);
    }
}

#[test]
fn own_keypair_signs_and_verifies() {
    let (key, public) = discord_sign::keypair();
    assert_eq!(public, hex::encode(key.verifying_key().to_bytes()));
    assert_eq!(public, PUBLIC_KEY_OF_SEVENS, "the key pair is fixed");
    assert_eq!(discord_sign::keypair().1, public);

    let body = r#"{"type":1,"id":"1","application_id":"900000000000000001","token":"t","version":1}"#;
    let sig = discord_sign::sign(&key, "1767603600", body);
    assert_eq!(sig.len(), 128);
    assert_eq!(
        sig,
        discord_sign::sign(&key, "1767603600", body),
        "Ed25519 is deterministic"
    );
    assert!(verifies(&public, "1767603600", body, &sig));
    assert!(!verifies(&public, "1767603601", body, &sig), "the timestamp is signed");
    assert!(
        !verifies(&public, "1767603600", &body.replace("\"t\"", "\"u\""), &sig),
        "the body is signed"
    );
    // Plain concatenation, no separator: moving bytes between timestamp and body keeps it valid.
    assert!(verifies(&public, "", &format!("1767603600{body}"), &sig));
    assert!(verifies(
        &public,
        "17676036001",
        "",
        &discord_sign::sign(&key, "1767", "6036001")
    ));

    // Every real interaction payload, signed with the test key, verifies byte for byte.
    for entry in std::fs::read_dir(conformance()).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if p.extension().is_some_and(|e| e == "json") && !["index.json", "signatures.json"].contains(&name.as_str()) {
            let raw = std::fs::read_to_string(&p).unwrap();
            assert!(
                verifies(
                    &public,
                    "1767603600",
                    &raw,
                    &discord_sign::sign(&key, "1767603600", &raw)
                ),
                "{name}"
            );
        }
    }
}

/// The public key of `SigningKey::from_bytes(&[7u8; 32])`.
const PUBLIC_KEY_OF_SEVENS: &str = "ea4a6c63e29c520abef5507b132ec5f9954776aebebe7b92421eea691446d22c";

//! Owns the fake Slack Web API: an axum server on loopback that answers `POST /api/{method}`
//! (and `GET`, as slack-morphism sends `auth.test`) in Slack's wire format, records every call,
//! and can be scripted to rate-limit, fail with HTTP 500, or return an API error.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{json, Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The token `FakeSlack::start` expects as `Authorization: Bearer ...`.
pub const DEFAULT_TOKEN: &str = "xoxb-test-token";

/// Form fields that Slack decodes as JSON when a method is called with a form body.
const JSON_FORM_FIELDS: &[&str] = &["blocks", "attachments", "view", "metadata"];

/// One Web API call the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    /// The Web API method, e.g. "chat.postMessage".
    pub method: String,
    /// The JSON body, or form/query fields turned into a JSON object of strings
    /// (with `blocks`, `attachments`, `view`, `metadata` decoded as JSON, as Slack does).
    pub body: Value,
    /// The bearer token of the `Authorization` header (or a `token` field of the body).
    pub token: Option<String>,
}

/// A canned answer for the next call to a method, replacing normal service once.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// HTTP 429 with `Retry-After: retry_after_secs` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 500.
    ServerError,
    /// HTTP 200 with `{"ok":false,"error":...}`.
    ApiError(&'static str),
    /// The normal answer (the call takes effect at once), sent only after this long: a slow
    /// Slack.
    Slow(Duration),
    /// The call is accepted and takes effect, but no answer ever comes.
    Hang,
}

/// What the fake remembers, behind one std mutex (never held across an await).
#[derive(Default)]
struct Memory {
    /// Every call, in arrival order, with whether it was answered `ok:true`.
    calls: Vec<(Call, bool)>,
    /// Pending scripted answers per method.
    scripts: HashMap<String, VecDeque<Scripted>>,
    /// Counter for generated message timestamps.
    next_ts: u64,
    /// Counter for generated view ids.
    next_view: u64,
}

struct Shared {
    token: String,
    state: Mutex<Memory>,
}

/// A fake Slack Web API served on 127.0.0.1 by a background task of the current runtime.
#[derive(Clone)]
pub struct FakeSlack {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

impl FakeSlack {
    /// Starts the fake expecting the bot token "xoxb-test-token".
    pub async fn start() -> FakeSlack {
        FakeSlack::start_with_token(DEFAULT_TOKEN).await
    }

    /// Starts the fake on 127.0.0.1:0 expecting `Authorization: Bearer {token}`.
    pub async fn start_with_token(token: &str) -> FakeSlack {
        let shared = Arc::new(Shared {
            token: token.to_string(),
            state: Mutex::new(Memory::default()),
        });
        let app = Router::new()
            .route("/api/{method}", any(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake slack: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake slack: local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake slack: serve");
        });
        FakeSlack { addr, shared }
    }

    /// The base URL to give `SlackClientHyperConnector::with_slack_api_url`, without trailing slash.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Every call so far, in arrival order, including failed ones.
    pub fn calls(&self) -> Vec<Call> {
        let st = self.shared.state.lock().unwrap();
        st.calls.iter().map(|(c, _)| c.clone()).collect()
    }

    /// The calls to `method` that were answered `ok:true`, in arrival order.
    pub fn calls_to(&self, method: &str) -> Vec<Call> {
        let st = self.shared.state.lock().unwrap();
        st.calls
            .iter()
            .filter(|(c, ok)| *ok && c.method == method)
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Queues `responses` for the next calls to `method`; normal service resumes after them.
    /// Only calls that pass the method and token checks consume a scripted response.
    pub fn script(&self, method: &str, responses: Vec<Scripted>) {
        let mut st = self.shared.state.lock().unwrap();
        st.scripts.entry(method.to_string()).or_default().extend(responses);
    }

    /// Waits until at least `n` successful calls to `method` arrived and returns them;
    /// panics listing every call seen if `timeout` passes first.
    pub async fn wait_for(&self, method: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.calls_to(method);
            if got.len() >= n {
                return got;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "fake slack: waited {timeout:?} for {n} successful {method} call(s), got {}; calls seen: {:#?}",
                    got.len(),
                    self.calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The one handler: decode, authenticate, record, answer.
async fn handle(
    State(shared): State<Arc<Shared>>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = decode_body(&headers, query.as_deref(), &body);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let token = bearer.or_else(|| body.get("token").and_then(Value::as_str).map(String::from));
    let call = Call {
        method: method.clone(),
        body,
        token,
    };

    let (status, retry_after, reply, delay) = answer(&shared, &method, call);
    if let Some(d) = delay {
        tokio::time::sleep(d).await;
    }
    respond(status, retry_after, reply)
}

/// Decides the answer and records the call, under the lock (never held across an await).
fn answer(shared: &Shared, method: &str, call: Call) -> (StatusCode, Option<u64>, Value, Option<Duration>) {
    let method = method.to_string();
    let mut delay = None;
    let mut st = shared.state.lock().unwrap();
    let (status, retry_after, reply) = if !KNOWN_METHODS.contains(&method.as_str()) {
        (StatusCode::OK, None, api_error("unknown_method"))
    } else if call.token.as_deref() != Some(shared.token.as_str()) {
        (StatusCode::OK, None, api_error("invalid_auth"))
    } else {
        match st.scripts.get_mut(&method).and_then(VecDeque::pop_front) {
            Some(Scripted::Slow(d)) => {
                delay = Some(d);
                (StatusCode::OK, None, serve(&mut st, &method, &call.body))
            }
            Some(Scripted::Hang) => {
                delay = Some(Duration::from_secs(3600));
                (StatusCode::OK, None, serve(&mut st, &method, &call.body))
            }
            Some(Scripted::RateLimited { retry_after_secs }) => (
                StatusCode::TOO_MANY_REQUESTS,
                Some(retry_after_secs),
                api_error("ratelimited"),
            ),
            Some(Scripted::ServerError) => (StatusCode::INTERNAL_SERVER_ERROR, None, Value::Null),
            Some(Scripted::ApiError(e)) => (StatusCode::OK, None, api_error(e)),
            None => (StatusCode::OK, None, serve(&mut st, &method, &call.body)),
        }
    };
    let ok = status == StatusCode::OK && reply["ok"] == Value::Bool(true);
    st.calls.push((call, ok));
    (status, retry_after, reply, delay)
}

fn respond(status: StatusCode, retry_after: Option<u64>, reply: Value) -> Response {
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Internal Server Error",
        )
            .into_response();
    }
    let mut resp = (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        reply.to_string(),
    )
        .into_response();
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, secs.to_string().parse().unwrap());
    }
    resp
}

/// The methods the fake serves; anything else is `unknown_method`.
const KNOWN_METHODS: &[&str] = &[
    "chat.postMessage",
    "chat.update",
    "chat.postEphemeral",
    "views.open",
    "conversations.open",
    "auth.test",
];

fn api_error(error: &str) -> Value {
    json!({"ok": false, "error": error})
}

/// The normal (ok) answer of a known method.
fn serve(st: &mut Memory, method: &str, body: &Value) -> Value {
    let field = |name: &str| body.get(name).cloned().unwrap_or(Value::Null);
    match method {
        "chat.postMessage" => {
            let channel = dm_for(body.get("channel").and_then(Value::as_str).unwrap_or(""));
            let ts = next_ts(st);
            let mut message = Map::new();
            message.insert("type".into(), json!("message"));
            message.insert("subtype".into(), json!("bot_message"));
            message.insert("user".into(), json!("U0BOT"));
            message.insert("bot_id".into(), json!("B0BOT"));
            message.insert("team".into(), json!("T0001"));
            message.insert("ts".into(), json!(ts));
            copy_content(body, &mut message);
            json!({"ok": true, "channel": channel, "ts": ts, "message": message})
        }
        "chat.update" => {
            let mut message = Map::new();
            message.insert("user".into(), json!("U0BOT"));
            message.insert("bot_id".into(), json!("B0BOT"));
            copy_content(body, &mut message);
            json!({
                "ok": true,
                "channel": field("channel"),
                "ts": field("ts"),
                "text": body.get("text").cloned().unwrap_or(json!("")),
                "message": message,
            })
        }
        "chat.postEphemeral" => json!({"ok": true, "message_ts": next_ts(st)}),
        "views.open" => {
            st.next_view += 1;
            let id = format!("V{:04}{:06}", 1, st.next_view);
            let mut view = match field("view") {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            for (k, v) in [
                ("id", json!(id)),
                ("team_id", json!("T0001")),
                ("app_id", json!("A0APP")),
                ("bot_id", json!("B0BOT")),
                ("root_view_id", json!(id)),
                ("previous_view_id", Value::Null),
                ("hash", json!(format!("1700000000.{:08}", st.next_view))),
                ("state", json!({"values": {}})),
            ] {
                view.insert(k.to_string(), v);
            }
            for (k, v) in [
                ("private_metadata", json!("")),
                ("callback_id", json!("")),
                ("external_id", json!("")),
                ("clear_on_close", json!(false)),
                ("notify_on_close", json!(false)),
            ] {
                view.entry(k).or_insert(v);
            }
            json!({"ok": true, "view": view})
        }
        "conversations.open" => {
            // `users` is "U1,U2" on the wire; slack-morphism sends a JSON array.
            let first_user = match body.get("users") {
                Some(Value::String(s)) => s.split(',').next().unwrap_or("").trim().to_string(),
                Some(Value::Array(a)) => a.first().and_then(Value::as_str).unwrap_or("").into(),
                _ => String::new(),
            };
            let id = match body.get("channel").and_then(Value::as_str) {
                Some(c) => c.to_string(),
                None => dm_for(&first_user),
            };
            json!({"ok": true, "channel": {"id": id}})
        }
        "auth.test" => json!({
            "ok": true,
            "url": "https://countersign-test.slack.com/",
            "team": "Countersign Test",
            "user": "countersign",
            "team_id": "T0001",
            "user_id": "U0BOT",
            "bot_id": "B0BOT",
            "is_enterprise_install": false,
        }),
        _ => api_error("unknown_method"),
    }
}

/// The channel a post to `channel` lands in: a user id `U…`/`W…` becomes the bot's DM `D…`.
fn dm_for(channel: &str) -> String {
    match channel.chars().next() {
        Some('U') | Some('W') => format!("D{}", &channel[1..]),
        _ => channel.to_string(),
    }
}

/// Copies the message content fields of a request into an echoed message.
fn copy_content(body: &Value, message: &mut Map<String, Value>) {
    for k in ["text", "blocks", "attachments", "thread_ts", "metadata"] {
        if let Some(v) = body.get(k) {
            if !v.is_null() {
                message.insert(k.to_string(), v.clone());
            }
        }
    }
}

/// The next message timestamp: "1700000000.000100", "1700000000.000200", ...
fn next_ts(st: &mut Memory) -> String {
    st.next_ts += 1;
    let micros = st.next_ts * 100;
    format!("{}.{:06}", 1_700_000_000 + micros / 1_000_000, micros % 1_000_000)
}

/// The request as a JSON object: a JSON body as is, else form fields, plus query fields.
fn decode_body(headers: &HeaderMap, query: Option<&str>, body: &[u8]) -> Value {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut out = if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => m,
            Ok(other) => Map::from_iter([("_body".to_string(), other)]),
            Err(_) if body.is_empty() => Map::new(),
            Err(_) => Map::from_iter([(
                "_raw".to_string(),
                Value::String(String::from_utf8_lossy(body).into_owned()),
            )]),
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        form_fields(&String::from_utf8_lossy(body))
    } else if body.is_empty() {
        Map::new()
    } else {
        Map::from_iter([(
            "_raw".to_string(),
            Value::String(String::from_utf8_lossy(body).into_owned()),
        )])
    };
    if let Some(q) = query {
        for (k, v) in form_fields(q) {
            out.entry(k).or_insert(v);
        }
    }
    Value::Object(out)
}

/// `a=1&b=2` as a JSON object of strings, JSON-valued Slack fields decoded.
fn form_fields(encoded: &str) -> Map<String, Value> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(encoded).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(k, v)| {
            let value = if JSON_FORM_FIELDS.contains(&k.as_str()) {
                serde_json::from_str(&v).unwrap_or(Value::String(v))
            } else {
                Value::String(v)
            };
            (k, value)
        })
        .collect()
}

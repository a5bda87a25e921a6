//! Owns the fake Discord HTTP API v10: an axum server on loopback that answers the routes the
//! bot uses in Discord's wire format, records every call, and can be scripted to rate-limit
//! (429), fail with HTTP 500, or return a Discord JSON error.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The bot token the fake expects as `Authorization: Bot discord-test-token`.
pub const BOT_TOKEN: &str = "discord-test-token";
/// The application id (and bot user id) the fake plays.
pub const APPLICATION_ID: &str = "900000000000000001";

/// Milliseconds from the Unix epoch to the Discord epoch (2015-01-01T00:00:00Z).
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// Milliseconds since the Discord epoch of the first generated snowflake (2026-01-05T09:00Z).
const FIRST_SNOWFLAKE_MS: u64 = 1_767_603_600_000 - DISCORD_EPOCH_MS;

/// One HTTP call the fake received.
#[derive(Clone, Debug)]
pub struct Call {
    /// The HTTP method, upper case, e.g. "POST".
    pub method: String,
    /// The path without query, e.g. "/api/v10/channels/123/messages" (`%40` decoded to `@`).
    pub path: String,
    /// The JSON body; `Null` when empty, `{"_raw": text}` when not JSON.
    pub body: Value,
}

/// A canned answer for the next matching call, replacing normal service once.
#[derive(Clone, Debug)]
pub enum Scripted {
    /// HTTP 429 with `Retry-After` (whole seconds, rounded up), `X-RateLimit-Scope`,
    /// `X-RateLimit-Global` when global, and `{"message","retry_after","global"}`.
    RateLimited { retry_after: f64, global: bool },
    /// HTTP 500 with `{"message": "500: Internal Server Error", "code": 0}`.
    ServerError,
    /// HTTP `status` with `{"message": message, "code": code}`.
    Error {
        status: u16,
        code: u64,
        message: &'static str,
    },
}

/// What the fake remembers, behind one std mutex (never held across an await).
#[derive(Default)]
struct Memory {
    /// Every call in arrival order, with whether it was answered 2xx.
    calls: Vec<(Call, bool)>,
    /// Pending scripted answers: (method, path prefix, answers), in the order scripted.
    scripts: Vec<(String, String, VecDeque<Scripted>)>,
    /// How many snowflakes were handed out.
    minted: u64,
    /// Messages by id, as last answered.
    messages: HashMap<String, Value>,
    /// The `@original` message id of each interaction token.
    originals: HashMap<String, String>,
    /// Command ids by (guild id or "", name), kept across bulk overwrites as Discord does.
    command_ids: HashMap<(String, String), String>,
}

/// A fake Discord HTTP API served on 127.0.0.1 by a background task of the current runtime.
#[derive(Clone)]
pub struct FakeDiscord {
    addr: std::net::SocketAddr,
    state: Arc<Mutex<Memory>>,
}

impl FakeDiscord {
    /// Starts the fake on 127.0.0.1:0.
    pub async fn start() -> FakeDiscord {
        let state = Arc::new(Mutex::new(Memory::default()));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake discord: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake discord: local addr");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake discord: serve");
        });
        FakeDiscord { addr, state }
    }

    /// "http://127.0.0.1:PORT", without trailing slash; the bot appends "/api/v10/...".
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call so far, in arrival order, including failed ones.
    pub fn calls(&self) -> Vec<Call> {
        let st = self.state.lock().unwrap();
        st.calls.iter().map(|(c, _)| c.clone()).collect()
    }

    /// The calls answered 2xx whose method is `method` and whose path starts with `path_prefix`
    /// (the full path, e.g. "/api/v10/channels/"), in arrival order.
    pub fn calls_to(&self, method: &str, path_prefix: &str) -> Vec<Call> {
        let st = self.state.lock().unwrap();
        st.calls
            .iter()
            .filter(|(c, ok)| *ok && c.method.eq_ignore_ascii_case(method) && c.path.starts_with(path_prefix))
            .map(|(c, _)| c.clone())
            .collect()
    }

    /// Queues `responses` for the next calls matching `method` and `path_prefix`; normal service
    /// resumes after them. Only calls to a known route that pass the token check consume one.
    pub fn script(&self, method: &str, path_prefix: &str, responses: Vec<Scripted>) {
        let mut st = self.state.lock().unwrap();
        st.scripts
            .push((method.to_ascii_uppercase(), path_prefix.to_string(), responses.into()));
    }

    /// Waits until at least `n` successful matching calls arrived and returns them;
    /// panics listing every call seen if `timeout` passes first.
    pub async fn wait_for(&self, method: &str, path_prefix: &str, n: usize, timeout: Duration) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.calls_to(method, path_prefix);
            if got.len() >= n {
                return got;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "fake discord: waited {timeout:?} for {n} successful {method} {path_prefix}* call(s), got {}; calls seen: {:#?}",
                    got.len(),
                    self.calls()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The DM channel id the fake assigns to `user_id` (the same for every fake instance).
    pub fn dm_channel_of(&self, user_id: &str) -> String {
        dm_channel(user_id)
    }
}

/// The routes the fake serves (path segments after "/api/v10/"), with their path parameters.
enum Route {
    CreateMessage(String),
    EditMessage(String, String),
    CreateDm,
    EditOriginal(String, String),
    Followup(String, String),
    PutCommands(String, Option<String>),
}

fn route(method: &Method, path: &str) -> Option<Route> {
    let segments: Vec<&str> = path
        .strip_prefix("/api/v10/")?
        .trim_end_matches('/')
        .split('/')
        .collect();
    let o = |s: &&str| s.to_string();
    Some(match (method.as_str(), segments.as_slice()) {
        ("POST", ["channels", c, "messages"]) => Route::CreateMessage(o(c)),
        ("PATCH", ["channels", c, "messages", id]) => Route::EditMessage(o(c), o(id)),
        ("POST", ["users", "@me", "channels"]) => Route::CreateDm,
        ("PATCH", ["webhooks", a, t, "messages", "@original"]) => Route::EditOriginal(o(a), o(t)),
        ("POST", ["webhooks", a, t]) => Route::Followup(o(a), o(t)),
        ("PUT", ["applications", a, "commands"]) => Route::PutCommands(o(a), None),
        ("PUT", ["applications", a, "guilds", g, "commands"]) => Route::PutCommands(o(a), Some(o(g))),
        _ => return None,
    })
}

/// The one handler: decode, route, authenticate, record, answer.
async fn handle(
    State(state): State<Arc<Mutex<Memory>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().replace("%40", "@");
    let call = Call {
        method: method.as_str().to_string(),
        path: path.clone(),
        body: decode_body(&body),
    };
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let auth_ok = auth == Some(format!("Bot {BOT_TOKEN}").as_str());

    let mut st = state.lock().unwrap();
    let found = route(&method, &path);
    // Interaction webhooks are authorized by their token in the path, as on Discord; a wrong
    // Authorization header is still refused.
    let webhook = matches!(found, Some(Route::EditOriginal(..) | Route::Followup(..)));
    let mut rate_limit = None;
    let (status, reply) = match found {
        None => error(404, 0, "404: Not Found"),
        Some(_) if !(auth_ok || (webhook && auth.is_none())) => error(401, 0, "401: Unauthorized"),
        Some(r) => match next_script(&mut st, &call) {
            Some(Scripted::RateLimited { retry_after, global }) => {
                rate_limit = Some((retry_after, global));
                let body =
                    json!({"message": "You are being rate limited.", "retry_after": retry_after, "global": global});
                (StatusCode::TOO_MANY_REQUESTS, body)
            }
            Some(Scripted::ServerError) => error(500, 0, "500: Internal Server Error"),
            Some(Scripted::Error { status, code, message }) => error(status, code, message),
            None if matches!(call.body.get("_raw"), Some(Value::String(_))) => {
                error(400, 50109, "The request body contains invalid JSON.")
            }
            None => serve(&mut st, r, &call.body),
        },
    };
    st.calls.push((call, status.is_success()));
    drop(st);

    let mut resp = (status, [(header::CONTENT_TYPE, "application/json")], reply.to_string()).into_response();
    if let Some((retry_after, global)) = rate_limit {
        let secs = (retry_after.max(0.0).ceil() as u64).to_string();
        let (scope, extra) = match global {
            true => ("global", ("x-ratelimit-global", "true".to_string())),
            false => ("user", ("x-ratelimit-reset-after", format!("{retry_after:.3}"))),
        };
        for (name, value) in [("retry-after", secs), ("x-ratelimit-scope", scope.into()), extra] {
            resp.headers_mut().insert(name, HeaderValue::from_str(&value).unwrap());
        }
    }
    resp
}

/// Pops the first pending scripted answer whose method and path prefix match `call`.
fn next_script(st: &mut Memory, call: &Call) -> Option<Scripted> {
    st.scripts
        .iter_mut()
        .filter(|(m, prefix, q)| *m == call.method && call.path.starts_with(prefix.as_str()) && !q.is_empty())
        .find_map(|(_, _, q)| q.pop_front())
}

/// A Discord JSON error: `{"message": ..., "code": ...}` with `status`.
fn error(status: u16, code: u64, message: &str) -> (StatusCode, Value) {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, json!({"message": message, "code": code}))
}

/// A 400 Invalid Form Body naming one `field` (empty: the whole body) and an error code.
fn form_error(field: &str, code: &str, message: &str) -> (StatusCode, Value) {
    let errs = json!({"_errors": [{"code": code, "message": message}]});
    let errors = if field.is_empty() { errs } else { json!({ field: errs }) };
    (
        StatusCode::BAD_REQUEST,
        json!({"code": 50035, "errors": errors, "message": "Invalid Form Body"}),
    )
}

/// The normal answer of a known route.
fn serve(st: &mut Memory, route: Route, body: &Value) -> (StatusCode, Value) {
    match route {
        Route::CreateMessage(channel) => {
            let empty = |v: &Value| v.is_null() || v == "" || v == &json!([]);
            if ["content", "embeds", "components", "sticker_ids", "attachments", "poll"]
                .iter()
                .all(|k| empty(&body[*k]))
            {
                return error(400, 50006, "Cannot send an empty message");
            }
            (StatusCode::OK, new_message(st, &channel, body, false))
        }
        Route::EditMessage(channel, id) => match st.messages.get(&id) {
            Some(m) if m["channel_id"] == channel.as_str() => (StatusCode::OK, edit_stored(st, id, body)),
            _ => error(404, 10008, "Unknown Message"),
        },
        Route::CreateDm => match snowflake(&body["recipient_id"]) {
            Some(user) => (
                StatusCode::OK,
                json!({
                    "id": dm_channel(&user), "type": 1, "last_message_id": null, "flags": 0,
                    "recipients": [{"id": user, "username": format!("user{user}"), "global_name": null,
                                    "avatar": null, "discriminator": "0", "public_flags": 0}],
                }),
            ),
            None => form_error("recipient_id", "BASE_TYPE_REQUIRED", "This field is required"),
        },
        Route::EditOriginal(app, _) | Route::Followup(app, _) if app != APPLICATION_ID => {
            error(404, 10015, "Unknown Webhook")
        }
        // The interaction's channel is unknown here: webhook messages get a channel id made from the token.
        Route::EditOriginal(_, token) => {
            if !st.originals.contains_key(&token) {
                let m = new_message(st, &dm_channel(&token), &Value::Null, true);
                st.originals.insert(token.clone(), m["id"].as_str().unwrap().into());
            }
            let id = st.originals[&token].clone();
            (StatusCode::OK, edit_stored(st, id, body))
        }
        Route::Followup(_, token) => (StatusCode::OK, new_message(st, &dm_channel(&token), body, true)),
        Route::PutCommands(app, _) if app != APPLICATION_ID => error(404, 10002, "Unknown Application"),
        Route::PutCommands(_, guild) => {
            let commands: Option<Vec<_>> = match body.as_array() {
                Some(a) => a
                    .iter()
                    .map(|c| c.as_object().filter(|c| c["name"].is_string()).cloned())
                    .collect(),
                None => None,
            };
            let Some(commands) = commands else {
                return form_error(
                    "",
                    "BASE_TYPE_REQUIRED",
                    "An array of commands, each with a name, is required",
                );
            };
            let version = mint(st);
            let mut out = Vec::new();
            for mut c in commands {
                let name = c["name"].as_str().unwrap().to_string();
                let key = (guild.clone().unwrap_or_default(), name);
                let id = match st.command_ids.get(&key) {
                    Some(id) => id.clone(),
                    None => mint(st),
                };
                st.command_ids.insert(key, id.clone());
                c.insert("id".into(), json!(id));
                c.insert("application_id".into(), json!(APPLICATION_ID));
                c.insert("version".into(), json!(version));
                if let Some(g) = &guild {
                    c.insert("guild_id".into(), json!(g));
                }
                let defaults = json!({"type": 1, "description": "", "default_member_permissions": null, "nsfw": false});
                for (k, v) in defaults.as_object().unwrap() {
                    c.entry(k).or_insert(v.clone());
                }
                out.push(Value::Object(c));
            }
            (StatusCode::OK, Value::Array(out))
        }
    }
}

/// A new Message object in `channel` echoing `body`, remembered for later edits.
fn new_message(st: &mut Memory, channel: &str, body: &Value, webhook: bool) -> Value {
    let id = mint(st);
    let mut m = json!({
        "id": id, "type": 0, "channel_id": channel, "content": "", "embeds": [], "components": [],
        "attachments": [], "mentions": [], "mention_roles": [], "mention_everyone": false, "pinned": false,
        "tts": false, "flags": 0, "timestamp": timestamp_of(&id), "edited_timestamp": null,
        "author": {"id": APPLICATION_ID, "username": "Countersign", "global_name": null, "avatar": null,
                   "discriminator": "6413", "public_flags": 0, "flags": 0, "bot": true},
    });
    if webhook {
        m["webhook_id"] = json!(APPLICATION_ID);
        m["application_id"] = json!(APPLICATION_ID);
    }
    edit(&mut m, body, None);
    st.messages.insert(id, m.clone());
    m
}

/// The request fields that set a message's content (on create and on edit).
#[rustfmt::skip]
const CONTENT_FIELDS: [&str; 7] = ["content", "embeds", "components", "flags", "tts", "attachments", "message_reference"];

/// Edits the remembered message `id` with `body`, stamping the edit time.
fn edit_stored(st: &mut Memory, id: String, body: &Value) -> Value {
    let when = timestamp_of(&mint(st));
    let m = st.messages.get_mut(&id).expect("a remembered message");
    edit(m, body, Some(when));
    m.clone()
}

/// Applies the content fields of `body` to message `m`, stamping it edited at `when` if given.
fn edit(m: &mut Value, body: &Value, when: Option<String>) {
    for k in CONTENT_FIELDS {
        match body.get(k) {
            None => {}
            Some(Value::Null) if m[k].is_string() => m[k] = json!(""),
            Some(Value::Null) if m[k].is_array() => m[k] = json!([]),
            Some(Value::Null) => {}
            Some(v) => m[k] = v.clone(),
        }
    }
    if let Some(embeds) = m["embeds"].as_array_mut() {
        for e in embeds.iter_mut().filter_map(Value::as_object_mut) {
            e.entry("type").or_insert(json!("rich"));
        }
    }
    if let Some(when) = when {
        m["edited_timestamp"] = json!(when);
    }
}

/// The next snowflake: increasing, 19 digits, with a timestamp from 2026-01-05T09:00Z on.
fn mint(st: &mut Memory) -> String {
    st.minted += 1;
    let n = st.minted;
    (((FIRST_SNOWFLAKE_MS + n) << 22) | (n & 0xfff)).to_string()
}

/// The ISO 8601 timestamp a snowflake encodes, as Discord writes it.
fn timestamp_of(snowflake: &str) -> String {
    let ms = (snowflake.parse::<u64>().unwrap_or(0) >> 22) + DISCORD_EPOCH_MS;
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .expect("timestamp in range")
        .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
        .to_string()
}

/// A snowflake field as a string: Discord accepts both `"123"` and `123`.
fn snowflake(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A deterministic 18-digit channel id for `key` (FNV-1a).
fn dm_channel(key: &str) -> String {
    let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    });
    (100_000_000_000_000_000 + h % 900_000_000_000_000_000).to_string()
}

/// The body as JSON: `Null` when empty, `{"_raw": text}` when not JSON.
fn decode_body(body: &[u8]) -> Value {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Value::Null;
    }
    serde_json::from_slice(body).unwrap_or_else(|_| json!({"_raw": String::from_utf8_lossy(body)}))
}

//! A minimal fake Slack Web API for the decisions bench: it answers the methods Countersign calls
//! exactly as tests/it/common/fake_slack.rs does (minus the echoed blocks), and instead of keeping
//! every call's decoded body it keeps one timestamp per card update. The test fake's call log
//! would grow by kilobytes per call and be counted in the bench's peak memory.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What the fake counted and timed.
#[derive(Default)]
struct Shared {
    /// The prefix of the refs to look for in card texts ("INV-").
    ref_prefix: String,
    /// Every chat.update of a card.
    updates: Mutex<Vec<Update>>,
    next_ts: AtomicU64,
    posts: AtomicU64,
    ephemerals: AtomicU64,
    other: AtomicU64,
}

/// The fake, served on 127.0.0.1 by a task of the current runtime.
#[derive(Clone)]
pub struct TimedSlack {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

/// One card update as the fake received it.
#[derive(Clone, Copy, Debug)]
pub struct Update {
    /// The request number (42 for INV-42).
    pub number: u32,
    /// How many approvals the card shows (`u32::MAX` once it says Approved).
    pub approvals: u32,
    /// When it arrived.
    pub at: Instant,
}

/// The fields of a call the fake looks at; `blocks` and the rest are skipped unread.
#[derive(Deserialize, Default)]
struct Fields {
    channel: Option<String>,
    ts: Option<String>,
    text: Option<String>,
}

impl TimedSlack {
    /// Starts the fake; card updates are attributed to the request whose `{prefix}{n}` ref
    /// their text names.
    pub async fn start(ref_prefix: &str) -> TimedSlack {
        let shared = Arc::new(Shared {
            ref_prefix: ref_prefix.to_string(),
            ..Shared::default()
        });
        let app = Router::new()
            .route("/api/{method}", any(handle))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake Slack");
        let addr = listener.local_addr().expect("fake Slack address");
        tokio::spawn(async move {
            axum::serve(listener, app).await.expect("serve the fake Slack");
        });
        TimedSlack { addr, shared }
    }

    /// The Web API base URL to configure the server with.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// Every card update so far.
    pub fn updates(&self) -> Vec<Update> {
        self.shared.updates.lock().unwrap().clone()
    }

    /// chat.postMessage calls (cards posted, confirmations).
    pub fn posts(&self) -> u64 {
        self.shared.posts.load(Ordering::Relaxed)
    }

    /// chat.postEphemeral calls: in this bench each one is a refused click.
    pub fn ephemerals(&self) -> u64 {
        self.shared.ephemerals.load(Ordering::Relaxed)
    }
}

/// How many approvals a card's text shows: the filled counts of "Pending: needs 1 of 1 a, 0 of 1
/// b" added up, or `u32::MAX` for "Approved". A card is rendered from the request's state when it
/// is delivered, so one update can show several votes at once.
fn approvals_shown(text: &str) -> u32 {
    if text.contains(": Approved") {
        return u32::MAX;
    }
    text.match_indices(" of ")
        .filter_map(|(at, _)| {
            let before = &text[..at];
            let start = before.rfind(|c: char| !c.is_ascii_digit()).map_or(0, |i| i + 1);
            before[start..].parse::<u32>().ok()
        })
        .sum()
}

/// The request number in `text` after the first `prefix`, e.g. 42 in "Invoice payment · INV-42: ...".
fn ref_number(text: &str, prefix: &str) -> Option<u32> {
    let at = text.find(prefix)? + prefix.len();
    let digits: String = text[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

async fn handle(State(shared): State<Arc<Shared>>, Path(method): Path<String>, body: Bytes) -> Response {
    let arrived = Instant::now();
    let f: Fields = serde_json::from_slice(&body).unwrap_or_default();
    let reply = match method.as_str() {
        "chat.update" => {
            if let Some(text) = f.text.as_deref() {
                if let Some(number) = ref_number(text, &shared.ref_prefix) {
                    let update = Update {
                        number,
                        approvals: approvals_shown(text),
                        at: arrived,
                    };
                    shared.updates.lock().unwrap().push(update);
                }
            }
            let text = f.text.unwrap_or_default();
            json!({
                "ok": true, "channel": f.channel, "ts": f.ts, "text": text,
                "message": { "user": "U0BOT", "bot_id": "B0BOT", "text": text },
            })
        }
        "chat.postMessage" => {
            shared.posts.fetch_add(1, Ordering::Relaxed);
            let channel = dm_for(f.channel.as_deref().unwrap_or(""));
            let ts = next_ts(&shared);
            json!({
                "ok": true, "channel": channel, "ts": ts,
                "message": {
                    "type": "message", "subtype": "bot_message", "user": "U0BOT", "bot_id": "B0BOT",
                    "team": "T0001", "ts": ts, "text": f.text.unwrap_or_default(),
                },
            })
        }
        "chat.postEphemeral" => {
            shared.ephemerals.fetch_add(1, Ordering::Relaxed);
            json!({ "ok": true, "message_ts": next_ts(&shared) })
        }
        "conversations.open" => {
            shared.other.fetch_add(1, Ordering::Relaxed);
            json!({ "ok": true, "channel": { "id": f.channel.unwrap_or_else(|| "D0BENCH".into()) } })
        }
        "auth.test" => {
            shared.other.fetch_add(1, Ordering::Relaxed);
            json!({ "ok": true, "url": "https://countersign-bench.slack.com/", "team": "Bench", "user": "countersign",
                    "team_id": "T0001", "user_id": "U0BOT", "bot_id": "B0BOT", "is_enterprise_install": false })
        }
        _ => {
            shared.other.fetch_add(1, Ordering::Relaxed);
            json!({ "ok": false, "error": "unknown_method" })
        }
    };
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        reply.to_string(),
    )
        .into_response()
}

/// A post to a user id lands in the bot's DM with them, as in the test fake.
fn dm_for(channel: &str) -> String {
    match channel.chars().next() {
        Some('U') | Some('W') => format!("D{}", &channel[1..]),
        _ => channel.to_string(),
    }
}

/// "1700000000.000100", "1700000000.000200", ...: unique message timestamps.
fn next_ts(shared: &Shared) -> String {
    let micros = (shared.next_ts.fetch_add(1, Ordering::Relaxed) + 1) * 100;
    format!("{}.{:06}", 1_700_000_000 + micros / 1_000_000, micros % 1_000_000)
}

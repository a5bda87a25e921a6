//! Reading a workflow's links to the outside: `[announce]` (the chat channels for requests
//! opened through the API) and `[[webhook]]` (where decision receipts are delivered), and the
//! `slack_channel` / `discord_channel` pair that digests use too.

use crate::chat::address::{ChatPlace, Platform};
use crate::policy::check::{FileCx, Table};
use crate::policy::integration::{Announce, Webhook, WebhookEvent};
use crate::policy::raw::Kind;
use std::collections::BTreeSet;

const WEBHOOK_KEYS: &[&str] = &["url", "events"];

/// The channel keys of a table (`slack_channel = "T0001/C0FINANCE"`, `discord_channel =
/// "123..."`, one per platform), in [`Platform::ALL`] order; a wrong one is reported and left out.
pub(crate) fn read_channels(cx: &mut FileCx<'_>, t: &Table<'_>) -> Vec<ChatPlace> {
    let mut places = Vec::new();
    for platform in Platform::ALL {
        if let Some((s, span)) = cx.string(t, &platform.channel_key()) {
            match platform.parse_channel(&s) {
                Ok(place) => places.push(place),
                Err(e) => cx.at(&span, e),
            }
        }
    }
    places
}

/// Whether a table names any channel key, right or wrong.
pub(crate) fn names_channel(t: &Table<'_>) -> bool {
    Platform::ALL.iter().any(|p| t.get(&p.channel_key()).is_some())
}

/// The channel keys, for the list of keys a table may have.
pub(crate) fn channel_keys() -> Vec<String> {
    Platform::ALL.map(Platform::channel_key).to_vec()
}

/// `[announce]`; absent means requests opened through the API are not announced in chat.
pub(crate) fn read_announce(cx: &mut FileCx<'_>, root: &Table<'_>) -> Announce {
    let Some((key, node)) = root.get("announce") else {
        return Announce::default();
    };
    let Some(t) = cx.table(key, node, "[announce]".to_owned()) else {
        return Announce::default();
    };
    let keys = channel_keys();
    cx.check_keys(&t, &keys.iter().map(String::as_str).collect::<Vec<_>>());
    let channels = read_channels(cx, &t);
    if !names_channel(&t) {
        let ask: Vec<String> = Platform::ALL
            .map(|p| format!("{} = {}", p.channel_key(), p.channel_example()))
            .to_vec();
        cx.at(
            &t.span,
            format!("[announce] names no channel: set {}", ask.join(" and/or ")),
        );
    }
    Announce { channels }
}

/// `[[webhook]]` tables, each with a URL and the final states it receives.
pub(crate) fn read_webhooks(cx: &mut FileCx<'_>, root: &Table<'_>) -> Vec<Webhook> {
    let Some((key, node)) = root.get("webhook") else {
        return Vec::new();
    };
    let Kind::Array(items) = &node.kind else {
        cx.at(
            &node.span.clone().or_else(|| key.span.clone()),
            format!(
                "`webhook` must be written as [[webhook]] tables, not {}",
                node.kind.describe()
            ),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let Some(t) = cx.table(key, item, format!("[[webhook]] #{}", n + 1)) else {
            continue;
        };
        cx.check_keys(&t, WEBHOOK_KEYS);
        let url = cx
            .required_string(&t, "url", " (e.g. url = \"https://ci.example.com/countersign\")")
            .and_then(|(u, span)| match check_url(&u) {
                Ok(()) => Some(u),
                Err(e) => {
                    cx.at(&span, e);
                    None
                }
            });
        let events = read_events(cx, &t);
        if let (Some(url), Some(events)) = (url, events) {
            if out.iter().any(|w: &Webhook| w.url == url) {
                cx.at(&t.value_span("url"), format!("webhook {url} is listed twice"));
            } else {
                out.push(Webhook { url, events });
            }
        }
    }
    out
}

fn read_events(cx: &mut FileCx<'_>, t: &Table<'_>) -> Option<BTreeSet<WebhookEvent>> {
    let all = WebhookEvent::ALL.map(WebhookEvent::as_str).join(", ");
    let Some(list) = cx.string_list(t, "events") else {
        if t.get("events").is_none() {
            cx.missing(t, "events", &format!(" (any of: {all})"));
        }
        return None;
    };
    let mut events = BTreeSet::new();
    let mut ok = true;
    for (e, span) in list {
        match WebhookEvent::parse(&e) {
            Some(ev) if events.insert(ev) => {}
            Some(_) => cx.at(&span, format!("event `{e}` is listed twice")),
            None => {
                ok = false;
                cx.at(&span, format!("unknown event `{e}`; a webhook receives any of: {all}"));
            }
        }
    }
    if events.is_empty() && ok {
        cx.at(
            &t.value_span("events"),
            format!("`events` is empty; list any of: {all}"),
        );
        return None;
    }
    ok.then_some(events)
}

/// A webhook URL: http or https, with a host, and no credentials in it (they would end up in
/// logs and in git).
fn check_url(u: &str) -> Result<(), String> {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| format!("webhook url `{u}` must start with https:// (or http://)"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(format!("webhook url `{u}` has no host"));
    }
    if authority.contains('@') {
        return Err(format!(
            "webhook url `{u}` carries credentials; receipts are signed, so the receiver needs none"
        ));
    }
    if u.chars().any(char::is_whitespace) {
        return Err(format!("webhook url `{u}` contains white space"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn a_webhook_url_needs_a_scheme_a_host_and_no_credentials() {
        assert!(check_url("https://ci.example.com/hooks/countersign").is_ok());
        assert!(check_url("http://127.0.0.1:9000/r").is_ok());
        assert!(check_url("ftp://example.com").unwrap_err().contains("https://"));
        assert!(check_url("https:///path").unwrap_err().contains("no host"));
        assert!(check_url("https://user:pw@example.com/")
            .unwrap_err()
            .contains("credentials"));
        assert!(check_url("https://example.com/a b")
            .unwrap_err()
            .contains("white space"));
    }
}

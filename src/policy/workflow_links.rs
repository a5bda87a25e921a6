//! Reading a workflow's links to the outside: `[announce]` (the chat channels for requests
//! opened through the API) and `[[webhook]]` (where decision receipts are delivered), and the
//! `slack_channel` / `discord_channel` pair that digests use too.

use crate::policy::check::{FileCx, Table};
use crate::policy::integration::{Announce, Webhook, WebhookEvent};
use crate::policy::raw::Kind;
use std::collections::BTreeSet;

const ANNOUNCE_KEYS: &[&str] = &["slack_channel", "discord_channel"];
const WEBHOOK_KEYS: &[&str] = &["url", "events"];

/// `slack_channel = "T0001/C0FINANCE"` and `discord_channel = "123..."` of a table; each is
/// `None` when absent or wrong (a wrong one is reported).
pub(crate) fn read_channels(cx: &mut FileCx<'_>, t: &Table<'_>) -> (Option<(String, String)>, Option<String>) {
    let slack = match cx.string(t, "slack_channel") {
        Some((s, span)) => match s.split_once('/') {
            Some((w, c)) if !w.is_empty() && !c.is_empty() && !c.contains('/') => Some((w.to_string(), c.to_string())),
            _ => {
                cx.at(
                    &span,
                    format!("slack_channel `{s}` must be WORKSPACE/CHANNEL, e.g. \"T0001/C0FINANCE\""),
                );
                None
            }
        },
        None => None,
    };
    let discord = match cx.string(t, "discord_channel") {
        Some((d, span)) if d.is_empty() || !d.chars().all(|c| c.is_ascii_digit()) => {
            cx.at(&span, format!("discord_channel `{d}` must be a numeric channel id"));
            None
        }
        Some((d, _)) => Some(d),
        None => None,
    };
    (slack, discord)
}

/// `[announce]`; absent means requests opened through the API are not announced in chat.
pub(crate) fn read_announce(cx: &mut FileCx<'_>, root: &Table<'_>) -> Announce {
    let Some((key, node)) = root.get("announce") else {
        return Announce::default();
    };
    let Some(t) = cx.table(key, node, "[announce]".to_owned()) else {
        return Announce::default();
    };
    cx.check_keys(&t, ANNOUNCE_KEYS);
    let (slack_channel, discord_channel) = read_channels(cx, &t);
    if t.get("slack_channel").is_none() && t.get("discord_channel").is_none() {
        cx.at(
            &t.span,
            "[announce] names no channel: set slack_channel = \"T0001/C0FINANCE\" and/or discord_channel = \"123...\"",
        );
    }
    Announce {
        slack_channel,
        discord_channel,
    }
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

//! A digest as text (preview, console), Slack Block Kit and a Discord embed.

use super::compose::Digest;
use serenity::all::Colour;
use serenity::builder::CreateEmbed;
use slack_morphism::prelude::{
    SlackBlock, SlackBlockMarkDownText, SlackBlockPlainText, SlackHeaderBlock, SlackSectionBlock,
};
use std::fmt::Write as _;

fn duration(minutes: Option<i64>) -> String {
    match minutes {
        None => "n/a".to_string(),
        Some(m) if m < 120 => format!("{m} min"),
        Some(m) if m < 48 * 60 => format!("{:.1} h", m as f64 / 60.0),
        Some(m) => format!("{:.1} days", m as f64 / 1440.0),
    }
}

/// The sections of a digest as (heading, lines), shared by every rendering.
pub fn sections(d: &Digest) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    out.push((
        "Activity".to_string(),
        d.activity
            .iter()
            .map(|a| {
                format!(
                    "{}: {} opened, {} approved, {} rejected, {} cancelled, {} expired",
                    a.workflow, a.opened, a.approved, a.rejected, a.cancelled, a.expired
                )
            })
            .collect(),
    ));
    let pending: Vec<String> = d
        .pending
        .iter()
        .map(|p| {
            let flag = if p.overdue { " (past its reminder time)" } else { "" };
            format!(
                "{} by {}, {} h old, still needed {}{flag}",
                p.r#ref, p.requester, p.age_hours, p.needs
            )
        })
        .collect();
    out.push((
        format!(
            "Pending, oldest first ({}; {} overdue)",
            d.pending.len(),
            d.overdue().count()
        ),
        pending,
    ));
    out.push((
        "Time to decision".to_string(),
        vec![format!(
            "median {}, 90th percentile {} (over {} decisions)",
            duration(d.median_minutes),
            duration(d.p90_minutes),
            d.decisions
        )],
    ));
    out.push((
        "Refused attempts".to_string(),
        d.refusals.iter().map(|(r, n)| format!("{r}: {n}")).collect(),
    ));
    out.push((
        "Undelivered messages".to_string(),
        d.dead_letters
            .iter()
            .map(|l| format!("{} {}: {}", l.r#ref.as_deref().unwrap_or("-"), l.kind, l.error))
            .collect(),
    ));
    out.push((
        "Effects not run".to_string(),
        d.effects_not_run
            .iter()
            .map(|e| match &e.error {
                Some(error) => format!(
                    "{} on {}: failed: {error} (retry {} once fixed)",
                    e.r#ref, e.target, e.r#ref
                ),
                None => format!("{} on {}: waiting for its target", e.r#ref, e.target),
            })
            .collect(),
    ));
    let chain = match (&d.chain.broken_at, d.chain.verified_through) {
        (Some((seq, problem)), _) => {
            format!("BROKEN at entry #{seq}: {problem}. Run `countersign audit verify` and investigate.")
        }
        (None, Some(seq)) => format!("verified through entry #{seq}; {} awaiting sealing", d.chain.unsealed),
        (None, None) => format!("empty; {} awaiting sealing", d.chain.unsealed),
    };
    let mut chain = vec![chain];
    chain.push(match &d.chain.checkpoint {
        Some(c) => format!("latest signed checkpoint: #{} {} ({})", c.seq, c.hash, c.at),
        None => "no signed checkpoint yet (set COUNTERSIGN_RECEIPT_KEY)".to_string(),
    });
    out.push(("Audit chain".to_string(), chain));
    out.push((
        "Policy changes".to_string(),
        d.policy_changes
            .iter()
            .map(|c| {
                let from = c.from.as_deref().map(|h| &h[..12.min(h.len())]).unwrap_or("new");
                format!(
                    "{}: {} -> {} at {}",
                    c.name,
                    from,
                    &c.to[..12.min(c.to.len())],
                    c.at.format("%Y-%m-%d %H:%M UTC")
                )
            })
            .collect(),
    ));
    out
}

fn title(d: &Digest) -> String {
    format!(
        "Countersign digest for {}: {} to {}",
        d.team,
        d.since.format("%Y-%m-%d %H:%M"),
        d.until.format("%Y-%m-%d %H:%M UTC")
    )
}

/// Plain text.
pub fn text(d: &Digest) -> String {
    let mut s = title(d);
    for (heading, lines) in sections(d) {
        let _ = write!(s, "\n\n{heading}:");
        if lines.is_empty() {
            s.push_str("\n  none");
        }
        for l in lines {
            let _ = write!(s, "\n  - {l}");
        }
    }
    s
}

/// Slack Block Kit.
pub fn slack_blocks(d: &Digest) -> Vec<SlackBlock> {
    let header = SlackBlockPlainText::new(title(d).chars().take(150).collect());
    let mut blocks: Vec<SlackBlock> = vec![SlackHeaderBlock::new(header.into()).into()];
    for (heading, lines) in sections(d) {
        let body = if lines.is_empty() {
            "none".to_string()
        } else {
            lines
                .iter()
                .map(|l| format!("• {}", crate::chat::slack::blocks::escape(l)))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let text: String = format!("*{heading}*\n{body}").chars().take(3000).collect();
        blocks.push(
            SlackSectionBlock::new()
                .with_text(SlackBlockMarkDownText::new(text).into())
                .into(),
        );
    }
    blocks
}

/// A Discord embed.
pub fn discord_embed(d: &Digest) -> CreateEmbed {
    let color = if d.chain.broken_at.is_some() {
        0xE74C3C
    } else {
        0x3498DB
    };
    let fields = sections(d).into_iter().map(|(heading, lines)| {
        let value = if lines.is_empty() {
            "none".to_string()
        } else {
            lines.join("\n")
        };
        // Discord's limits: 256 characters for a field name, 1024 for its value.
        let name: String = heading.chars().take(256).collect();
        (name, value.chars().take(1024).collect::<String>(), false)
    });
    CreateEmbed::new()
        .title(title(d).chars().take(256).collect::<String>())
        .colour(Colour::new(color))
        .fields(fields)
}

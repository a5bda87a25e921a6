//! `countersign demo`: the invoice story told through the console adapter, in its own database.

use super::console::{actor, Console};
use crate::audit;
use crate::engine::Engine;
use std::io::Write;

/// The story: (narration, person, command).
const STORY: &[(&str, &str, &str)] = &[
    (
        "Alice, an analyst, asks for a 12,500.00 EUR invoice to be paid.",
        "alice",
        r#"new invoice amount=12500.00 vendor="ACME GmbH" cost_center=ops"#,
    ),
    ("She tries to approve it herself.", "alice", "approve INV-1"),
    ("Bob, another analyst, tries to approve it.", "bob", "approve INV-1"),
    (
        "Alice mistypes an amount on a second invoice: EUR has two decimals, nothing is rounded.",
        "alice",
        r#"new invoice amount=99.999 vendor="Typo Ltd""#,
    ),
    (
        "Carol, a finance approver, approves. The director's group is not met yet.",
        "carol",
        "approve INV-1@1",
    ),
    (
        "Dave, the finance director, approves. Both groups are met.",
        "dave",
        "approve INV-1@1",
    ),
    (
        "Anyone allowed to view it can see the final card.",
        "grace",
        "show INV-1",
    ),
];

/// Tells the story on `engine` (a fresh database) and closes with the trail and a verification.
pub async fn tell(engine: &Engine, out: &mut dyn Write) -> anyhow::Result<bool> {
    let console = Console::new(engine);
    for (i, (narration, person, line)) in STORY.iter().enumerate() {
        let who = actor(engine, person).await?;
        writeln!(out, "\n{}. {narration}", i + 1)?;
        writeln!(out, "{person}> {line}")?;
        console.run_line(&who, line, out).await?;
    }
    writeln!(
        out,
        "\n{}. The audit trail of INV-1, from the audit log (not from chat):",
        STORY.len() + 1
    )?;
    audit::seal(engine.pool()).await?;
    let trail = audit::trail(engine.pool(), "INV-1").await?;
    writeln!(out, "{}", super::render::history("INV-1", &trail))?;
    writeln!(out, "\n{}. countersign audit verify", STORY.len() + 2)?;
    let report = audit::verify(engine.pool(), |_, _| {}).await?;
    writeln!(out, "{}", crate::cli::verify_summary(&report))?;
    let mismatches = audit::reconcile::reconcile(engine.pool()).await?;
    match mismatches.is_empty() {
        true => writeln!(out, "OK: requests, votes and decisions agree with the audit log.")?,
        false => {
            for m in &mismatches {
                writeln!(out, "MISMATCH: {m}")?;
            }
        }
    }
    Ok(report.is_ok() && mismatches.is_empty())
}

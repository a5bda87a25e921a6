//! Bad input and forbidden actions: each gets a clear message, changes nothing, and writes
//! exactly one refused audit entry with the right reason.

use crate::common::Bot;
use sqlx::PgPool;

/// (who, what they type, the audit reason expected, words the reply must contain)
const REFUSALS: &[(&str, &str, &str, &str)] = &[
    (
        "alice",
        "new payroll amount=1",
        "invalid_input",
        "There is no workflow \"payroll\"",
    ),
    (
        "alice",
        "new invoice amount=10 vendor=X colour=red",
        "invalid_input",
        "colour",
    ),
    ("alice", "new invoice amount=10", "invalid_input", "vendor"),
    ("alice", "new invoice amount=-5 vendor=X", "invalid_input", "negative"),
    (
        "alice",
        "new invoice amount=250000.01 vendor=X",
        "invalid_input",
        "250,000.00 EUR",
    ),
    ("alice", "new invoice amount=lots vendor=X", "invalid_input", "amount"),
    (
        "alice",
        "new invoice amount=12.345 vendor=X",
        "invalid_input",
        "at most 2",
    ),
    (
        "alice",
        "new invoice amount=10 cost_center=marketing vendor=X",
        "invalid_input",
        "ops",
    ),
    (
        "frank",
        "new invoice amount=10 vendor=X",
        "not_permitted",
        "analyst or finance-approver",
    ),
    ("alice", "approve INV-99", "unknown_ref", "There is no request INV-99"),
    ("alice", "approve INV-1", "self_approval", "your own request"),
    ("bob", "approve INV-1", "not_permitted", "you hold analyst"),
    ("grace", "reject INV-1 looks odd", "not_permitted", "you hold auditor"),
    ("carol", "reject INV-1", "reason_required", "needs a reason"),
    ("carol", "approve INV-1@2", "stale_version", "version 1 is current"),
    (
        "frank",
        "show INV-1",
        "not_permitted",
        "There is no request INV-1 that you may see",
    ),
    ("bob", "cancel INV-1", "not_permitted", "Only the requester"),
    ("alice", "amend INV-1 amount=abc", "invalid_input", "amount"),
    ("alice", "amend INV-1 vendor=\"\"", "invalid_input", "vendor"),
];

#[sqlx::test]
async fn every_refusal_says_why_changes_nothing_and_is_audited(pool: PgPool) {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=12500.00 vendor=ACME").await;
    let long_vendor = format!("new invoice amount=10 vendor={}", "v".repeat(121));
    let mut cases: Vec<(&str, String, &str, &str)> = REFUSALS
        .iter()
        .map(|(w, l, r, m)| (*w, l.to_string(), *r, *m))
        .collect();
    cases.push(("alice", long_vendor, "invalid_input", "120"));
    for (who, line, reason, words) in cases {
        let before = (
            bot.count("requests").await,
            bot.count("request_versions").await,
            bot.count("votes").await,
            bot.count("decisions").await,
            bot.count("audit_log").await,
        );
        let reply = bot.say(who, &line).await;
        assert!(reply.starts_with("Refused: "), "{who}> {line}\n{reply}");
        assert!(reply.contains(words), "{who}> {line}: expected {words:?} in\n{reply}");
        let after = (
            bot.count("requests").await,
            bot.count("request_versions").await,
            bot.count("votes").await,
            bot.count("decisions").await,
            bot.count("audit_log").await,
        );
        assert_eq!(
            (after.0, after.1, after.2, after.3),
            (before.0, before.1, before.2, before.3),
            "{line} changed state"
        );
        assert_eq!(after.4, before.4 + 1, "{line} must write exactly one audit entry");
        let last = bot.audit_lines().await.pop().unwrap();
        assert!(
            last.contains(&format!("refused:{reason}")),
            "{line}: audited as {last}, expected {reason}"
        );
    }
    assert_eq!(bot.status("INV-1").await, "pending");
    bot.assert_chain_holds().await;
}

#[sqlx::test]
async fn all_field_problems_are_reported_at_once(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let reply = bot.say("alice", "new invoice amount=1.001 cost_center=moon").await;
    insta::assert_snapshot!(reply);
}

#[sqlx::test]
async fn an_unknown_person_is_refused_and_audited_as_unauthenticated(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let err = countersign::chat::console::actor(&bot.engine, "mallory")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a person in people.toml"), "{err}");
    let last = bot.audit_lines().await.pop().unwrap();
    assert_eq!(last, "request.viewed refused:unauthenticated");
}

#[sqlx::test]
async fn a_malformed_command_gets_usage_help(pool: PgPool) {
    let bot = Bot::new(pool).await;
    let before = bot.count("audit_log").await;
    let reply = bot.say("alice", "new").await;
    assert!(reply.contains("Usage: new <workflow>"), "{reply}");
    assert_eq!(bot.count("audit_log").await, before);
}

//! The "erp" target database beside a test's own, and the invoice workflow whose approval marks
//! an invoice payable there: shared by the effects tests.

use crate::common::{commands_dir, example_commands, url_of, Bot};
use countersign::approval::VoteKind;
use countersign::effect::runner::EffectRunner;
use countersign::store::targets::Targets;
use sqlx::{Executor, PgPool};
use std::sync::Arc;

pub const EFFECT: &str = r#"
[effect]
target = "erp"
sql = """
UPDATE invoices SET status = 'payable', approved_by = :approvers, approval_ref = :ref
WHERE vendor = :vendor AND amount = :amount AND status = 'received'
"""
expect_rows = 1
"#;

/// The "erp" database beside the test's own, with its invoices; dropped when the test ends.
pub struct Erp {
    admin: PgPool,
    name: String,
    pub url: String,
    pub pool: PgPool,
}

impl Erp {
    pub async fn create(pool: &PgPool) -> Erp {
        let own = pool.connect_options().get_database().unwrap().to_string();
        // Test databases' names are as long as Postgres allows: a suffix would be cut off.
        let name = format!("erp_{}", &own[own.len().saturating_sub(24)..]);
        // A run that failed before dropping it leaves it behind.
        let drop = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        pool.execute(drop.as_str()).await.unwrap();
        pool.execute(format!("CREATE DATABASE \"{name}\"").as_str())
            .await
            .unwrap();
        let url = url_of(pool).replace(&format!("/{own}"), &format!("/{name}"));
        let erp = PgPool::connect(&url).await.unwrap();
        erp.execute(
            "CREATE TABLE invoices (number serial PRIMARY KEY, vendor text NOT NULL, amount numeric NOT NULL, \
             status text NOT NULL DEFAULT 'received', approved_by text[], approval_ref text)",
        )
        .await
        .unwrap();
        Erp {
            admin: pool.clone(),
            name,
            url,
            pool: erp,
        }
    }

    pub async fn invoice(&self, vendor: &str, amount: &str) {
        sqlx::query("INSERT INTO invoices (vendor, amount) VALUES ($1, $2::numeric)")
            .bind(vendor)
            .bind(amount)
            .execute(&self.pool)
            .await
            .unwrap();
    }

    /// Each invoice as `vendor status approved_by approval_ref`, in number order.
    pub async fn rows(&self) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT concat_ws(' ', vendor, status, array_to_string(approved_by, ','), approval_ref) \
             FROM invoices ORDER BY number",
        )
        .fetch_all(&self.pool)
        .await
        .unwrap()
    }

    pub async fn ledger(&self) -> Vec<(String, i64)> {
        sqlx::query_as("SELECT effect_id, rows FROM countersign_effects ORDER BY effect_id")
            .fetch_all(&self.pool)
            .await
            .unwrap_or_default()
    }

    pub fn targets(&self) -> Arc<Targets> {
        Arc::new(Targets::from_vars([(
            "COUNTERSIGN_TARGET_ERP".to_string(),
            self.url.clone(),
        )]))
    }

    pub async fn drop(self) {
        self.pool.close().await;
        self.admin
            .execute(format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name).as_str())
            .await
            .unwrap();
    }
}

/// The example commands with the invoice workflow marking invoices payable in "erp".
pub fn commands_with(effect: &str) -> crate::common::tempdir::TempDir {
    let invoice = std::fs::read_to_string(example_commands().join("invoice.toml")).unwrap() + effect;
    let people = std::fs::read_to_string(example_commands().join("people.toml")).unwrap();
    commands_dir(&[("people.toml", &people), ("invoice.toml", &invoice)])
}

/// Opened and approved through the engine, not the console (which runs effects at once): the
/// tests below run the effect themselves.
pub async fn approved_invoice(bot: &Bot, vendor: &str) {
    bot.say("alice", &format!("new invoice amount=80.00 vendor=\"{vendor}\""))
        .await;
    approve(bot).await;
}

pub async fn approve(bot: &Bot) {
    let carol = bot.ctx("carol").await;
    let outcome = bot
        .engine
        .vote(&carol, "INV-1", Some(1), VoteKind::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        outcome.request().map(|v| v.status),
        Some(countersign::approval::Status::Approved)
    );
}

pub async fn effect_status(pool: &PgPool) -> Vec<(String, Option<i64>)> {
    sqlx::query_as("SELECT status, rows FROM request_effects ORDER BY request_id, version")
        .fetch_all(pool)
        .await
        .unwrap()
}

pub fn runner(bot: &Bot, erp: &Erp) -> EffectRunner {
    EffectRunner::new(bot.engine.clone().with_targets(erp.targets()))
}

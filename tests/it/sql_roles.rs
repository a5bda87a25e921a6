//! The least-privilege roles scripts (deploy/sql/roles.sql, then after-migrate.sql): the bot's
//! role runs every approval and seals the chain, and it can change nothing of the record behind
//! the application's back: not the log, not the seals, not a vote, a decision, a final state or
//! an idempotency key.

use crate::common::{url_of, Bot};
use countersign::audit;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, Executor, PgConnection, PgPool};

/// The roles of one test, created by the project's scripts exactly as an operator runs them.
struct Roles {
    admin: PgPool,
    owner_role: String,
    bot_role: String,
    bot_url: String,
}

impl Roles {
    async fn install(pool: &PgPool) -> Roles {
        let db = pool.connect_options().get_database().unwrap().to_string();
        // Roles are cluster-wide: name them after this test's database so runs never collide.
        let tag: String = db
            .chars()
            .rev()
            .take(10)
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        let (owner_role, bot_role) = (format!("cs_owner_{tag}"), format!("cs_bot_{tag}"));
        let rename = |sql: String| {
            sql.replace("countersign_owner", &owner_role)
                .replace("countersign_bot", &bot_role)
        };
        let url = url_of(pool);
        let owner_url = url.replacen("postgres://postgres@", &format!("postgres://{owner_role}:o@"), 1);
        let bot_url = url.replacen("postgres://postgres@", &format!("postgres://{bot_role}:b@"), 1);
        let script =
            |name: &str| std::fs::read_to_string(format!("{}/deploy/sql/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap();
        let roles = rename(script("roles.sql"))
            .replace(":owner_password", "'o'")
            .replace(":bot_password", "'b'")
            .replace("DATABASE countersign", &format!("DATABASE \"{db}\""));
        pool.execute(roles.as_str()).await.unwrap();
        let mut owner = PgConnection::connect(&owner_url).await.unwrap();
        countersign::store::MIGRATOR.run(&mut owner).await.unwrap();
        owner.close().await.unwrap();
        pool.execute(rename(script("after-migrate.sql")).as_str())
            .await
            .unwrap();
        Roles {
            admin: pool.clone(),
            owner_role,
            bot_role,
            bot_url,
        }
    }

    async fn bot_pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .connect(&self.bot_url)
            .await
            .unwrap()
    }

    /// Leaves no role behind: the test database is dropped after the test, the roles are not.
    async fn remove(self, bot: PgPool) {
        bot.close().await;
        let (bot_role, owner_role) = (&self.bot_role, &self.owner_role);
        self.admin
            .execute(format!("DROP OWNED BY {bot_role}, {owner_role}").as_str())
            .await
            .unwrap();
        self.admin
            .execute(format!("DROP ROLE {bot_role}, {owner_role}").as_str())
            .await
            .unwrap();
    }
}

/// An approved invoice, run and sealed by the bot's own role.
async fn approved_invoice(pool: PgPool) -> Bot {
    let bot = Bot::new(pool).await;
    bot.say("alice", "new invoice amount=12500.00 vendor=ACME").await;
    bot.say("carol", "approve INV-1").await;
    bot.say("dave", "approve INV-1").await;
    bot.say("alice", "new invoice amount=10.00 vendor=Pending").await;
    bot
}

async fn refused(bot: &PgPool, sql: &str) -> String {
    bot.execute(sql).await.expect_err(sql).to_string()
}

#[sqlx::test(migrations = false)]
async fn the_bot_role_runs_an_approval_and_seals_the_chain(pool: PgPool) {
    let roles = Roles::install(&pool).await;
    let bot_pool = roles.bot_pool().await;
    let bot = approved_invoice(bot_pool.clone()).await;
    assert_eq!(bot.status("INV-1").await, "approved");
    bot.assert_chain_holds().await;
    drop(bot);
    roles.remove(bot_pool).await;
}

#[sqlx::test(migrations = false)]
async fn the_bot_role_cannot_change_the_record_behind_the_application(pool: PgPool) {
    let roles = Roles::install(&pool).await;
    let bot_pool = roles.bot_pool().await;
    let bot = approved_invoice(bot_pool.clone()).await;
    bot.settle().await;
    let db = &bot_pool;
    let denied = ["permission denied", "must be owner"];
    for statement in [
        "UPDATE audit_log SET reason = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "UPDATE audit_seal SET hash = 'x'",
        "INSERT INTO audit_seal (seq, entry_id, prev_hash, hash, txid_bound) \
         SELECT max(seq) + 1, 1, 'x', 'y', '1'::xid8 FROM audit_seal",
        "DELETE FROM audit_seal",
        "DELETE FROM votes",
        "UPDATE votes SET kind = 'reject'",
        "DELETE FROM decisions",
        "DELETE FROM idempotency_keys",
        "DELETE FROM request_versions",
        "DELETE FROM requests",
        "DELETE FROM audit_checkpoints",
        "ALTER TABLE requests DISABLE TRIGGER ALL",
    ] {
        let err = refused(db, statement).await;
        assert!(denied.iter().any(|d| err.contains(d)), "{statement}: {err}");
    }
    // What the role may do in general, the triggers still bound.
    let flip = refused(db, "UPDATE requests SET status = 'approved' WHERE ref = 'INV-2'").await;
    assert!(flip.contains("INV-2 is approved without a decision"), "{flip}");
    let undo = refused(
        db,
        "UPDATE requests SET status = 'pending', decided_at = NULL WHERE ref = 'INV-1'",
    )
    .await;
    assert!(
        undo.contains("INV-1 is approved: a final state never changes"),
        "{undo}"
    );
    let forged = refused(
        db,
        "INSERT INTO decisions (request_id, outcome, version, rule, policy_hash, at) \
         SELECT id, 'approved', 1, 'standard', 'x', now() FROM requests WHERE ref = 'INV-2'",
    )
    .await;
    assert!(forged.contains("decision for request id"), "{forged}");
    assert_eq!(bot.status("INV-2").await, "pending");
    assert_eq!(bot.count("votes").await, 2);
    assert_eq!(bot.count("decisions").await, 1);
    drop(bot);
    roles.remove(bot_pool).await;
}

#[sqlx::test(migrations = false)]
async fn a_stray_seal_cannot_stop_sealing(pool: PgPool) {
    let roles = Roles::install(&pool).await;
    let bot_pool = roles.bot_pool().await;
    let bot = approved_invoice(bot_pool.clone()).await;
    bot.settle().await;
    let db = &bot_pool;
    // A taken entry id, a taken position, a link that does not continue the chain.
    for stray in [
        "SELECT countersign_seal(ARRAY[s.seq + 1], ARRAY[1::int8], ARRAY[s.hash], ARRAY[repeat('a', 64)], \
         pg_snapshot_xmin(pg_current_snapshot())) FROM (SELECT seq, hash FROM audit_seal ORDER BY seq DESC LIMIT 1) s",
        "SELECT countersign_seal(ARRAY[1::int8], ARRAY[max(entry_id) + 1], ARRAY[repeat('0', 64)], \
         ARRAY[repeat('a', 64)], pg_snapshot_xmin(pg_current_snapshot())) FROM audit_seal",
        "SELECT countersign_seal(ARRAY[max(seq) + 1], ARRAY[max(entry_id) + 1], ARRAY[repeat('b', 64)], \
         ARRAY[repeat('a', 64)], pg_snapshot_xmin(pg_current_snapshot())) FROM audit_seal",
    ] {
        let err = refused(db, stray).await;
        assert!(err.contains("countersign_seal:"), "{stray}: {err}");
    }
    bot.say("alice", "cancel INV-2 no longer needed").await;
    bot.assert_chain_holds().await;
    let report = audit::verify(db, |_, _| {}).await.unwrap();
    assert!(report.is_ok() && report.unsealed == 0, "{report:?}");
    drop(bot);
    roles.remove(bot_pool).await;
}

//! The least-privilege roles script: the bot's role can append to the audit log but never
//! change, delete, truncate or alter it.

use sqlx::{Connection, Executor, PgConnection};

#[sqlx::test(migrations = false)]
async fn the_bot_role_cannot_alter_or_delete_the_audit_log(pool: sqlx::PgPool) {
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
    let url = crate::common::url_of(&pool);
    let owner_url = url.replacen("postgres://postgres@", &format!("postgres://{owner_role}:o@"), 1);
    let bot_url = url.replacen("postgres://postgres@", &format!("postgres://{bot_role}:b@"), 1);
    let mut admin = pool.acquire().await.unwrap();
    let script = rename(std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/sql/roles.sql")).unwrap())
        .replace(":owner_password", "'o'")
        .replace(":bot_password", "'b'")
        .replace("DATABASE countersign", &format!("DATABASE \"{db}\""));
    admin.execute(script.as_str()).await.unwrap();
    let mut owner = PgConnection::connect(&owner_url).await.unwrap();
    countersign::store::MIGRATOR.run(&mut owner).await.unwrap();
    let after =
        rename(std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/sql/after-migrate.sql")).unwrap());
    admin.execute(after.as_str()).await.unwrap();

    let mut bot = PgConnection::connect(&bot_url).await.unwrap();
    bot.execute("INSERT INTO audit_log (at, action, outcome) VALUES (now(), 'digest.sent', 'done')")
        .await
        .unwrap();
    bot.execute("SELECT count(*) FROM requests").await.unwrap();
    for forbidden in [
        "UPDATE audit_log SET reason = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
        "ALTER TABLE audit_log DISABLE TRIGGER ALL",
        "DROP TRIGGER audit_log_append_only ON audit_log",
        "UPDATE audit_seal SET hash = 'x'",
    ] {
        let err = bot.execute(forbidden).await.expect_err(forbidden).to_string();
        assert!(
            err.contains("permission denied") || err.contains("must be owner"),
            "{forbidden}: {err}"
        );
    }
    drop(bot);
    drop(owner);
    // Leave no role behind: the test database is dropped after the test, the roles are not.
    admin
        .execute(format!("DROP OWNED BY {bot_role}, {owner_role}").as_str())
        .await
        .unwrap();
    admin
        .execute(format!("DROP ROLE {bot_role}, {owner_role}").as_str())
        .await
        .unwrap();
}

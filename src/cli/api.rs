//! `countersign token issue`: API tokens for operators.

use crate::api::{auth, ApiAuth};
use crate::policy::PersonId;
use secrecy::{ExposeSecret, SecretString};

/// Parses a TTL such as `1h`, `30m`, `7d` or `90s`.
fn parse_ttl(s: &str) -> anyhow::Result<std::time::Duration> {
    let d = crate::policy::parse_duration(s).map_err(|e| anyhow::anyhow!("--ttl {s}: {e}"))?;
    anyhow::ensure!(!d.is_zero(), "--ttl must be longer than zero");
    anyhow::ensure!(
        d <= std::time::Duration::from_secs(366 * 24 * 3600),
        "--ttl {s} is longer than a year: mint shorter-lived tokens and renew them"
    );
    Ok(d)
}

/// `countersign token issue --sub ID --ttl 1h`: an HS256 token for a person or service of
/// people.toml, signed with `COUNTERSIGN_API_JWT_SECRET`, printed on standard output.
pub fn token_issue(
    commands: &std::path::Path,
    secret: Option<&SecretString>,
    sub: &str,
    ttl: &str,
) -> anyhow::Result<String> {
    let secret = secret
        .map(ExposeSecret::expose_secret)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "COUNTERSIGN_API_JWT_SECRET is not set: it is the secret the server checks HS256 tokens with"
            )
        })?;
    // The same checks the server applies to the secret.
    ApiAuth::new(Some(secret), None)?;
    let policy = super::load_policy(commands)?;
    let known = PersonId::parse(sub)
        .ok()
        .is_some_and(|id| policy.directory.person(&id).is_some() || policy.directory.service(&id).is_some());
    anyhow::ensure!(
        known,
        "`{sub}` is not a person or service in {}/people.toml: a token for it would be refused",
        commands.display()
    );
    auth::issue_hs256(secret, sub, chrono::Utc::now(), parse_ttl(ttl)?)
}

#[cfg(test)]
mod tests {
    use super::parse_ttl;

    #[test]
    fn a_ttl_is_a_positive_duration_of_at_most_a_year() {
        assert_eq!(parse_ttl("1h").unwrap().as_secs(), 3600);
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("400d")
            .unwrap_err()
            .to_string()
            .contains("longer than a year"));
        assert!(parse_ttl("soon").is_err());
    }
}

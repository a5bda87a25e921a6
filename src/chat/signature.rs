//! What the platforms' request signatures share: why a request is refused, and the freshness
//! window that stops replays of an old, correctly signed request.

use crate::clock::Clock;

/// How far a request's timestamp may be from now, either way.
pub const WINDOW_SECS: i64 = 300;

/// Why a request was not accepted as coming from its platform.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// A header is absent.
    #[error("missing {0} header")]
    Missing(&'static str),
    /// The timestamp is not a number.
    #[error("the request timestamp is not a number")]
    BadTimestamp,
    /// Outside the freshness window: a replay, or a badly wrong clock.
    #[error("the request timestamp is {0} seconds away from now (at most 300 allowed)")]
    Stale(i64),
    /// The signature does not match.
    #[error("the signature does not match")]
    Mismatch,
}

/// Refuses a timestamp (Unix seconds, as text) outside the window around `clock`'s now.
pub fn check_fresh(clock: &dyn Clock, timestamp: &str) -> Result<(), SignatureError> {
    let ts: i64 = timestamp.trim().parse().map_err(|_| SignatureError::BadTimestamp)?;
    let skew = clock.now().timestamp() - ts;
    if skew.abs() > WINDOW_SECS {
        return Err(SignatureError::Stale(skew));
    }
    Ok(())
}

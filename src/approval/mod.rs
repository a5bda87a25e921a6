//! The pure approval domain: a request's versions, votes, quorum and state machine. No I/O here:
//! the engine loads a [`Request`], asks it what an action would do, and persists the answer.

pub mod quorum;
mod reference;
mod request;
mod status;

pub use quorum::{Approval, GroupProgress, Progress};
pub use reference::Ref;
pub use request::{Request, VoteEffect, VoteKind, MAX_REASON_CHARS};
pub use status::{RefusalReason, Status};

#[cfg(test)]
mod tests;

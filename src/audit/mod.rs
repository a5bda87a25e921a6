//! The formal audit log: entries appended in the caller's transaction, a hash chain sealed in
//! commit order, verification, export and per-request trails.

mod chain;
mod entry;
mod export;
mod verify;

pub use chain::{seal, spawn_sealer, SealReport};
pub use entry::{trail, Action, AuditOutcome, NewEntry, StoredEntry};
pub use export::{export, jsonl_stream, ExportFilter, ExportFormat};
pub use verify::{unsealed, verify, verify_after, Problem, VerifyReport};

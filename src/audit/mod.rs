//! The formal audit log: entries appended in the caller's transaction, a hash chain sealed in
//! commit order, signed checkpoints of its head, verification (of the chain, of kept
//! checkpoints and receipts, and of the state tables against the log), export and trails.

mod chain;
pub mod checkpoint;
mod entry;
mod export;
pub mod reconcile;
pub mod signer;
mod verify;

pub use chain::{link_hash, seal, spawn_sealer, SealReport, GENESIS};
pub use entry::{trail, Action, AuditOutcome, NewEntry, StoredEntry};
pub use export::{export, jsonl_stream, ExportFilter, ExportFormat};
pub use verify::{unsealed, verify, verify_after, Problem, VerifyReport};

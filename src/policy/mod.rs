//! The policy: parse, validate and evaluate the commands/ files, the `when` condition
//! language, and plain-language explanations of each workflow.
//!
//! Everything here is pure apart from [`PolicySet::load`] reading the commands/ directory.

pub mod check;
mod describe;
mod digest_schedule;
mod duration;
pub mod effect;
pub mod explain;
pub mod expr;
mod expr_parse;
mod field_specs;
mod fields;
pub mod input;
pub mod integration;
mod load;
pub mod model;
mod people;
mod raw;
mod rules;
pub mod sql_params;
mod typecheck;
pub mod value;
mod workflow_file;
mod workflow_links;

pub use check::{CheckError, Excerpt};
pub use digest_schedule::DigestSchedule;
pub use duration::parse_duration;
pub use explain::{describe_expr, explain_markdown, explain_text};
pub use expr::{parse_expr, typecheck, CmpOp, Expr, ExprError, Literal, Operand};
pub use integration::{Announce, Service, Webhook, WebhookEvent};
pub use load::PEOPLE_FILE;
pub use model::*;
pub use value::*;

#[cfg(test)]
mod tests;

//! `countersign audit ...`: verify (the chain, the state tables against the log, and what was
//! kept of the chain outside the database: checkpoints and receipts), checkpoint, export, show.

use super::{connect_migrated, engine};
use crate::audit::checkpoint::{self, Kept};
use crate::audit::reconcile;
use crate::audit::signer::Keyring;
use crate::audit::{self, ExportFilter, ExportFormat, VerifyReport};
use crate::chat::render;
use crate::config::{ReceiptArgs, Settings};
use crate::engine::checkpoint::{CheckpointError, Occasion};
use anyhow::Context as _;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

/// What `audit verify` checks besides the chain and the state tables.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct VerifyArgs {
    /// A file of kept checkpoints, one a line as published (the API's, a webhook's body, or
    /// `audit checkpoint`'s output); give it several times for several files.
    #[arg(long = "checkpoint", value_name = "FILE")]
    pub checkpoints: Vec<PathBuf>,
    /// A decision receipt (the token, or the JSON that carries it); may be given several times.
    #[arg(long = "receipt", value_name = "FILE")]
    pub receipts: Vec<PathBuf>,
    /// The public keys to check signatures with: a copy of /.well-known/jwks.json kept by the
    /// auditor. Without it, the receipt key's (COUNTERSIGN_RECEIPT_KEY) are used when set.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    #[command(flatten)]
    pub keys: ReceiptArgs,
}

/// A progress bar on a terminal; hidden when stderr is not one (CI logs, pipes).
fn progress_bar(what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} entries ({per_sec}, {eta} left)")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what);
    bar
}

/// The verdict of a chain walk, in words.
pub fn verify_summary(r: &VerifyReport) -> String {
    let through = match &r.sealed_through {
        Some((seq, hash)) => format!("sealed through #{seq} (hash {}...)", &hash[..12.min(hash.len())]),
        None => "nothing sealed yet".to_string(),
    };
    match &r.first_bad {
        None => format!(
            "OK: {} entries verified, {through}; {} entries awaiting sealing.",
            r.checked, r.unsealed
        ),
        Some((seq, problem)) => format!(
            "BROKEN at entry #{seq}: {problem}. {} entries before it verified. Compare with an export or a backup \
             to see what was changed.",
            r.checked
        ),
    }
}

/// The keys signatures are checked with: the auditor's JWKS, else the receipt key's.
fn keyring(args: &VerifyArgs) -> anyhow::Result<Option<Keyring>> {
    if let Some(path) = &args.jwks {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
        let set = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
        return Keyring::from_jwks(&set)
            .with_context(|| format!("{}", path.display()))
            .map(Some);
    }
    Ok(args.keys.signer()?.map(|s| s.keyring()))
}

/// What was read from the kept files: each checkpoint or receipt with where it came from
/// (`file:line`), and a finding for each one that does not read (a forged signature is one).
struct KeptFiles {
    kept: Vec<(String, Kept)>,
    unreadable: Vec<String>,
}

/// Everything kept that names a chain position, read from the files.
fn read_kept(args: &VerifyArgs, keys: Option<&Keyring>) -> anyhow::Result<KeptFiles> {
    let read = |p: &Path| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let (mut kept, mut bad) = (Vec::new(), Vec::new());
    for path in &args.checkpoints {
        let text = read(path)?;
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let at = format!("{}:{}", path.display(), i + 1);
            match checkpoint::read_checkpoint(line, keys) {
                Ok(k) => kept.push((at, k)),
                Err(m) => bad.push(format!("NOT VERIFIED: {at}: {m}")),
            }
        }
    }
    for path in &args.receipts {
        let at = path.display().to_string();
        match checkpoint::read_receipt(&read(path)?, keys) {
            Ok(k) => kept.push((at, k)),
            Err(m) => bad.push(format!("NOT VERIFIED: {at}: {m}")),
        }
    }
    Ok(KeptFiles { kept, unreadable: bad })
}

/// `countersign audit verify`: seals what has settled, walks the whole chain, reconciles the
/// state tables with the log, and proves the chain still holds every kept checkpoint and
/// receipt. Every finding is a line; the first one names what is wrong first.
pub async fn audit_verify(settings: &Settings, args: &VerifyArgs, out: &mut dyn Write) -> anyhow::Result<bool> {
    let keys = keyring(args)?;
    let KeptFiles {
        kept,
        unreadable: mut findings,
    } = read_kept(args, keys.as_ref())?;
    let pool = connect_migrated(settings).await?;
    audit::seal(&pool).await?;
    let bar = progress_bar("verifying");
    let report = audit::verify(&pool, |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .await?;
    bar.finish_and_clear();
    writeln!(out, "{}", verify_summary(&report))?;
    let mismatches = reconcile::reconcile(&pool).await?;
    if mismatches.is_empty() {
        writeln!(out, "OK: requests, votes and decisions agree with the audit log.")?;
    }
    for m in &mismatches {
        writeln!(out, "MISMATCH: {m}")?;
    }
    if mismatches.len() as i64 == reconcile::REPORTED {
        writeln!(out, "(only the first {} differences are listed)", reconcile::REPORTED)?;
    }
    let (mut held, total) = (0, kept.len() + findings.len());
    for (at, k) in &kept {
        match checkpoint::holds(&pool, k).await? {
            Ok(()) => held += 1,
            Err(why) => findings.push(format!("NOT HELD: {at}: {}: {why}", k.name)),
        }
    }
    for f in &findings {
        writeln!(out, "{f}")?;
    }
    if total > 0 {
        let checked = if keys.is_some() {
            "signatures checked"
        } else {
            "signatures NOT checked: give --jwks FILE (a kept copy of /.well-known/jwks.json) or set COUNTERSIGN_RECEIPT_KEY"
        };
        writeln!(
            out,
            "{}: {held} of {} kept checkpoints and receipts are in the chain with their hashes ({checked}).",
            if findings.is_empty() { "OK" } else { "FAILED" },
            total,
        )?;
    }
    Ok(report.is_ok() && mismatches.is_empty() && findings.is_empty())
}

/// `countersign audit checkpoint`: signs the chain's head now (or gives the checkpoint already
/// kept there) and prints it as one JSON line, to keep wherever the database's owner cannot
/// reach. A chain that does not verify is not signed.
pub async fn audit_checkpoint(settings: &Settings, keys: &ReceiptArgs, out: &mut dyn Write) -> anyhow::Result<bool> {
    let signer = keys.signer()?.context(
        "signing a checkpoint needs the receipt key: set COUNTERSIGN_RECEIPT_KEY to its PEM file (docs/audit.md)",
    )?;
    let pool = connect_migrated(settings).await?;
    let engine = engine(settings, pool).await?;
    match engine.checkpoint(&signer, Occasion::Asked).await {
        Ok(Some(c)) => {
            writeln!(out, "{}", c.to_line())?;
            Ok(true)
        }
        Ok(None) => anyhow::bail!("no checkpoint was signed"),
        Err(e @ CheckpointError::Broken(_)) => {
            eprintln!("NOT SIGNED: {e}");
            Ok(false)
        }
        Err(e) => Err(e.into()),
    }
}

/// `countersign audit export`.
pub async fn audit_export(
    settings: &Settings,
    format: ExportFormat,
    filter: ExportFilter,
    out_path: Option<&Path>,
) -> anyhow::Result<u64> {
    let pool = connect_migrated(settings).await?;
    audit::seal(&pool).await?;
    let bar = progress_bar("exporting");
    let progress = |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    };
    let n = match out_path {
        Some(p) => {
            let file = std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?;
            let mut w = std::io::BufWriter::new(file);
            audit::export(&pool, format, filter, &mut w, progress).await?
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            audit::export(&pool, format, filter, &mut w, progress).await?
        }
    };
    bar.finish_and_clear();
    Ok(n)
}

/// `countersign audit show REF`: one request's trail, sealed or not.
pub async fn audit_show(settings: &Settings, r#ref: &str, out: &mut dyn Write) -> anyhow::Result<bool> {
    let pool = connect_migrated(settings).await?;
    audit::seal(&pool).await?;
    let r#ref = crate::approval::Ref::parse(r#ref)
        .map_err(anyhow::Error::msg)?
        .to_string();
    let trail = audit::trail(&pool, &r#ref).await?;
    if trail.is_empty() {
        writeln!(out, "No audit entries mention {ref}.")?;
        return Ok(false);
    }
    writeln!(out, "{}", render::history(&r#ref, &trail))?;
    Ok(true)
}

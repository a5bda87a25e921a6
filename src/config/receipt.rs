//! The receipt key's settings, read by `serve` and by the audit commands that sign or check
//! what it signs (`audit checkpoint`, `audit verify`).

use super::serve::given;
use crate::api::ReceiptSigner;
use clap::Args;
use std::path::PathBuf;

/// The receipt key, which signs decision receipts and checkpoints of the audit chain.
#[derive(Args, Clone, Debug, Default)]
pub struct ReceiptArgs {
    /// A PEM file with the private key that signs decision receipts and audit checkpoints.
    #[arg(
        id = "receipt_key",
        long = "receipt-key",
        env = "COUNTERSIGN_RECEIPT_KEY",
        value_name = "PEM",
        hide_env_values = true
    )]
    pub receipt_key: Option<String>,
    /// After a rotation: a JWKS file with the public keys of earlier receipt keys (what
    /// /.well-known/jwks.json served before), still published so their signatures verify.
    #[arg(
        id = "receipt_previous_jwks",
        long = "receipt-previous-jwks",
        env = "COUNTERSIGN_RECEIPT_PREVIOUS_JWKS",
        value_name = "FILE"
    )]
    pub previous_jwks: Option<String>,
}

impl ReceiptArgs {
    /// The signer, with the keys it replaced, when a receipt key is set.
    pub fn signer(&self) -> anyhow::Result<Option<ReceiptSigner>> {
        let Some(path) = given(&self.receipt_key) else {
            anyhow::ensure!(
                given(&self.previous_jwks).is_none(),
                "COUNTERSIGN_RECEIPT_PREVIOUS_JWKS is set without COUNTERSIGN_RECEIPT_KEY: set the new key too"
            );
            return Ok(None);
        };
        let signer = ReceiptSigner::from_pem_file(&PathBuf::from(path))?;
        Ok(Some(match given(&self.previous_jwks) {
            Some(previous) => signer.with_previous_jwks_file(&PathBuf::from(previous))?,
            None => signer,
        }))
    }
}

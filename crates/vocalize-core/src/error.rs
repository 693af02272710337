//! Errors of the core. The bindings map each variant to one Python exception class.

use std::path::PathBuf;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The caller passed something the model cannot take (empty tokens, wrong style width…).
    #[error("{0}")]
    InvalidInput(String),
    /// The model file is missing, unreadable or not a Kokoro ONNX export.
    #[error("cannot load model {path}: {reason}")]
    Model { path: PathBuf, reason: String },
    /// ONNX Runtime failed while running the model.
    #[error("inference failed: {0}")]
    Inference(String),
}

impl CoreError {
    pub(crate) fn model(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Self::Model { path: path.into(), reason: reason.to_string() }
    }
}

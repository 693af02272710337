//! Errors of the core. The bindings map each variant to one Python exception class.

use std::path::PathBuf;

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// The error below a [`CoreError`], kept so a caller can walk the whole chain.
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The caller passed something the model cannot take (empty tokens, wrong style width…).
    #[error("{0}")]
    InvalidInput(String),
    /// The model file is missing, unreadable or not a Kokoro ONNX export.
    #[error("cannot load model {path}: {reason}")]
    Model {
        path: PathBuf,
        reason: String,
        #[source]
        source: Option<Source>,
    },
    /// ONNX Runtime failed while running the model.
    #[error("inference failed: {reason}")]
    Inference {
        reason: String,
        #[source]
        source: Option<Source>,
    },
    /// A worker thread panicked: a bug in vocalize, not a property of the input or model.
    #[error("a synthesis worker panicked: {0}")]
    Panicked(String),
}

impl CoreError {
    /// A model that cannot be used, for the reason given.
    pub(crate) fn model(path: impl Into<PathBuf>, reason: impl ToString) -> Self {
        Self::Model { path: path.into(), reason: reason.to_string(), source: None }
    }

    /// A model that ONNX Runtime could not load.
    pub(crate) fn model_runtime(path: impl Into<PathBuf>, error: impl Into<ort::Error>) -> Self {
        Self::model_caused(path, error.into())
    }

    fn model_caused(path: impl Into<PathBuf>, error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Model { path: path.into(), reason: error.to_string(), source: Some(Box::new(error)) }
    }

    /// An inference whose outputs are not what the graph promised.
    pub(crate) fn inference(reason: impl Into<String>) -> Self {
        Self::Inference { reason: reason.into(), source: None }
    }

    /// An inference ONNX Runtime failed.
    pub(crate) fn inference_runtime(error: ort::Error) -> Self {
        Self::Inference { reason: error.to_string(), source: Some(Box::new(error)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cause_stays_the_source() {
        let err = CoreError::model_caused("m.onnx", std::io::Error::other("bad graph"));
        assert_eq!(err.to_string(), "cannot load model m.onnx: bad graph");
        let source = std::error::Error::source(&err).expect("a source");
        assert_eq!(source.to_string(), "bad graph");
    }
}

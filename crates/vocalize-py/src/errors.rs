//! Core errors as Python exceptions.
//!
//! The exception classes are defined in Python (`vocalize/errors.py`) so that
//! `vocalize.VocalizeError` exists without loading this module, and so that bad input is
//! also a `ValueError`; this module imports them when it first raises one.

use pyo3::PyErr;
use vocalize_core::CoreError;

pyo3::import_exception!(vocalize.errors, InputError);
pyo3::import_exception!(vocalize.errors, ModelError);
pyo3::import_exception!(vocalize.errors, InferenceError);
pyo3::import_exception!(vocalize.errors, RuntimeLibraryError);

pub struct NativeError(pub CoreError);

impl From<NativeError> for PyErr {
    fn from(err: NativeError) -> Self {
        match &err.0 {
            CoreError::InvalidInput(_) => InputError::new_err(err.0.to_string()),
            CoreError::Model { .. } => ModelError::new_err(err.0.to_string()),
            CoreError::Inference { .. } => InferenceError::new_err(err.0.to_string()),
            // A bug, not bad input or a bad model: Python's own error for that.
            CoreError::Panicked(_) => pyo3::exceptions::PyRuntimeError::new_err(err.0.to_string()),
        }
    }
}

pub fn to_py(err: CoreError) -> PyErr {
    NativeError(err).into()
}

pub fn runtime_library(message: String) -> PyErr {
    RuntimeLibraryError::new_err(message)
}

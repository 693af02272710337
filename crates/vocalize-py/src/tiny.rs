//! Bindings of the tiny tier (`vocalize_core::tiny`): hibari's model and vocoder.

use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Arc;

use numpy::PyArray1;
use pyo3::prelude::*;
use vocalize_core::tiny::{Noise, TinyModel as CoreTiny};
use vocalize_core::ModelOptions;

use crate::errors::to_py;
use crate::{state, without_gil};

/// Loads the tiny model at `path` into `sessions` sessions of `threads` intra-op threads
/// each, in the process's ONNX Runtime environment (`init` first).
#[pyfunction]
#[pyo3(signature = (path, threads = 1, sessions = 1))]
fn load_tiny(py: Python<'_>, path: &str, threads: usize, sessions: usize) -> PyResult<TinyModel> {
    let env = state::require_environment()?;
    let options = ModelOptions { intra_threads: threads.max(1), ..ModelOptions::default() };
    let path = PathBuf::from(path);
    let sessions = sessions.max(1);
    let model = without_gil(py, || CoreTiny::load(env, &path, options, sessions)).map_err(to_py)?;
    Ok(TinyModel { model: Arc::new(model), sessions })
}

/// The tiny model and its vocoder.
#[pyclass(frozen, module = "vocalize._native")]
struct TinyModel {
    model: Arc<CoreTiny>,
    sessions: usize,
}

#[pymethods]
impl TinyModel {
    #[getter]
    fn path(&self) -> String {
        self.model.path().display().to_string()
    }

    #[getter]
    fn threads(&self) -> usize {
        self.model.options().intra_threads
    }

    #[getter]
    fn sessions(&self) -> usize {
        self.sessions
    }

    /// Audio for `ids` (Kokoro's phoneme ids, without the pads) at `speed`: float32 samples
    /// at 24 kHz. With `noise`, the noise branch is drawn from `seed` (the same seed gives
    /// the same samples; `None` picks a fresh one); without, the audio depends on the ids
    /// and the speed alone.
    #[pyo3(signature = (ids, speed = 1.0, seed = None, noise = true))]
    fn synthesize<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<i64>,
        speed: f32,
        seed: Option<u64>,
        noise: bool,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let noise = match (noise, seed) {
            (false, _) => Noise::Off,
            (true, Some(seed)) => Noise::Seeded(seed),
            (true, None) => Noise::Seeded(fresh_seed()),
        };
        let audio = without_gil(py, || self.model.synthesize(&ids, speed, noise)).map_err(to_py)?;
        Ok(PyArray1::from_vec(py, audio))
    }

    fn __repr__(&self) -> String {
        format!("<TinyModel {} threads={} sessions={}>", self.path(), self.threads(), self.sessions())
    }
}

/// A random seed, from the standard library's randomly keyed hasher.
fn fresh_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    std::collections::hash_map::RandomState::new().hash_one(CALLS.fetch_add(1, Ordering::Relaxed))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(load_tiny, m)?)?;
    m.add_class::<TinyModel>()
}

//! Bindings of the tiny tier (`vocalize_core::tiny`): hibari's model and vocoder, run
//! through the same scheduler and stream type as Kokoro's model.

use std::hash::BuildHasher;
use std::path::PathBuf;
use std::sync::Arc;

use numpy::PyArray1;
use pyo3::prelude::*;
use vocalize_core::tiny::{Noise, TinyModel as CoreTiny, TinyVoice};
use vocalize_core::{ModelOptions, Synthesizer};

use crate::errors::to_py;
use crate::{open_stream, state, synthesize_all, without_gil, AudioStream, ChunkArgs};

/// Loads the tiny model at `path` into `sessions` sessions of `threads` intra-op threads
/// each, in the process's ONNX Runtime environment (`init` first), or returns the one
/// already loaded so. `optimized` names where ONNX Runtime's optimized graph is cached.
#[pyfunction]
#[pyo3(signature = (path, threads = 1, sessions = 1, optimized = None))]
fn load_tiny(py: Python<'_>, path: &str, threads: usize, sessions: usize, optimized: Option<&str>) -> PyResult<TinyModel> {
    let options = ModelOptions {
        intra_threads: threads.max(1),
        optimized: optimized.map(PathBuf::from),
        ..ModelOptions::default()
    };
    let path = PathBuf::from(path);
    let sessions = sessions.max(1);
    let model = without_gil(py, || state::tiny_model(&path, options, sessions))?;
    Ok(TinyModel { model, sessions })
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

    /// Audio of one inference: `ids` (Kokoro's phoneme ids, without the pads) at `speed`,
    /// float32 samples at 24 kHz, untrimmed. With `noise`, the noise branch is drawn from
    /// `seed` (the same seed gives the same samples; `None` picks a fresh one); without,
    /// the audio depends on the ids and the speed alone.
    #[pyo3(signature = (ids, speed = 1.0, seed = None, noise = true))]
    fn render<'py>(
        &self,
        py: Python<'py>,
        ids: Vec<i64>,
        speed: f32,
        seed: Option<u64>,
        noise: bool,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let noise = noise_of(noise, seed);
        let audio = without_gil(py, || self.model.synthesize(&ids, speed, noise)).map_err(to_py)?;
        Ok(PyArray1::from_vec(py, audio))
    }

    /// Synthesizes `chunks` (each `(token_ids, None, speed, pause_after)`) as `Model.synthesize`
    /// does: trimmed, joined with their pauses. The noise of chunk `i` comes from `seed` and
    /// `i`, so a request repeated with the same seed gives the same samples.
    #[pyo3(signature = (chunks, seed = None, noise = true))]
    fn synthesize<'py>(
        &self,
        py: Python<'py>,
        chunks: Vec<ChunkArgs<'py>>,
        seed: Option<u64>,
        noise: bool,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        synthesize_all(py, &self.synthesizer(noise_of(noise, seed)), chunks)
    }

    /// `synthesize` as a stream, as `Model.stream` (the same `AudioStream`; with
    /// `timings=True` the durations are None: the tiny model gives none).
    #[pyo3(signature = (chunks, more = false, seed = None, noise = true, timings = false))]
    fn stream(&self, chunks: Vec<ChunkArgs<'_>>, more: bool, seed: Option<u64>, noise: bool, timings: bool) -> PyResult<AudioStream> {
        open_stream(&self.synthesizer(noise_of(noise, seed)), chunks, more, timings)
    }

    fn __repr__(&self) -> String {
        format!("<TinyModel {} threads={} sessions={}>", self.path(), self.threads(), self.sessions())
    }
}

impl TinyModel {
    /// A synthesizer of one request: the model with the request's noise, on the process's runtime.
    fn synthesizer(&self, noise: Noise) -> Synthesizer<TinyVoice> {
        Synthesizer::new(Arc::new(TinyVoice::new(Arc::clone(&self.model), noise)), state::runtime())
    }
}

fn noise_of(noise: bool, seed: Option<u64>) -> Noise {
    match (noise, seed) {
        (false, _) => Noise::Off,
        (true, Some(seed)) => Noise::Seeded(seed),
        (true, None) => Noise::Seeded(fresh_seed()),
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

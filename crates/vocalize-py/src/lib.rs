//! `vocalize._native`: the Python bindings of vocalize-core.
//!
//! Process-wide state lives here: the ONNX Runtime environment (loaded from the library
//! path Python hands in), one Tokio runtime, and the models loaded so far. Inference runs
//! with the GIL released, through [`without_gil`].

mod errors;
mod state;
mod tiny;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use vocalize_core::synth::{Canceller, ChunkAudio, ChunkInput, ChunkStream, Next, Render};
use vocalize_core::model::SplitFiles;
use vocalize_core::{ChunkRequest, Model as CoreModel, ModelOptions, Synthesizer};

use crate::errors::to_py;

/// How long native code waits for a chunk before it checks for Ctrl-C.
const SIGNAL_CHECK: Duration = Duration::from_millis(50);

/// Loads ONNX Runtime from `library` (once per process) and returns the path in use.
#[pyfunction]
fn init(py: Python<'_>, library: &str) -> PyResult<String> {
    // Without the GIL: loading the library and starting its environment takes tens of
    // milliseconds, which a model loading on another thread overlaps with the text frontend.
    let (_, path) = without_gil(py, || state::environment(library))?;
    Ok(path.display().to_string())
}

/// Loads a Kokoro model, or returns the one already loaded with the same settings.
/// `optimized` names where ONNX Runtime's optimized graph is cached (read if complete,
/// written otherwise). `split` is the model's (encoder, decoder) files, when it has been
/// split. `profile` is a prefix for ONNX Runtime's per-node profiles (written when the
/// sessions end: see `release_models`).
#[pyfunction]
#[pyo3(signature = (path, threads = 2, provider = "cpu", optimized = None, split = None, profile = None))]
fn load_model(
    py: Python<'_>,
    path: &str,
    threads: usize,
    provider: &str,
    optimized: Option<&str>,
    split: Option<(String, String)>,
    profile: Option<&str>,
) -> PyResult<Model> {
    let options = ModelOptions {
        intra_threads: threads.max(1),
        provider: provider.to_owned(),
        optimized: optimized.map(std::path::PathBuf::from),
        split: split.map(|(encoder, decoder)| SplitFiles { encoder: encoder.into(), decoder: decoder.into() }),
        profile: profile.map(std::path::PathBuf::from),
    };
    let path = std::path::PathBuf::from(path);
    let model = py.detach(|| state::model(&path, options))?;
    Ok(Model { synth: Arc::new(state::synthesizer(model)) })
}

/// The models this process has loaded: `(kind, path)`, kind `kokoro` or `tiny`.
#[pyfunction]
fn loaded_models() -> Vec<(&'static str, String)> {
    state::loaded_models()
}

/// Forgets the models loaded so far (see `state::release_models`); a later `load_model`
/// loads again. For models loaded with `profile`, this is what writes the profiles.
#[pyfunction]
fn release_models(py: Python<'_>) {
    py.detach(state::release_models);
}

/// Stops every stream of the process, inferences included, and waits up to `timeout`
/// seconds for the worker threads to leave ONNX Runtime; whether they all did. Run at
/// interpreter exit, so no inference is still going while the runtime is torn down.
#[pyfunction]
#[pyo3(signature = (timeout = 2.0))]
fn stop_streams(py: Python<'_>, timeout: f64) -> bool {
    let timeout = std::time::Duration::from_secs_f64(timeout.clamp(0.0, 60.0));
    py.detach(|| vocalize_core::synth::stop_all(timeout))
}

/// ONNX Runtime's build description (version, commit, flags).
#[pyfunction]
fn runtime_info() -> PyResult<String> {
    state::require_environment()?;
    Ok(ort::info().to_owned())
}

/// Execution providers the loaded ONNX Runtime library offers, by ONNX Runtime's names.
#[pyfunction]
fn available_providers() -> PyResult<Vec<String>> {
    state::require_environment()?;
    vocalize_core::model::available_providers().map_err(to_py)
}

/// Short names vocalize accepts for `provider`, with ONNX Runtime's name for each.
#[pyfunction]
fn known_providers() -> Vec<(&'static str, &'static str)> {
    vocalize_core::model::PROVIDERS.to_vec()
}

/// Starts recording `tracing` spans for [`take_spans`].
#[pyfunction]
fn enable_tracing() {
    state::recorder();
}

/// Spans closed since the last call: `(id, parent, name, fields, start_ns, duration_ns)`.
#[pyfunction]
fn take_spans() -> Vec<(u64, Option<u64>, &'static str, String, u64, u64)> {
    state::recorder()
        .take()
        .into_iter()
        .map(|r| (r.id, r.parent, r.name, r.fields, r.start_ns, r.duration_ns))
        .collect()
}

/// A loaded model and its session pool.
#[pyclass(frozen, module = "vocalize._native")]
struct Model {
    synth: Arc<Synthesizer>,
}

/// One chunk as Python hands it in: `(token_ids, style, speed, pause_after)`; the tiny
/// model, whose voice is the model itself, takes `None` for the style.
type ChunkArgs<'py> = (Vec<i64>, Option<PyReadonlyArray1<'py, f32>>, f32, f32);

fn requests(chunks: Vec<ChunkArgs<'_>>) -> PyResult<Vec<ChunkRequest>> {
    chunks
        .into_iter()
        .map(|(tokens, style, speed, pause_after)| {
            let style = match style {
                Some(style) => style.as_slice()?.to_vec(),
                None => Vec::new(),
            };
            Ok(ChunkRequest { tokens, style, speed, pause_after })
        })
        .collect()
}

/// Synthesizes `chunks` on `synth` and returns their audio joined (see `Model.synthesize`).
fn synthesize_all<'py, M: Render>(py: Python<'py>, synth: &Synthesizer<M>, chunks: Vec<ChunkArgs<'py>>) -> PyResult<Bound<'py, PyArray1<f32>>> {
    let mut stream = synth.start(requests(chunks)?);
    let mut audio = Vec::new();
    while let Some(chunk) = next_chunk(py, &mut stream)? {
        if audio.is_empty() {
            audio = chunk.samples;
        } else {
            audio.extend_from_slice(&chunk.samples);
        }
    }
    Ok(PyArray1::from_vec(py, audio))
}

/// Opens a stream of `chunks` on `synth` (see `Model.stream`).
fn open_stream<M: Render>(synth: &Synthesizer<M>, chunks: Vec<ChunkArgs<'_>>, more: bool, timings: bool) -> PyResult<AudioStream> {
    let mut stream = synth.open();
    for chunk in requests(chunks)? {
        stream.push(chunk);
    }
    let input = if more { stream.take_input() } else { None };
    stream.finish();
    Ok(AudioStream::new(stream, input, timings))
}

#[pymethods]
impl Model {
    #[getter]
    fn path(&self) -> String {
        self.core().path().display().to_string()
    }

    #[getter]
    fn threads(&self) -> usize {
        self.core().options().intra_threads
    }

    /// Whether the model runs as an encoder and a decoder.
    #[getter]
    fn split(&self) -> bool {
        self.core().is_split()
    }

    /// Input and output names of this export.
    #[getter]
    fn schema(&self) -> (String, String, String, String) {
        let s = self.core().schema();
        (s.tokens.clone(), s.style.clone(), s.speed.clone(), s.audio.clone())
    }

    /// Synthesizes `chunks` (each `(token_ids, style, speed, pause_after)`) and returns one
    /// float32 array of 24 kHz audio, the chunks trimmed and joined with their pauses.
    fn synthesize<'py>(&self, py: Python<'py>, chunks: Vec<ChunkArgs<'py>>) -> PyResult<Bound<'py, PyArray1<f32>>> {
        synthesize_all(py, &self.synth, chunks)
    }

    /// Whether the model gives the frames of each token (word timings need them): a split
    /// model always does, a whole export when it has a `durations` output.
    #[getter]
    fn durations(&self) -> bool {
        self.core().schema().durations.is_some()
    }

    /// Like `synthesize`, but yields each chunk's audio as soon as it is ready. With
    /// `more=True` the stream stays open for `AudioStream.push` until `AudioStream.finish`.
    /// With `timings=True` each item is `(samples, durations, start, speech)`: the frames
    /// of each padded token (None when the model does not give them), the samples of the
    /// model's output before `samples[0]`, and the samples of speech before the pause.
    #[pyo3(signature = (chunks, more = false, timings = false))]
    fn stream(&self, chunks: Vec<ChunkArgs<'_>>, more: bool, timings: bool) -> PyResult<AudioStream> {
        open_stream(&self.synth, chunks, more, timings)
    }

    fn __repr__(&self) -> String {
        format!("<Model {} threads={} split={}>", self.path(), self.threads(), self.split())
    }
}

impl Model {
    fn core(&self) -> &CoreModel {
        self.synth.model()
    }
}

/// Waits for the next chunk without the GIL, checking for signals between waits.
fn next_chunk(py: Python<'_>, stream: &mut ChunkStream) -> PyResult<Option<ChunkAudio>> {
    loop {
        match without_gil(py, || stream.next_timeout(SIGNAL_CHECK)) {
            Next::Chunk(chunk) => return chunk.map(Some).map_err(to_py),
            Next::Done => return Ok(None),
            Next::Pending => py.check_signals()?,
        }
    }
}

/// The one place native work leaves the GIL.
fn without_gil<T: Send>(py: Python<'_>, work: impl Send + FnOnce() -> T) -> T {
    py.detach(work)
}

/// Iterator over the chunks of one synthesis; closing it cancels the rest.
///
/// One thread may read it while others push to it or close it: the reader waits for its
/// chunks without the GIL and with no lock another method needs, and `close` only raises
/// flags, so it returns at once and the reader's wait ends with the end of the iteration.
#[pyclass(frozen, module = "vocalize._native")]
struct AudioStream {
    /// Taken by the reader for each wait (never with the GIL held).
    chunks: Mutex<Option<ChunkStream>>,
    stop: Canceller,
    /// Separate from `chunks`, which the reader holds while it waits.
    input: Mutex<Option<ChunkInput>>,
    /// Items carry the chunk's timings (see `Model.stream`).
    timings: bool,
}

impl AudioStream {
    fn new(stream: ChunkStream, input: Option<ChunkInput>, timings: bool) -> Self {
        let stop = stream.canceller();
        Self { chunks: Mutex::new(Some(stream)), stop, input: Mutex::new(input), timings }
    }

    /// Waits up to [`SIGNAL_CHECK`] for the next chunk; the stream is dropped once done.
    fn wait(&self) -> Next {
        let mut chunks = lock(&self.chunks);
        let Some(stream) = chunks.as_mut() else { return Next::Done };
        let next = stream.next_timeout(SIGNAL_CHECK);
        if matches!(next, Next::Done | Next::Chunk(Err(_))) {
            *chunks = None;
        }
        next
    }
}

/// A lock whose holder panicked is still usable: every value behind these stays valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[pymethods]
impl AudioStream {
    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        loop {
            match without_gil(py, || self.wait()) {
                Next::Chunk(chunk) => {
                    let chunk = chunk.map_err(to_py)?;
                    let samples = PyArray1::from_vec(py, chunk.samples).into_any();
                    if !self.timings {
                        return Ok(Some(samples));
                    }
                    let item = (samples, chunk.durations, chunk.start, chunk.speech);
                    return Ok(Some(item.into_pyobject(py)?.into_any()));
                }
                Next::Done => return Ok(None),
                Next::Pending => {
                    if let Err(interrupt) = py.check_signals() {
                        self.stop.cancel();
                        return Err(interrupt);
                    }
                }
            }
        }
    }

    /// Adds chunks to a stream opened with `more=True`.
    fn push(&self, py: Python<'_>, chunks: Vec<ChunkArgs<'_>>) -> PyResult<()> {
        let requests = requests(chunks)?;
        without_gil(py, || {
            if let Some(input) = lock(&self.input).as_ref() {
                for chunk in requests {
                    input.push(chunk);
                }
            }
        });
        Ok(())
    }

    /// Ends the input of a stream opened with `more=True`.
    fn finish(&self, py: Python<'_>) {
        without_gil(py, || drop(lock(&self.input).take()));
    }

    /// Cancels the stream from any thread: the chunks not yet synthesized are dropped, the
    /// inference under way is terminated, and the iteration ends (a reader waiting in
    /// `__next__` gets `StopIteration`). Returns at once.
    fn close(&self, py: Python<'_>) {
        self.stop.cancel();
        self.finish(py);
    }

    /// Whether `close` was called (or the stream failed or was interrupted).
    #[getter]
    fn closed(&self) -> bool {
        self.stop.is_cancelled()
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(init, m)?)?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    m.add_function(wrap_pyfunction!(release_models, m)?)?;
    m.add_function(wrap_pyfunction!(loaded_models, m)?)?;
    m.add_function(wrap_pyfunction!(stop_streams, m)?)?;
    m.add_function(wrap_pyfunction!(enable_tracing, m)?)?;
    m.add_function(wrap_pyfunction!(take_spans, m)?)?;
    m.add_function(wrap_pyfunction!(runtime_info, m)?)?;
    m.add_function(wrap_pyfunction!(available_providers, m)?)?;
    m.add_function(wrap_pyfunction!(known_providers, m)?)?;
    m.add_class::<Model>()?;
    m.add_class::<AudioStream>()?;
    tiny::register(m)?;
    m.add("SAMPLE_RATE", vocalize_core::SAMPLE_RATE)?;
    m.add("MAX_TOKENS", vocalize_core::MAX_TOKENS)?;
    m.add("STYLE_DIM", vocalize_core::STYLE_DIM)?;
    m.add("SAMPLES_PER_FRAME", vocalize_core::model::SAMPLES_PER_FRAME)?;
    m.add("OPS_DOMAIN", vocalize_core::ops::DOMAIN)?;
    m.add("ENCODER_INPUTS", vocalize_core::model::ENCODER_INPUTS.to_vec())?;
    m.add("ENCODER_OUTPUTS", vocalize_core::model::ENCODER_OUTPUTS.to_vec())?;
    m.add("DECODER_INPUTS", vocalize_core::model::DECODER_INPUTS.to_vec())?;
    m.add("DECODER_OUTPUTS", vocalize_core::model::DECODER_OUTPUTS.to_vec())?;
    m.add("TOKEN_INPUTS", vec![vocalize_core::model::TOKENS, vocalize_core::model::INPUT_IDS])?;
    state::install_fork_handler();
    Ok(())
}

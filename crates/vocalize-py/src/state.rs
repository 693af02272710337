//! Process-wide state: the ONNX Runtime environment, the Tokio runtime, loaded models and
//! the span recorder.
//!
//! After `fork()` the child has none of the parent's threads, so the runtime and every
//! session (each owns an intra-op thread pool) are unusable there. A `pthread_atfork`
//! child handler bumps a generation counter; the next call in the child builds a fresh
//! runtime and fresh sessions and leaks the parent's (dropping them would join threads
//! that do not exist). The environment holds no threads and is kept.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use ort::environment::Environment;
use pyo3::PyResult;
use tokio::runtime::Runtime;
use tracing_subscriber::layer::SubscriberExt;
use vocalize_core::trace::SpanRecorder;
use vocalize_core::model::SplitFiles;
use vocalize_core::tiny::TinyModel;
use vocalize_core::{Model, ModelOptions, Synthesizer};

use crate::errors::{runtime_library, to_py};

static ENVIRONMENT: OnceLock<(Environment, PathBuf)> = OnceLock::new();
static ENGINE: Mutex<Option<Engine>> = Mutex::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(0);
static RECORDER: OnceLock<SpanRecorder> = OnceLock::new();

/// What one process (or one forked child) has built.
struct Engine {
    generation: u64,
    runtime: Arc<Runtime>,
    models: HashMap<(PathBuf, usize, String, Option<SplitFiles>, Option<PathBuf>), Arc<Model>>,
    /// Tiny models by (path, threads, sessions).
    tiny: HashMap<(PathBuf, usize, usize), Arc<TinyModel>>,
}

/// The ONNX Runtime environment, loading the library at `library` the first time.
pub fn environment(library: &str) -> PyResult<&'static (Environment, PathBuf)> {
    if let Some(env) = ENVIRONMENT.get() {
        return Ok(env);
    }
    let _span = tracing::info_span!("init_onnxruntime").entered();
    let path = PathBuf::from(library);
    let builder = ort::init_from(&path).map_err(|e| {
        runtime_library(format!("cannot load ONNX Runtime from {}: {e}", path.display()))
    })?;
    let env = builder
        .with_name("vocalize")
        .with_telemetry(false)
        .build()
        .map_err(|e| runtime_library(format!("cannot start ONNX Runtime from {}: {e}", path.display())))?;
    Ok(ENVIRONMENT.get_or_init(|| (env, path)))
}

fn with_engine<T>(f: impl FnOnce(&mut Engine) -> T) -> T {
    let mut slot = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let generation = GENERATION.load(Ordering::SeqCst);
    if slot.as_ref().is_some_and(|e| e.generation != generation) {
        std::mem::forget(slot.take());
    }
    let engine = slot.get_or_insert_with(|| Engine {
        generation,
        runtime: Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("vocalize")
                .enable_time()
                .build()
                .expect("a Tokio runtime can be built"),
        ),
        models: HashMap::new(),
        tiny: HashMap::new(),
    });
    f(engine)
}

/// The model at `path` with `options`, loaded once per process.
pub fn model(path: &Path, options: ModelOptions) -> PyResult<Arc<Model>> {
    let env = require_environment()?;
    let key = (path.to_owned(), options.intra_threads, options.provider.clone(), options.split.clone(), options.profile.clone());
    if let Some(model) = with_engine(|e| e.models.get(&key).cloned()) {
        return Ok(model);
    }
    // Loading takes a while; another thread may load the same model meanwhile, and the
    // first to finish wins.
    let loaded = Arc::new(Model::load(env, path, options).map_err(to_py)?);
    Ok(with_engine(|e| Arc::clone(e.models.entry(key).or_insert(loaded))))
}

/// The tiny model at `path`, loaded once per process (and per forked child) for each
/// thread and session count; `options` apply to its first load.
pub fn tiny_model(path: &Path, options: ModelOptions, sessions: usize) -> PyResult<Arc<TinyModel>> {
    let env = require_environment()?;
    let key = (path.to_owned(), options.intra_threads, sessions);
    if let Some(model) = with_engine(|e| e.tiny.get(&key).cloned()) {
        return Ok(model);
    }
    let loaded = Arc::new(TinyModel::load(env, path, options, sessions).map_err(to_py)?);
    Ok(with_engine(|e| Arc::clone(e.tiny.entry(key).or_insert(loaded))))
}

/// The process's Tokio runtime (rebuilt in a forked child).
pub fn runtime() -> tokio::runtime::Handle {
    with_engine(|e| e.runtime.handle().clone())
}

/// `(kind, path)` of every model loaded in this process (or forked child).
pub fn loaded_models() -> Vec<(&'static str, String)> {
    with_engine(|e| {
        let mut found: Vec<(&'static str, String)> = e.models.values().map(|m| ("kokoro", m.path().display().to_string())).collect();
        found.extend(e.tiny.keys().map(|(path, _, _)| ("tiny", path.display().to_string())));
        found.sort();
        found.dedup();
        found
    })
}

/// Forgets the loaded models; each is dropped (its sessions end) once no Python object
/// holds it any more.
pub fn release_models() {
    let models = with_engine(|e| (std::mem::take(&mut e.models), std::mem::take(&mut e.tiny)));
    drop(models);
}

/// The environment, or an error when `init` has not run.
pub fn require_environment() -> PyResult<&'static Environment> {
    match ENVIRONMENT.get() {
        Some((env, _)) => Ok(env),
        None => Err(runtime_library("ONNX Runtime is not loaded: call init() first".into())),
    }
}

pub fn synthesizer(model: Arc<Model>) -> Synthesizer {
    let runtime = with_engine(|e| Arc::clone(&e.runtime));
    Synthesizer::new(model, runtime.handle().clone())
}

/// The span recorder, installed as the global `tracing` subscriber on first use.
pub fn recorder() -> &'static SpanRecorder {
    RECORDER.get_or_init(|| {
        let recorder = SpanRecorder::new();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        // Fails only if the host already set a global subscriber; then spans go there.
        let _ = tracing::subscriber::set_global_default(subscriber);
        recorder
    })
}

extern "C" fn after_fork_in_child() {
    GENERATION.fetch_add(1, Ordering::SeqCst);
}

pub fn install_fork_handler() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| unsafe {
        libc::pthread_atfork(None, None, Some(after_fork_in_child));
    });
}

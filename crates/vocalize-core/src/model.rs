//! A Kokoro ONNX model loaded as a pool of ONNX Runtime sessions.

use std::path::{Path, PathBuf};

use ort::environment::Environment;
use ort::ep;
use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::{RunOptions, Session, SessionInputs, SessionOutputs};
use ort::value::TensorRef;

use crate::error::{CoreError, Result};
use crate::pool::Pool;
use crate::{MAX_TOKENS, STYLE_DIM};

/// Input names of the kokoro-onnx export (`kokoro-v1.0*.onnx`).
pub const TOKENS: &str = "tokens";
/// Input name of the same input in the onnx-community export.
pub const INPUT_IDS: &str = "input_ids";
pub const STYLE: &str = "style";
pub const SPEED: &str = "speed";
/// Output name of the kokoro-onnx export, and of the split decoder.
pub const AUDIO: &str = "audio";

/// The split graph's tensors (written into the graph by `vocalize/assets/split.py`, which
/// reads these names from the native module): text features aligned to frames, pitch,
/// energy and frames per token.
pub const ASR: &str = "asr";
pub const F0: &str = "f0";
pub const N: &str = "n";
pub const DURATIONS: &str = "durations";
/// Inputs and outputs of the split encoder and decoder, in order.
pub const ENCODER_INPUTS: [&str; 3] = [TOKENS, STYLE, SPEED];
pub const ENCODER_OUTPUTS: [&str; 4] = [ASR, F0, N, DURATIONS];
pub const DECODER_INPUTS: [&str; 4] = [ASR, F0, N, STYLE];
pub const DECODER_OUTPUTS: [&str; 1] = [AUDIO];

/// Names a particular export uses for its inputs, found from the session itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub tokens: String,
    pub style: String,
    pub speed: String,
    pub audio: String,
    /// The output of frames per token, when the export has one (see [`DURATIONS`]).
    pub durations: Option<String>,
}

impl Schema {
    /// Matches the session's declared inputs against the known Kokoro exports.
    pub fn detect(inputs: &[&str], outputs: &[&str], path: &Path) -> Result<Self> {
        let find = |candidates: &[&str]| {
            candidates.iter().find(|c| inputs.contains(c)).map(|c| c.to_string())
        };
        let (Some(tokens), Some(style), Some(speed)) =
            (find(&[TOKENS, INPUT_IDS]), find(&[STYLE]), find(&[SPEED]))
        else {
            return Err(CoreError::model(
                path,
                format!(
                    "not a Kokoro model: expected inputs tokens|input_ids, style, speed; found {}",
                    inputs.join(", ")
                ),
            ));
        };
        let durations = outputs.iter().find(|o| **o == DURATIONS).map(|o| o.to_string());
        let Some(audio) = outputs.iter().find(|o| **o != DURATIONS) else {
            return Err(CoreError::model(path, "the model declares no audio output"));
        };
        Ok(Self { tokens, style, speed, audio: audio.to_string(), durations })
    }
}

/// How sessions are built.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Intra-op threads of the session (one session per graph, with every thread: the
    /// lowest latency; two sessions of one thread gave 3 % more throughput on a paragraph
    /// for twice the memory).
    pub intra_threads: usize,
    /// Execution provider, by short name (see [`PROVIDERS`]); `cpu` is always there.
    pub provider: String,
    /// Where ONNX Runtime's optimized graph of this model is kept. Loaded with graph
    /// optimization off when present (about half the session-creation time); written on
    /// the first load otherwise. The caller keys the path by everything that changes the
    /// optimized graph (model, runtime version, provider, CPU).
    pub optimized: Option<PathBuf>,
    /// The model cut into an encoder and a decoder (see [`SplitFiles`]); `None` runs the
    /// model whole.
    pub split: Option<SplitFiles>,
    /// A developer's switch: ONNX Runtime writes a per-node profile of each session, named
    /// after this prefix and the model file, when the session is dropped.
    pub profile: Option<PathBuf>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self { intra_threads: 2, provider: "cpu".into(), optimized: None, split: None, profile: None }
    }
}

/// A Kokoro model cut in two (by `vocalize/split.py`), so its decoder can run vocalize's
/// fused operators (see [`crate::ops`]).
///
/// The encoder takes `tokens`, `style`, `speed` and returns `asr` [1, C, F] (text features
/// aligned to F frames of [`SAMPLES_PER_FRAME`] samples), `f0` and `n` [1, 2F] (pitch and
/// energy at twice the frame rate) and `durations` [T] (frames per token). The decoder
/// takes those and `style`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SplitFiles {
    pub encoder: PathBuf,
    pub decoder: PathBuf,
}

/// Output samples per frame of the decoder's input (24 kHz / 40 Hz).
pub const SAMPLES_PER_FRAME: usize = 600;

/// Execution providers vocalize can ask ONNX Runtime for: short name, ONNX Runtime's name.
pub const PROVIDERS: &[(&str, &str)] = &[
    ("cpu", "CPUExecutionProvider"),
    ("cuda", "CUDAExecutionProvider"),
    ("tensorrt", "TensorrtExecutionProvider"),
    ("rocm", "ROCMExecutionProvider"),
    ("coreml", "CoreMLExecutionProvider"),
    ("openvino", "OpenVINOExecutionProvider"),
    ("xnnpack", "XnnpackExecutionProvider"),
];

/// Names (ONNX Runtime's) of the execution providers the loaded library was built with.
pub fn available_providers() -> Result<Vec<String>> {
    let api = ort::api();
    let mut names: *mut *mut std::ffi::c_char = std::ptr::null_mut();
    let mut count = 0;
    // SAFETY: ONNX Runtime fills `names` with `count` C strings, released below.
    unsafe {
        let status = (api.GetAvailableProviders)(&mut names, &mut count);
        if let Some(message) = status_message(status) {
            return Err(CoreError::inference(message));
        }
        let found = (0..count.max(0) as usize)
            .map(|i| std::ffi::CStr::from_ptr(*names.add(i)).to_string_lossy().into_owned())
            .collect();
        let _ = status_message((api.ReleaseAvailableProviders)(names, count));
        Ok(found)
    }
}

/// The message of a non-null ONNX Runtime status, which is freed.
unsafe fn status_message(status: ort::sys::OrtStatusPtr) -> Option<String> {
    if status.0.is_null() {
        return None;
    }
    let api = ort::api();
    let message = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0)).to_string_lossy().into_owned();
    (api.ReleaseStatus)(status.0);
    Some(message)
}

pub struct Model {
    path: PathBuf,
    schema: Schema,
    options: ModelOptions,
    graph: Graph,
}

enum Graph {
    Whole(Pool<Session>),
    Split(Split),
}

/// A model cut into an encoder and a decoder (see [`SplitFiles`]), each one session.
pub struct Split {
    encoder: Pool<Session>,
    decoder: Pool<Session>,
}

/// The raw output of one inference.
pub struct Speech {
    /// 24 kHz audio, [`SAMPLES_PER_FRAME`] samples per frame.
    pub samples: Vec<f32>,
    /// Frames given to each padded token (the pads at both ends included), when known.
    pub durations: Option<Vec<i64>>,
}

/// A chunk through the encoder: everything the decoder needs.
pub struct Encoded {
    /// Frames of audio the chunk lasts (each [`SAMPLES_PER_FRAME`] samples).
    pub frames: usize,
    channels: usize,
    asr: Vec<f32>,
    f0: Vec<f32>,
    n: Vec<f32>,
    /// Frames given to each padded token (the pads at both ends included).
    pub durations: Vec<i64>,
    style: Vec<f32>,
}

impl Model {
    /// Loads `path` into a session of `env` (or, with `options.split`, a session of its
    /// encoder and one of its decoder).
    pub fn load(env: &Environment, path: &Path, options: ModelOptions) -> Result<Self> {
        let _span = tracing::info_span!("load_model").entered();
        if !path.is_file() {
            return Err(CoreError::model(path, "no such file"));
        }
        if let Some(files) = options.split.clone() {
            let cache = |part: &str| options.optimized.as_deref().map(|p| part_cache(p, part));
            // The two parts load at once: most of a session's creation is reading and
            // preparing weights on one core.
            let (encoder_cache, decoder_cache) = (cache("encoder"), cache("decoder"));
            let (encoder, decoder) = std::thread::scope(|scope| {
                let decoder = scope.spawn(|| Self::session(env, &files.decoder, decoder_cache.as_deref(), &options, true));
                let encoder = Self::session(env, &files.encoder, encoder_cache.as_deref(), &options, false);
                let decoder = decoder.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                (encoder, decoder)
            });
            let (encoder, decoder) = (encoder?, decoder?);
            split_layout(&encoder, &decoder, &files)?;
            let schema = Schema {
                tokens: TOKENS.into(),
                style: STYLE.into(),
                speed: SPEED.into(),
                audio: AUDIO.into(),
                durations: Some(DURATIONS.into()),
            };
            let graph = Graph::Split(Split { encoder: Pool::new(vec![encoder]), decoder: Pool::new(vec![decoder]) });
            return Ok(Self { path: path.to_owned(), schema, options, graph });
        }
        let session = Self::session_of(env, path, options.optimized.as_deref(), &options, false)?;
        let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        let schema = Schema::detect(&inputs, &outputs, path)?;
        Ok(Self { path: path.to_owned(), schema, options, graph: Graph::Whole(Pool::new(vec![session])) })
    }

    /// A session of `path`; `ops`: with vocalize's custom operators (the split decoder).
    fn session(env: &Environment, path: &Path, cache: Option<&Path>, options: &ModelOptions, ops: bool) -> Result<Session> {
        if !ops {
            return Self::session_of(env, path, cache, options, false);
        }
        crate::process::PROCESS.with_custom_ops(|| Self::session_of(env, path, cache, options, true))
    }

    pub(crate) fn session_of(env: &Environment, path: &Path, cache: Option<&Path>, options: &ModelOptions, ops: bool) -> Result<Session> {
        let _span = tracing::info_span!("create_session", threads = options.intra_threads).entered();
        let Some(cache) = cache else {
            return Self::builder(env, path, options, GraphOptimizationLevel::All, ops)?
                .commit_from_file(path)
                .map_err(|e| CoreError::model_runtime(path, e));
        };
        if let Some(session) = Self::cached_session(env, path, options, cache, ops) {
            return Ok(session);
        }
        // Build from the model, saving the optimized graph under a name of our own and
        // moving it into place only once complete: readers never see a partial file, and
        // two processes building at once each write their own copy.
        let _span = tracing::info_span!("optimize_and_save").entered();
        let temp = temp_name(cache);
        let saved = Self::builder(env, path, options, GraphOptimizationLevel::All, ops)?
            .with_optimized_model_path(&temp)
            .map_err(|e| CoreError::model_runtime(path, e))?
            .commit_from_file(path);
        match saved {
            Ok(session) => {
                if let Err(e) = publish(&temp, cache) {
                    tracing::warn!("cannot cache the optimized model at {}: {e}", cache.display());
                }
                Ok(session)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&temp);
                // A cache folder that cannot be written must not stop synthesis.
                tracing::warn!("cannot save the optimized model to {}: {e}", temp.display());
                Self::builder(env, path, options, GraphOptimizationLevel::All, ops)?
                    .commit_from_file(path)
                    .map_err(|e| CoreError::model_runtime(path, e))
            }
        }
    }

    /// The session from a complete cached optimized graph, or `None` (and the entry
    /// removed) when it is missing, incomplete or unreadable.
    fn cached_session(env: &Environment, path: &Path, options: &ModelOptions, cache: &Path, ops: bool) -> Option<Session> {
        let expected = std::fs::read_to_string(size_file(cache)).ok()?.trim().parse::<u64>().ok();
        let actual = std::fs::metadata(cache).ok().map(|m| m.len());
        if expected.is_none() || expected != actual {
            if actual.is_some() {
                tracing::warn!("discarding incomplete optimized model {}", cache.display());
                let _ = std::fs::remove_file(cache);
            }
            return None;
        }
        let _span = tracing::info_span!("load_optimized").entered();
        let loaded = Self::builder(env, path, options, GraphOptimizationLevel::Disable, ops)
            .ok()?
            .commit_from_file(cache);
        match loaded {
            Ok(session) => Some(session),
            Err(e) => {
                tracing::warn!("discarding unreadable optimized model {}: {e}", cache.display());
                let _ = std::fs::remove_file(cache);
                let _ = std::fs::remove_file(size_file(cache));
                None
            }
        }
    }

    fn builder(env: &Environment, path: &Path, options: &ModelOptions, level: GraphOptimizationLevel, ops: bool) -> Result<SessionBuilder> {
        let fail = |e: ort::Error<SessionBuilder>| CoreError::model_runtime(path, e);
        let mut builder = Session::builder(env).map_err(|e| CoreError::model_runtime(path, e))?;
        if ops {
            // The split decoder's fused operators (see `crate::ops`).
            let domain = crate::ops::domain().map_err(|e| CoreError::model_runtime(path, e))?;
            builder = builder.with_operators(domain).map_err(fail)?;
        }
        let builder = builder
            .with_optimization_level(level)
            .map_err(fail)?
            .with_intra_threads(options.intra_threads.max(1))
            .map_err(fail)?
            .with_inter_threads(1)
            .map_err(fail)?
            // Every request has a new input length; a memory pattern planned for one length
            // is useless for the next and only grows the arena.
            .with_memory_pattern(false)
            .map_err(fail)?
            // The encoder and decoder sessions (and the server's streams) run at once on
            // few cores; threads spinning for work would take the cores the other session
            // needs. Measured on 2 cores, 4 alternating server runs of 4 clients: p50 first
            // byte 1527 ms and 2.40 audio s/s without spinning, 1617 ms and 2.29 with.
            .with_intra_op_spinning(false)
            .map_err(fail)?;
        let builder = match &options.profile {
            Some(prefix) => {
                let mut prefix = prefix.clone().into_os_string();
                prefix.push(format!("-{}", path.file_stem().unwrap_or_default().to_string_lossy()));
                builder.with_profiling(prefix).map_err(fail)?
            }
            None => builder,
        };
        with_provider(builder, &options.provider).map_err(|e| CoreError::model(path, e))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn options(&self) -> &ModelOptions {
        &self.options
    }

    /// Runs one inference: `tokens` without padding (1..=510 ids), one style row, a speed,
    /// waiting for the session with `priority` (see [`crate::pool`]); `run` lets another
    /// thread stop the inference midway (`RunOptions::terminate`). Returns the raw
    /// waveform at 24 kHz (a split model's decoded in one piece) and, when the export gives
    /// them, the frames of each padded token.
    pub fn infer(&self, tokens: &[i64], style: &[f32], speed: f32, priority: u8, run: Option<&RunOptions>) -> Result<Speech> {
        check_request(tokens, style, speed)?;
        let sessions = match &self.graph {
            Graph::Whole(sessions) => sessions,
            Graph::Split(split) => {
                let encoded = split.encode(tokens, style, speed, priority, run)?;
                let samples = split.decode(&encoded, priority, run)?;
                return Ok(Speech { samples, durations: Some(encoded.durations) });
            }
        };
        let padded = padded(tokens);
        let speed = [speed];
        let mut session = sessions.acquire_with(priority);
        let _span = tracing::info_span!("inference", tokens = tokens.len()).entered();
        let inputs = ort::inputs![
            self.schema.tokens.as_str() => TensorRef::from_array_view(([1usize, padded.len()], padded.as_slice())).map_err(inference)?,
            self.schema.style.as_str() => TensorRef::from_array_view(([1usize, STYLE_DIM], style)).map_err(inference)?,
            self.schema.speed.as_str() => TensorRef::from_array_view(([1usize], &speed[..])).map_err(inference)?,
        ];
        let outputs = run_session(&mut session, inputs, run)?;
        let (_, audio) = outputs[self.schema.audio.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(inference)?;
        let durations = match &self.schema.durations {
            Some(name) => {
                let (_, durations) = outputs[name.as_str()].try_extract_tensor::<i64>().map_err(inference)?;
                if durations.len() != padded.len() {
                    return Err(CoreError::inference(format!(
                        "the model gave {} durations for {} ids",
                        durations.len(),
                        padded.len()
                    )));
                }
                Some(durations.to_vec())
            }
            None => None,
        };
        Ok(Speech { samples: audio.to_vec(), durations })
    }

    /// The encoder and decoder, when the model runs split.
    pub fn split(&self) -> Option<&Split> {
        match &self.graph {
            Graph::Split(split) => Some(split),
            Graph::Whole(_) => None,
        }
    }

    /// Whether the model runs as an encoder and a decoder (see [`Model::split`]).
    pub fn is_split(&self) -> bool {
        self.split().is_some()
    }
}

impl Split {
    /// Runs the text side on one chunk (checked as for [`Model::infer`]).
    pub fn encode(&self, tokens: &[i64], style: &[f32], speed: f32, priority: u8, run: Option<&RunOptions>) -> Result<Encoded> {
        check_request(tokens, style, speed)?;
        let encoder = &self.encoder;
        let padded = padded(tokens);
        let speed = [speed];
        let mut session = encoder.acquire_with(priority);
        let _span = tracing::info_span!("encode", tokens = tokens.len()).entered();
        let inputs = ort::inputs![
            TOKENS => TensorRef::from_array_view(([1usize, padded.len()], padded.as_slice())).map_err(inference)?,
            STYLE => TensorRef::from_array_view(([1usize, STYLE_DIM], style)).map_err(inference)?,
            SPEED => TensorRef::from_array_view(([1usize], &speed[..])).map_err(inference)?,
        ];
        let outputs = run_session(&mut session, inputs, run)?;
        let (shape, asr) = outputs[ASR].try_extract_tensor::<f32>().map_err(inference)?;
        let (channels, frames) = match **shape {
            [1, c, f] => (c as usize, f as usize),
            _ => return Err(CoreError::inference(format!("the encoder gave asr of shape {shape:?}"))),
        };
        let (_, f0) = outputs[F0].try_extract_tensor::<f32>().map_err(inference)?;
        let (_, n) = outputs[N].try_extract_tensor::<f32>().map_err(inference)?;
        let (_, durations) = outputs[DURATIONS].try_extract_tensor::<i64>().map_err(inference)?;
        if f0.len() != 2 * frames || n.len() != 2 * frames || durations.len() != padded.len() {
            return Err(CoreError::inference(format!(
                "the encoder's outputs disagree: {frames} frames, {} f0, {} n, {} durations for {} ids",
                f0.len(),
                n.len(),
                durations.len(),
                padded.len()
            )));
        }
        Ok(Encoded {
            frames,
            channels,
            asr: asr.to_vec(),
            f0: f0.to_vec(),
            n: n.to_vec(),
            durations: durations.to_vec(),
            style: style.to_vec(),
        })
    }

    /// Decodes all the frames of `encoded` into `frames * SAMPLES_PER_FRAME` samples.
    pub fn decode(&self, encoded: &Encoded, priority: u8, run: Option<&RunOptions>) -> Result<Vec<f32>> {
        let frames = encoded.frames;
        let mut session = self.decoder.acquire_with(priority);
        let _span = tracing::info_span!("decode", frames).entered();
        let inputs = ort::inputs![
            ASR => TensorRef::from_array_view(([1usize, encoded.channels, frames], encoded.asr.as_slice())).map_err(inference)?,
            F0 => TensorRef::from_array_view(([1usize, 2 * frames], encoded.f0.as_slice())).map_err(inference)?,
            N => TensorRef::from_array_view(([1usize, 2 * frames], encoded.n.as_slice())).map_err(inference)?,
            STYLE => TensorRef::from_array_view(([1usize, STYLE_DIM], encoded.style.as_slice())).map_err(inference)?,
        ];
        let outputs = run_session(&mut session, inputs, run)?;
        let (_, audio) = outputs[AUDIO].try_extract_tensor::<f32>().map_err(inference)?;
        if audio.len() != frames * SAMPLES_PER_FRAME {
            return Err(CoreError::inference(format!(
                "the decoder gave {} samples for {frames} frames, expected {}",
                audio.len(),
                frames * SAMPLES_PER_FRAME
            )));
        }
        Ok(audio.to_vec())
    }
}

/// Runs `session`, with `run`'s options when given (so another thread can stop the run).
pub(crate) fn run_session<'r, 'i, 'v: 'i, const N: usize>(
    session: &'r mut Session,
    inputs: impl Into<SessionInputs<'i, 'v, N>>,
    run: Option<&'r RunOptions>,
) -> Result<SessionOutputs<'r>> {
    match run {
        Some(options) => session.run_with_options(inputs, options),
        None => session.run(inputs),
    }
    .map_err(inference)
}

pub(crate) fn inference(e: ort::Error) -> CoreError {
    CoreError::inference_runtime(e)
}

fn check_request(tokens: &[i64], style: &[f32], speed: f32) -> Result<()> {
    if tokens.is_empty() || tokens.len() > MAX_TOKENS {
        return Err(CoreError::InvalidInput(format!(
            "a chunk must hold 1 to {MAX_TOKENS} phoneme ids, got {}",
            tokens.len()
        )));
    }
    if style.len() != STYLE_DIM {
        return Err(CoreError::InvalidInput(format!("a style vector has {STYLE_DIM} values, got {}", style.len())));
    }
    if !(speed.is_finite() && speed > 0.0) {
        return Err(CoreError::InvalidInput(format!("speed must be positive, got {speed}")));
    }
    Ok(())
}

/// The ids with the pad (0) the model expects at each end.
fn padded(tokens: &[i64]) -> Vec<i64> {
    let mut padded = Vec::with_capacity(tokens.len() + 2);
    padded.push(0);
    padded.extend_from_slice(tokens);
    padded.push(0);
    padded
}

/// Checks a split model's two sessions have the inputs and outputs [`Model::encode`] and
/// [`Split::decode`] use.
fn split_layout(encoder: &Session, decoder: &Session, files: &SplitFiles) -> Result<()> {
    check_names(encoder, &ENCODER_INPUTS, &ENCODER_OUTPUTS, &files.encoder, "encoder")?;
    check_names(decoder, &DECODER_INPUTS, &DECODER_OUTPUTS, &files.decoder, "decoder")
}

/// Checks that `session` (the `part` of a split model at `path`) has these inputs and outputs.
fn check_names(session: &Session, inputs: &[&str], outputs: &[&str], path: &Path, part: &str) -> Result<()> {
    let found_in: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
    let found_out: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if found_in != inputs || found_out != outputs {
        return Err(CoreError::model(
            path,
            format!("not a vocalize {part}: inputs {}, outputs {}", found_in.join(", "), found_out.join(", ")),
        ));
    }
    Ok(())
}

/// Where the optimized graph of one part of a split model is cached, beside `cache`.
fn part_cache(cache: &Path, part: &str) -> PathBuf {
    let stem = cache.file_stem().unwrap_or_default().to_string_lossy();
    cache.with_file_name(format!("{stem}.{part}.onnx"))
}

/// Registers the execution provider `name` (a short name from [`PROVIDERS`]), failing
/// when the loaded ONNX Runtime library does not have it.
fn with_provider(builder: SessionBuilder, name: &str) -> std::result::Result<SessionBuilder, String> {
    let Some((_, full)) = PROVIDERS.iter().find(|(short, _)| *short == name) else {
        let known: Vec<&str> = PROVIDERS.iter().map(|(short, _)| *short).collect();
        return Err(format!("unknown execution provider {name:?}; known: {}", known.join(", ")));
    };
    if name == "cpu" {
        return Ok(builder);
    }
    let available = available_providers().map_err(|e| e.to_string())?;
    if !available.iter().any(|a| a == full) {
        return Err(format!(
            "this ONNX Runtime has no {full} (it has {}); install the matching onnxruntime package",
            available.join(", ")
        ));
    }
    let dispatch = match name {
        "cuda" => ep::CUDA::default().build(),
        "tensorrt" => ep::TensorRT::default().build(),
        "rocm" => ep::ROCm::default().build(),
        "coreml" => ep::CoreML::default().build(),
        "openvino" => ep::OpenVINO::default().build(),
        "xnnpack" => ep::XNNPACK::default().build(),
        _ => unreachable!("every entry of PROVIDERS is matched"),
    };
    builder.with_execution_providers([dispatch.error_on_failure()]).map_err(|e| e.to_string())
}

/// A fresh hidden name next to `path` (`.NAME.<pid>-<nanos>.part`, as vocalize's Python
/// writer names its temporary files) for writing it in full before a rename.
fn temp_name(path: &Path) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let mut name = std::ffi::OsString::from(".");
    name.push(path.file_name().unwrap_or_default());
    name.push(format!(".{}-{nanos}.part", std::process::id()));
    path.with_file_name(name)
}

/// Makes a file about to be published readable by all (0644), whatever the umask or the
/// writer chose, as vocalize's Python writer does: a shared cache is read by every user.
fn readable_by_all(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The file that records the complete size of a cached optimized model.
fn size_file(cache: &Path) -> PathBuf {
    let mut name = cache.file_name().unwrap_or_default().to_os_string();
    name.push(".size");
    cache.with_file_name(name)
}

/// Moves a fully written optimized model into place: its size first (written and renamed
/// the same way), then the model, so a complete size file never vouches for a partial model.
fn publish(temp: &Path, cache: &Path) -> std::io::Result<()> {
    let result = (|| {
        let size = std::fs::metadata(temp)?.len();
        let size_temp = temp_name(&size_file(cache));
        let written = std::fs::write(&size_temp, size.to_string())
            .and_then(|()| readable_by_all(&size_temp))
            .and_then(|()| std::fs::rename(&size_temp, size_file(cache)));
        if written.is_err() {
            let _ = std::fs::remove_file(&size_temp);
        }
        written?;
        readable_by_all(temp)?;
        std::fs::rename(temp, cache)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn publishing_leaves_the_model_and_its_size_readable_by_all_and_no_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let folder = std::env::temp_dir().join(format!("vocalize-publish-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        let cache = folder.join("model-abc.onnx");
        let temp = temp_name(&cache);
        assert!(temp.file_name().unwrap().to_string_lossy().starts_with(".model-abc.onnx."));
        std::fs::write(&temp, b"optimized graph").unwrap();
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600)).unwrap();
        publish(&temp, &cache).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&cache), 0o644);
        assert_eq!(mode(&size_file(&cache)), 0o644);
        assert_eq!(std::fs::read_to_string(size_file(&cache)).unwrap(), "15");
        let mut names: Vec<String> =
            std::fs::read_dir(&folder).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["model-abc.onnx", "model-abc.onnx.size"]);
        std::fs::remove_dir_all(&folder).unwrap();
    }

    #[test]
    fn detects_both_known_exports() {
        let p = Path::new("m.onnx");
        let a = Schema::detect(&["tokens", "style", "speed"], &["audio"], p).unwrap();
        assert_eq!((a.tokens.as_str(), a.audio.as_str(), a.durations.as_deref()), ("tokens", "audio", None));
        let b = Schema::detect(&["input_ids", "style", "speed"], &["waveform"], p).unwrap();
        assert_eq!((b.tokens.as_str(), b.audio.as_str()), ("input_ids", "waveform"));
    }

    #[test]
    fn finds_a_durations_output_beside_the_audio() {
        let p = Path::new("m.onnx");
        let a = Schema::detect(&["input_ids", "style", "speed"], &["durations", "waveform"], p).unwrap();
        assert_eq!((a.audio.as_str(), a.durations.as_deref()), ("waveform", Some("durations")));
    }

    #[test]
    fn rejects_a_model_with_other_inputs() {
        let err = Schema::detect(&["pixel_values"], &["logits"], Path::new("x.onnx")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not a Kokoro model") && msg.contains("pixel_values"), "{msg}");
    }
}

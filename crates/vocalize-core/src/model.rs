//! A Kokoro ONNX model loaded as a pool of ONNX Runtime sessions.

use std::path::{Path, PathBuf};

use ort::environment::Environment;
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
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

/// Names a particular export uses for its inputs, found from the session itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schema {
    pub tokens: String,
    pub style: String,
    pub speed: String,
    pub audio: String,
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
        let Some(audio) = outputs.first() else {
            return Err(CoreError::model(path, "the model declares no outputs"));
        };
        Ok(Self { tokens, style, speed, audio: audio.to_string() })
    }
}

/// How sessions are built.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Intra-op threads of each session.
    pub intra_threads: usize,
    /// Sessions in the pool, each able to run one inference at a time.
    pub sessions: usize,
    /// Keep ONNX Runtime's CPU memory arena. Measured here without it: half the speed and a
    /// higher peak RSS (every inference's large buffers go through malloc), so it stays on;
    /// memory is bounded by bounding the chunk length instead.
    pub arena: bool,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self { intra_threads: 2, sessions: 1, arena: true }
    }
}

pub struct Model {
    path: PathBuf,
    schema: Schema,
    options: ModelOptions,
    sessions: Pool<Session>,
}

impl Model {
    /// Loads `path` into `options.sessions` sessions of `env`.
    pub fn load(env: &Environment, path: &Path, options: ModelOptions) -> Result<Self> {
        let _span = tracing::info_span!("load_model", sessions = options.sessions).entered();
        if !path.is_file() {
            return Err(CoreError::model(path, "no such file"));
        }
        let mut sessions = Vec::with_capacity(options.sessions.max(1));
        for _ in 0..options.sessions.max(1) {
            sessions.push(Self::session(env, path, &options)?);
        }
        let first = &sessions[0];
        let inputs: Vec<&str> = first.inputs().iter().map(|o| o.name()).collect();
        let outputs: Vec<&str> = first.outputs().iter().map(|o| o.name()).collect();
        let schema = Schema::detect(&inputs, &outputs, path)?;
        Ok(Self { path: path.to_owned(), schema, options, sessions: Pool::new(sessions) })
    }

    fn session(env: &Environment, path: &Path, options: &ModelOptions) -> Result<Session> {
        let _span = tracing::info_span!("create_session", threads = options.intra_threads).entered();
        let fail = |e: ort::Error<_>| CoreError::model(path, e);
        let mut builder = Session::builder(env).map_err(|e| CoreError::model(path, e))?;
        if !options.arena {
            disable_cpu_arena(&mut builder).map_err(|e| CoreError::model(path, e))?;
        }
        builder
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(fail)?
            .with_intra_threads(options.intra_threads.max(1))
            .map_err(fail)?
            .with_inter_threads(1)
            .map_err(fail)?
            // Every request has a new input length; a memory pattern planned for one length
            // is useless for the next and only grows the arena.
            .with_memory_pattern(false)
            .map_err(fail)?
            .commit_from_file(path)
            .map_err(|e| CoreError::model(path, e))
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

    /// Runs one inference: `tokens` without padding (1..=510 ids), one style row, a speed.
    /// Returns the raw waveform at 24 kHz.
    pub fn infer(&self, tokens: &[i64], style: &[f32], speed: f32) -> Result<Vec<f32>> {
        if tokens.is_empty() || tokens.len() > MAX_TOKENS {
            return Err(CoreError::InvalidInput(format!(
                "a chunk must hold 1 to {MAX_TOKENS} phoneme ids, got {}",
                tokens.len()
            )));
        }
        if style.len() != STYLE_DIM {
            return Err(CoreError::InvalidInput(format!(
                "a style vector has {STYLE_DIM} values, got {}",
                style.len()
            )));
        }
        if !(speed.is_finite() && speed > 0.0) {
            return Err(CoreError::InvalidInput(format!("speed must be positive, got {speed}")));
        }
        let mut padded = Vec::with_capacity(tokens.len() + 2);
        padded.push(0);
        padded.extend_from_slice(tokens);
        padded.push(0);
        let speed = [speed];

        let mut session = self.sessions.acquire();
        let _span = tracing::info_span!("inference", tokens = tokens.len()).entered();
        let inference = |e: ort::Error| CoreError::Inference(e.to_string());
        let inputs = ort::inputs![
            self.schema.tokens.as_str() => TensorRef::from_array_view(([1usize, padded.len()], padded.as_slice())).map_err(inference)?,
            self.schema.style.as_str() => TensorRef::from_array_view(([1usize, STYLE_DIM], style)).map_err(inference)?,
            self.schema.speed.as_str() => TensorRef::from_array_view(([1usize], &speed[..])).map_err(inference)?,
        ];
        let outputs = session.run(inputs).map_err(inference)?;
        let (_, audio) = outputs[self.schema.audio.as_str()]
            .try_extract_tensor::<f32>()
            .map_err(inference)?;
        Ok(audio.to_vec())
    }
}

/// `SessionOptions::DisableCpuMemArena`, which the `ort` crate does not wrap.
fn disable_cpu_arena(builder: &mut ort::session::builder::SessionBuilder) -> std::result::Result<(), String> {
    use ort::AsPointer;
    let api = ort::api();
    // SAFETY: the builder owns a live OrtSessionOptions; a non-null status is read and freed.
    unsafe {
        let status = (api.DisableCpuMemArena)(builder.ptr_mut());
        if status.0.is_null() {
            return Ok(());
        }
        let message = std::ffi::CStr::from_ptr((api.GetErrorMessage)(status.0)).to_string_lossy().into_owned();
        (api.ReleaseStatus)(status.0);
        Err(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_both_known_exports() {
        let p = Path::new("m.onnx");
        let a = Schema::detect(&["tokens", "style", "speed"], &["audio"], p).unwrap();
        assert_eq!((a.tokens.as_str(), a.audio.as_str()), ("tokens", "audio"));
        let b = Schema::detect(&["input_ids", "style", "speed"], &["waveform"], p).unwrap();
        assert_eq!((b.tokens.as_str(), b.audio.as_str()), ("input_ids", "waveform"));
    }

    #[test]
    fn rejects_a_model_with_other_inputs() {
        let err = Schema::detect(&["pixel_values"], &["logits"], Path::new("x.onnx")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not a Kokoro model") && msg.contains("pixel_values"), "{msg}");
    }
}

//! The tiny tier: hibari's 7.9 MB model, distilled from Kokoro's af_heart, and the signal
//! processing that turns its output into audio.
//!
//! The model takes Kokoro's phoneme ids and a speed, and predicts a source-filter spectrum
//! per 12.5 ms frame instead of audio: five `[601, F]` parts and the pitch (see [`dsp`]).
//! Its sessions are built like Kokoro's ([`Model`]'s options, the caller's environment), and
//! an inference can be stopped midway through the same `RunOptions`.

pub mod dsp;
mod math;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ort::environment::Environment;
use ort::session::{RunOptions, Session};
use ort::value::TensorRef;

pub use dsp::{Noise, Spectrum, Vocoder};

use crate::audio;
use crate::error::{CoreError, Result};
use crate::synth::{ChunkAudio, ChunkRequest, Render};
use crate::model::{inference, run_session, Model, ModelOptions};
use crate::pool::Pool;
use crate::MAX_TOKENS;

/// Input names of the tiny model.
pub const IDS: &str = "ids";
pub const SPEED: &str = "speed";
/// Its outputs, in the order it declares them: the spectral parts, then the pitch.
pub const OUTPUTS: [&str; 6] = ["lh", "theta", "ln", "lr", "phi", "f0"];
/// Size of the phoneme vocabulary (Kokoro's): ids are 0 (the pad) to 177.
pub const VOCAB_SIZE: i64 = 178;
/// Frames of spectrum per second of audio.
pub const FRAME_RATE: usize = crate::SAMPLE_RATE as usize / dsp::HOP;

/// The tiny model loaded as a pool of sessions, with its vocoder.
pub struct TinyModel {
    path: PathBuf,
    options: ModelOptions,
    sessions: Pool<Session>,
    vocoder: Vocoder,
}

impl TinyModel {
    /// Loads `path` into `sessions` sessions of `env`, built as Kokoro's are (threads,
    /// provider, cached optimized graph). The tiny model is never split.
    ///
    /// From then on the process gives large blocks back to the system once they are freed
    /// (see [`free_large_blocks_at_once`]), and each inference gives back the arena memory it
    /// no longer uses (see [`run_options`]): the tiny tier is for small machines, and its
    /// peak memory is then about that of the chunk under way, not of every chunk so far.
    pub fn load(env: &Environment, path: &Path, options: ModelOptions, sessions: usize) -> Result<Self> {
        let _span = tracing::info_span!("load_tiny_model", sessions).entered();
        free_large_blocks_at_once();
        if options.split.is_some() {
            return Err(CoreError::InvalidInput("the tiny model cannot be split".into()));
        }
        if !path.is_file() {
            return Err(CoreError::model(path, "no such file"));
        }
        let sessions = (0..sessions.max(1))
            .map(|_| Model::session_of(env, path, options.optimized.as_deref(), &options, false))
            .collect::<Result<Vec<_>>>()?;
        check_layout(&sessions[0], path)?;
        Ok(Self { path: path.to_owned(), options, sessions: Pool::new(sessions), vocoder: Vocoder::new() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn options(&self) -> &ModelOptions {
        &self.options
    }

    /// Audio for `ids` (Kokoro's phoneme ids without the pads, 1 to [`MAX_TOKENS`]) at
    /// `speed`: float samples at 24 kHz, one [`dsp::HOP`] per frame of the model.
    pub fn synthesize(&self, ids: &[i64], speed: f32, noise: Noise) -> Result<Vec<f32>> {
        self.synthesize_with(ids, speed, noise, crate::pool::NORMAL, None)
    }

    /// [`TinyModel::synthesize`], waiting for a session with `priority` (see [`crate::pool`]);
    /// `run` lets another thread stop the inference midway (`RunOptions::terminate`).
    pub fn synthesize_with(&self, ids: &[i64], speed: f32, noise: Noise, priority: u8, run: Option<&RunOptions>) -> Result<Vec<f32>> {
        let spectrum = self.spectrum(ids, speed, priority, run)?;
        self.vocoder.render(&spectrum, noise)
    }

    /// The model's spectrum for `ids` (checked as for [`TinyModel::synthesize`]).
    pub fn spectrum(&self, ids: &[i64], speed: f32, priority: u8, run: Option<&RunOptions>) -> Result<Spectrum> {
        check_request(ids, speed)?;
        let mut padded = Vec::with_capacity(ids.len() + 2);
        padded.push(0);
        padded.extend_from_slice(ids);
        padded.push(0);
        let speed = [speed];
        let own;
        let run = match run {
            Some(run) => Some(run),
            None => {
                own = run_options();
                own.as_ref()
            }
        };
        let mut session = self.sessions.acquire_with(priority);
        let _span = tracing::info_span!("tiny_inference", tokens = ids.len()).entered();
        let inputs = ort::inputs![
            IDS => TensorRef::from_array_view(([1usize, padded.len()], padded.as_slice())).map_err(inference)?,
            SPEED => TensorRef::from_array_view(([1usize], &speed[..])).map_err(inference)?,
        ];
        let outputs = run_session(&mut session, inputs, run)?;
        let mut parts = Vec::with_capacity(OUTPUTS.len());
        let mut frames = 0;
        for name in OUTPUTS {
            let (shape, data) = outputs[name].try_extract_tensor::<f32>().map_err(inference)?;
            let f = match (name, &**shape) {
                ("f0", [1, f]) => *f,
                (_, [1, bins, f]) if *bins as usize == dsp::BINS => *f,
                _ => return Err(CoreError::inference(format!("the tiny model gave {name} of shape {shape:?}"))),
            };
            if name == OUTPUTS[0] {
                frames = f as usize;
            } else if f as usize != frames {
                return Err(CoreError::inference(format!("the tiny model gave {name} of {f} frames, lh of {frames}")));
            }
            parts.push(data.to_vec());
        }
        let [lh, theta, ln, lr, phi, f0] = <[Vec<f32>; 6]>::try_from(parts).expect("one part per output");
        let spectrum = Spectrum { frames, lh, theta, ln, lr, phi, f0 };
        spectrum.check()?;
        Ok(spectrum)
    }
}

/// The tiny model as one request's chunks are rendered through a [`crate::Synthesizer`]:
/// the noise of the `index`-th chunk is drawn from [`chunk_seed`] of the request's seed, so
/// the same request with the same seed repeats bit for bit, streamed or not.
pub struct TinyVoice {
    model: Arc<TinyModel>,
    noise: Noise,
}

impl TinyVoice {
    pub fn new(model: Arc<TinyModel>, noise: Noise) -> Self {
        Self { model, noise }
    }
}

impl Render for TinyVoice {
    fn run_options(&self) -> Option<RunOptions> {
        run_options()
    }

    fn render(&self, chunk: &ChunkRequest, index: usize, run: Option<&RunOptions>) -> Result<ChunkAudio> {
        let pause = audio::silence(chunk.pause_after);
        if chunk.tokens.is_empty() {
            return Ok(ChunkAudio { samples: vec![0.0; pause], durations: None, start: 0, speech: 0 });
        }
        let noise = match self.noise {
            Noise::Off => Noise::Off,
            Noise::Seeded(seed) => Noise::Seeded(chunk_seed(seed, index)),
        };
        let mut samples = self.model.synthesize_with(&chunk.tokens, chunk.speed, noise, crate::synth::priority(index), run)?;
        let _span = tracing::info_span!("postprocess").entered();
        let start = audio::trim(&mut samples);
        let speech = samples.len();
        samples.resize(speech + pause, 0.0);
        // The tiny model gives no token durations: no word timings.
        Ok(ChunkAudio { samples, durations: None, start, speech })
    }
}

/// The noise seed of a request's `index`-th chunk (SplitMix64 of the two), so neighbouring
/// chunks draw unrelated noise.
pub fn chunk_seed(seed: u64, index: usize) -> u64 {
    let mut z = seed.wrapping_add((index as u64).wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Run options under which the CPU arena gives back, at the end of each inference, the
/// regions it no longer uses: its largest request stays in the process otherwise.
fn run_options() -> Option<RunOptions> {
    let mut run = RunOptions::new().ok()?;
    if let Err(e) = run.set("memory.enable_memory_arena_shrinkage", "cpu:0") {
        tracing::warn!("the tiny model's arena will not shrink: {e}");
    }
    Some(run)
}

/// Makes the C allocator serve blocks of 128 KiB and more by mapping them, and unmap them
/// when freed, instead of keeping freed memory for later (glibc raises that threshold as
/// large blocks are freed, up to 32 MiB, so by default a chunk's buffers stay in the
/// process after it). Process-wide, once.
fn free_large_blocks_at_once() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: mallopt only sets a parameter of the allocator; it is safe at any time.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        });
    }
}

/// Checks the session has the tiny model's inputs and outputs.
fn check_layout(session: &Session, path: &Path) -> Result<()> {
    let inputs: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
    let outputs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if inputs != [IDS, SPEED] || outputs != OUTPUTS {
        return Err(CoreError::model(
            path,
            format!(
                "not a tiny model: expected inputs {IDS}, {SPEED} and outputs {}; found inputs {} and outputs {}",
                OUTPUTS.join(", "),
                inputs.join(", "),
                outputs.join(", ")
            ),
        ));
    }
    Ok(())
}

fn check_request(ids: &[i64], speed: f32) -> Result<()> {
    if ids.is_empty() || ids.len() > MAX_TOKENS {
        return Err(CoreError::InvalidInput(format!(
            "a chunk must hold 1 to {MAX_TOKENS} phoneme ids, got {}",
            ids.len()
        )));
    }
    if let Some(bad) = ids.iter().find(|&&id| !(0..VOCAB_SIZE).contains(&id)) {
        return Err(CoreError::InvalidInput(format!(
            "phoneme id {bad} is outside the vocabulary (0 to {})",
            VOCAB_SIZE - 1
        )));
    }
    if !(speed.is_finite() && speed > 0.0) {
        return Err(CoreError::InvalidInput(format!("speed must be positive, got {speed}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked_before_the_model_runs() {
        assert!(check_request(&[50, 83, 54], 1.0).is_ok());
        assert!(check_request(&[0, 177], 0.5).is_ok());
        let message = |ids: &[i64], speed: f32| check_request(ids, speed).unwrap_err().to_string();
        assert!(message(&[], 1.0).contains("1 to 510 phoneme ids, got 0"));
        assert!(message(&vec![16; MAX_TOKENS + 1], 1.0).contains("got 511"));
        assert!(message(&[50, 178], 1.0).contains("phoneme id 178 is outside"));
        assert!(message(&[-1], 1.0).contains("phoneme id -1"));
        for speed in [0.0, -1.0, f32::NAN, f32::INFINITY] {
            assert!(message(&[50], speed).contains("speed must be positive"), "{speed}");
        }
    }

    #[test]
    fn each_chunk_of_a_request_has_its_own_seed() {
        let seeds: Vec<u64> = (0..4).map(|i| chunk_seed(7, i)).collect();
        assert_eq!(seeds, (0..4).map(|i| chunk_seed(7, i)).collect::<Vec<_>>());
        let mut unique = seeds.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), 4);
        assert_ne!(chunk_seed(7, 0), chunk_seed(8, 0));
    }

    #[test]
    fn eighty_frames_make_a_second() {
        assert_eq!(FRAME_RATE, 80);
        assert_eq!(FRAME_RATE * dsp::HOP, crate::SAMPLE_RATE as usize);
    }
}

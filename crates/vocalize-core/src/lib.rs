//! The inference core of vocalize: Kokoro-82M ONNX sessions, synthesis and audio
//! post-processing. Pure Rust; the Python bindings live in `vocalize-py`.
//!
//! The ONNX Runtime environment is created by the caller (the bindings crate) and handed
//! in, so this crate never decides where the runtime library comes from.

pub mod audio;
pub mod error;
pub mod model;
pub mod ops;
pub mod pool;
mod process;
pub mod synth;
pub mod tiny;
pub mod trace;

pub use error::{CoreError, Result};
pub use model::{Model, ModelOptions, Schema};
pub use synth::{ChunkRequest, Synthesizer};

/// Sample rate of every Kokoro-82M export.
pub const SAMPLE_RATE: u32 = 24_000;
/// Width of one voice style vector.
pub const STYLE_DIM: usize = 256;
/// Most phoneme ids one inference accepts (the model's 512 positions less the two pads).
pub const MAX_TOKENS: usize = 510;

//! Synthesis of a sequence of chunks on the session pool, in order, as a stream.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::audio;
use crate::pool;
use crate::error::{CoreError, Result};
use crate::model::Model;

/// One piece of text already turned into phoneme ids, with its voice and the pause after it.
/// Empty `tokens` stand for silence alone.
#[derive(Debug, Clone)]
pub struct ChunkRequest {
    pub tokens: Vec<i64>,
    pub style: Vec<f32>,
    pub speed: f32,
    /// Seconds of silence appended after this chunk's speech.
    pub pause_after: f32,
}

/// Audio of one chunk, trimmed and followed by its pause.
pub type ChunkAudio = Vec<f32>;

/// Runs chunk requests on a model's session pool from a Tokio runtime.
pub struct Synthesizer {
    model: Arc<Model>,
    runtime: Handle,
}

impl Synthesizer {
    pub fn new(model: Arc<Model>, runtime: Handle) -> Self {
        Self { model, runtime }
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Starts synthesizing `chunks`. As many run at once as the pool has sessions; results
    /// come out of the returned stream in input order. Dropping the stream cancels the rest.
    pub fn start(&self, chunks: Vec<ChunkRequest>) -> ChunkStream {
        let mut stream = self.open();
        for chunk in chunks {
            stream.push(chunk);
        }
        stream.finish();
        stream
    }

    /// Opens a stream that takes chunks with [`ChunkStream::push`] while earlier ones are
    /// already being synthesized (so the text frontend can run ahead of inference), until
    /// [`ChunkStream::finish`].
    pub fn open(&self) -> ChunkStream {
        let (tx, rx) = mpsc::channel(4);
        let (input, mut pending) = mpsc::unbounded_channel::<ChunkRequest>();
        let cancelled = Arc::new(AtomicBool::new(false));
        let model = Arc::clone(&self.model);
        let parent = tracing::Span::current();
        let stop = Arc::clone(&cancelled);
        self.runtime.spawn(async move {
            let parallel = model.options().sessions.max(1);
            let mut running = VecDeque::new();
            let mut input_open = true;
            let mut index = 0usize;
            loop {
                while input_open && running.len() < parallel && !stop.load(Ordering::Relaxed) {
                    // Wait for input only when nothing is running; else take what is there.
                    let next = if running.is_empty() {
                        pending.recv().await
                    } else {
                        match pending.try_recv() {
                            Ok(chunk) => Some(chunk),
                            Err(mpsc::error::TryRecvError::Empty) => break,
                            Err(mpsc::error::TryRecvError::Disconnected) => None,
                        }
                    };
                    let Some(chunk) = next else {
                        input_open = false;
                        break;
                    };
                    let model = Arc::clone(&model);
                    let parent = parent.clone();
                    let priority = match index {
                        0 => pool::FIRST,
                        1 => pool::SECOND,
                        _ => pool::NORMAL,
                    };
                    index += 1;
                    running.push_back(tokio::task::spawn_blocking(move || {
                        let _span = tracing::info_span!(parent: &parent, "chunk").entered();
                        render(&model, &chunk, priority)
                    }));
                }
                let Some(next) = running.pop_front() else { break };
                let result = next
                    .await
                    .unwrap_or_else(|e| Err(CoreError::Inference(format!("worker failed: {e}"))));
                let failed = result.is_err();
                if stop.load(Ordering::Relaxed) || tx.send(result).await.is_err() || failed {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        });
        ChunkStream { rx, input: Some(input), cancelled, runtime: self.runtime.clone() }
    }
}

fn render(model: &Model, chunk: &ChunkRequest, priority: u8) -> Result<ChunkAudio> {
    if chunk.tokens.is_empty() {
        // A pause with no speech (pause markup before any text).
        return Ok(vec![0.0; audio::silence(chunk.pause_after)]);
    }
    let mut audio = model.infer_with(&chunk.tokens, &chunk.style, chunk.speed, priority)?;
    let _span = tracing::info_span!("postprocess").entered();
    audio::trim(&mut audio);
    audio.resize(audio.len() + audio::silence(chunk.pause_after), 0.0);
    Ok(audio)
}

/// The ordered output of [`Synthesizer::start`].
pub struct ChunkStream {
    rx: mpsc::Receiver<Result<ChunkAudio>>,
    input: Option<mpsc::UnboundedSender<ChunkRequest>>,
    cancelled: Arc<AtomicBool>,
    runtime: Handle,
}

/// What waiting on a [`ChunkStream`] gave.
#[derive(Debug)]
pub enum Next {
    Chunk(Result<ChunkAudio>),
    /// Nothing yet; ask again (lets the caller check for interrupts meanwhile).
    Pending,
    Done,
}

impl ChunkStream {
    /// Waits up to `timeout` for the next chunk. Must not be called from a runtime thread.
    pub fn next_timeout(&mut self, timeout: Duration) -> Next {
        let rx = &mut self.rx;
        match self.runtime.block_on(async { tokio::time::timeout(timeout, rx.recv()).await }) {
            Ok(Some(chunk)) => Next::Chunk(chunk),
            Ok(None) => Next::Done,
            Err(_) => Next::Pending,
        }
    }

    /// Adds a chunk after those pushed before. Ignored after [`finish`](Self::finish).
    pub fn push(&mut self, chunk: ChunkRequest) {
        if let Some(input) = &self.input {
            let _ = input.send(chunk);
        }
    }

    /// No more chunks will be pushed; the stream ends after the last one.
    pub fn finish(&mut self) {
        self.input = None;
    }

    /// Takes the input side, so chunks can be pushed from another thread while this stream
    /// is being read; dropping the returned handle finishes the input.
    pub fn take_input(&mut self) -> Option<ChunkInput> {
        self.input.take().map(ChunkInput)
    }

    /// Stops starting new chunks; those already running finish and are discarded.
    pub fn cancel(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
        self.input = None;
    }
}

/// The input side of a [`ChunkStream`], for a producer on another thread.
pub struct ChunkInput(mpsc::UnboundedSender<ChunkRequest>);

impl ChunkInput {
    pub fn push(&self, chunk: ChunkRequest) {
        let _ = self.0.send(chunk);
    }
}

impl Drop for ChunkStream {
    fn drop(&mut self) {
        self.cancel();
    }
}

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
use crate::model::{Model, SAMPLES_PER_FRAME};

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
    pub fn start(&self, chunks: Vec<ChunkRequest>, windowed: bool) -> ChunkStream {
        let mut stream = self.open(windowed);
        for chunk in chunks {
            stream.push(chunk);
        }
        stream.finish();
        stream
    }

    /// Opens a stream that takes chunks with [`ChunkStream::push`] while earlier ones are
    /// already being synthesized (so the text frontend can run ahead of inference), until
    /// [`ChunkStream::finish`].
    ///
    /// With a split model and `windowed`, the stream's first audio is a short window of its
    /// first chunk (see [`first_windows`]), then the rest of that chunk. Callers pass
    /// `windowed` only for text of more than one chunk: a single short chunk is cheaper
    /// decoded whole, and its first audio comes soon anyway.
    pub fn open(&self, windowed: bool) -> ChunkStream {
        let (tx, rx) = mpsc::channel(4);
        let (input, mut pending) = mpsc::unbounded_channel::<ChunkRequest>();
        let cancelled = Arc::new(AtomicBool::new(false));
        let model = Arc::clone(&self.model);
        let parent = tracing::Span::current();
        let stop = Arc::clone(&cancelled);
        self.runtime.spawn(async move {
            let parallel = model.options().sessions.max(1);
            let mut running: VecDeque<Running> = VecDeque::new();
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
                    let (pieces, received) = mpsc::unbounded_channel();
                    let stop = Arc::clone(&stop);
                    let chunk_index = index;
                    index += 1;
                    let task = tokio::task::spawn_blocking(move || {
                        let _span = tracing::info_span!(parent: &parent, "chunk").entered();
                        let emit = |piece: ChunkAudio| pieces.send(Ok(piece)).is_ok() && !stop.load(Ordering::Relaxed);
                        let first_window = windowed && chunk_index == 0;
                        if let Err(e) = render(&model, &chunk, chunk_index, first_window, emit) {
                            let _ = pieces.send(Err(e));
                        }
                    });
                    running.push_back(Running { pieces: received, task });
                }
                let Some(mut next) = running.pop_front() else { break };
                let mut failed = false;
                while let Some(result) = next.pieces.recv().await {
                    failed = result.is_err();
                    if stop.load(Ordering::Relaxed) || tx.send(result).await.is_err() {
                        failed = true;
                    }
                    if failed {
                        break;
                    }
                }
                if !failed {
                    if let Err(e) = next.task.await {
                        let _ = tx.send(Err(CoreError::Inference(format!("worker failed: {e}")))).await;
                        failed = true;
                    }
                }
                if failed || stop.load(Ordering::Relaxed) {
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        });
        ChunkStream { rx, input: Some(input), cancelled, runtime: self.runtime.clone() }
    }
}

/// A chunk being synthesized: its pieces as they come, and the task making them.
struct Running {
    pieces: mpsc::UnboundedReceiver<Result<ChunkAudio>>,
    task: tokio::task::JoinHandle<()>,
}

/// Frames (of 25 ms) in a stream's first window, from a little before the first word: its
/// first audio.
const FIRST_WINDOW: usize = 16;
/// Frames decoded after the first window and thrown away, so the window sees what comes
/// next (one of them crossfades into the rest of the chunk).
const FIRST_CONTEXT: usize = 8;
/// The fewest frames left after the first window for it to be worth cutting.
const MIN_REST: usize = 16;
/// Frames of the silence the model puts before the first spoken token that the first
/// window still decodes (the rest of that silence is trimmed anyway). The decoder
/// normalizes over the frames it is given: with fewer, the first sound comes out wrong.
const LEAD_MARGIN: usize = 8;
/// Samples over which the first window fades into the rest of its chunk: one frame.
const CROSSFADE: usize = SAMPLES_PER_FRAME;

/// How a stream's first chunk is decoded: a short window first, for the first audio, then
/// the whole chunk, kept from where the window ended. The decoder normalizes over all the
/// frames it is given, so pieces decoded apart each sound a little different (measured
/// here with a speech recognizer: windows of 10-40 frames throughout raised the word error
/// rate from 1.5 % to 5-18 %, and not decoding the silence around the speech cost words at
/// the start of sentences); decoding the rest whole keeps everything after the first
/// fraction of a second exactly as the whole model says it, for the cost of decoding the
/// window's frames twice, once per stream.
///
/// `start` is where the window starts (a little before the first spoken token), `frames`
/// the chunk's length.
pub fn first_windows(start: usize, frames: usize) -> Vec<std::ops::Range<usize>> {
    if frames < start + FIRST_WINDOW + MIN_REST {
        return vec![0..frames];
    }
    let cut = start + FIRST_WINDOW;
    vec![start..cut, cut..frames]
}

/// Synthesizes one chunk, handing its audio to `emit` piece by piece (one piece unless it is
/// the first chunk of a windowed stream); stops early when `emit` returns false.
fn render(
    model: &Model,
    chunk: &ChunkRequest,
    index: usize,
    first_window: bool,
    mut emit: impl FnMut(ChunkAudio) -> bool,
) -> Result<()> {
    let pause = audio::silence(chunk.pause_after);
    if chunk.tokens.is_empty() {
        // A pause with no speech (pause markup before any text).
        emit(vec![0.0; pause]);
        return Ok(());
    }
    let priority = match index {
        0 => pool::FIRST,
        1 => pool::SECOND,
        _ => pool::NORMAL,
    };
    if !model.is_split() {
        let mut audio = model.infer_with(&chunk.tokens, &chunk.style, chunk.speed, priority)?;
        let _span = tracing::info_span!("postprocess").entered();
        audio::trim(&mut audio);
        audio.resize(audio.len() + pause, 0.0);
        emit(audio);
        return Ok(());
    }

    let encoded = model.encode(&chunk.tokens, &chunk.style, chunk.speed, priority)?;
    let windows = if first_window {
        let lead = encoded.durations[0].max(0) as usize; // the leading pad's frames: silence
        first_windows(lead.saturating_sub(LEAD_MARGIN), encoded.frames)
    } else {
        vec![0..encoded.frames]
    };

    let mut carry: Vec<f32> = Vec::new();
    let mut leading = true;
    for (k, window) in windows.iter().enumerate() {
        let last = k + 1 == windows.len();
        // Later windows decode from the chunk's start: they sound as the whole chunk does.
        let from = if k == 0 { window.start } else { 0 };
        let to = if last { window.end } else { (window.end + FIRST_CONTEXT).min(encoded.frames) };
        let priority = if k == 0 { priority } else { priority.max(pool::SECOND) };
        let decoded = model.decode(&encoded, from..to, priority)?;
        let _span = tracing::info_span!("postprocess").entered();
        let keep = (window.start - from) * SAMPLES_PER_FRAME..(window.end - from) * SAMPLES_PER_FRAME;
        let mut piece = decoded[keep.clone()].to_vec();
        // The window before decoded a little past its end: fade from that into this one.
        audio::crossfade(&mut piece, &carry);
        carry = decoded[keep.end..].iter().take(CROSSFADE).copied().collect();
        if leading || last {
            // Where speech starts and ends, found over everything decoded (so the rest of a
            // chunk is trimmed exactly as the chunk decoded whole), in this piece's samples.
            let all = audio::voiced_range(&decoded);
            let end = all.end.saturating_sub(keep.start).min(piece.len());
            let voiced = all.start.saturating_sub(keep.start).min(end)..end;
            if last {
                piece.truncate(if voiced.is_empty() && !leading { 0 } else { voiced.end });
                audio::fade_out(&mut piece);
            }
            if leading {
                if voiced.is_empty() && !last {
                    continue; // still the silence before the speech
                }
                piece.drain(..voiced.start.min(piece.len()));
                audio::fade_in(&mut piece);
                leading = false;
            }
        }
        if last {
            piece.resize(piece.len() + pause, 0.0);
        }
        if !emit(piece) {
            break;
        }
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_first_window_then_the_rest_of_the_chunk() {
        assert_eq!(first_windows(5, 90), vec![5..5 + FIRST_WINDOW, 5 + FIRST_WINDOW..90]);
    }

    #[test]
    fn a_short_chunk_is_not_cut() {
        let frames = 3 + FIRST_WINDOW + MIN_REST - 1;
        assert_eq!(first_windows(3, frames), vec![0..frames]);
    }
}

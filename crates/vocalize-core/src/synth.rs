//! Synthesis of a sequence of chunks on the session pool, in order, as a stream.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::audio;
use crate::pool;
use crate::error::{CoreError, Result};
use crate::model::{Encoded, Model, SAMPLES_PER_FRAME};

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
    /// With a split model and `windowed`, a chunk may come out as several pieces (see
    /// [`Plan`]): the stream's first audio is a short window of its first chunk. Callers
    /// pass `windowed` only for text of more than one chunk: a single short chunk is
    /// cheaper decoded whole, and its first audio comes soon anyway.
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
            // Each chunk plans its windows after the one before it (see `Plan`).
            let (first_plan, mut plan_rx) = std_mpsc::channel();
            let _ = first_plan.send(Plan::new(windowed));
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
                    let (plan_tx, next_plan_rx) = std_mpsc::channel();
                    let order = PlanOrder { previous: std::mem::replace(&mut plan_rx, next_plan_rx), next: plan_tx };
                    let stop = Arc::clone(&stop);
                    let chunk_index = index;
                    index += 1;
                    let task = tokio::task::spawn_blocking(move || {
                        let _span = tracing::info_span!(parent: &parent, "chunk").entered();
                        let emit = |piece: ChunkAudio| pieces.send(Ok(piece)).is_ok() && !stop.load(Ordering::Relaxed);
                        if let Err(e) = render(&model, &chunk, chunk_index, order, emit) {
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

/// Hands the window plan from one chunk to the next, so chunks plan in order even when
/// several run at once, and the same text always gets the same windows.
struct PlanOrder {
    previous: std_mpsc::Receiver<Plan>,
    next: std_mpsc::Sender<Plan>,
}

/// Frames (of 25 ms) in the first window of a stream: its first audio.
const FIRST_WINDOW: usize = 10;
/// Frames decoded on each side of a seam between windows and thrown away, so each window
/// sees its neighbours.
const CONTEXT: usize = 4;
/// Frames decoded after the stream's first window (its audio is the first out, so it is
/// kept cheap; one frame of it crossfades into the next window).
const FIRST_CONTEXT: usize = 2;
/// The fewest frames a window holds.
const MIN_WINDOW: usize = 8;
/// Seconds of audio the decoder is assumed to make per second when windows are planned.
const PLAN_SPEED: f32 = 2.0;
/// Seconds the encoder is assumed to take per phoneme id.
const ENCODE_SECONDS_PER_ID: f32 = 0.002;
/// Frames of the silence the model puts before the first spoken token that are still
/// decoded (the rest is trimmed anyway, so it is not decoded at all). Few, so a stream's
/// first window is nearly all speech.
const LEAD_MARGIN: usize = 2;
/// The same after the last spoken token: the silence there is the punctuation's pause,
/// which trimming replaces by the chunk's own.
const TAIL_MARGIN: usize = 6;
/// Frames of it kept at most (before the chunk's own pause), for the last sound's release.
const KEPT_AFTER_SPEECH: usize = 3;
/// Ids of Kokoro's vocabulary that are punctuation or spaces: after the last spoken token
/// they only lengthen the trailing silence.
const PUNCTUATION: std::ops::RangeInclusive<i64> = 1..=16;
const FRAME_SECONDS: f32 = SAMPLES_PER_FRAME as f32 / crate::SAMPLE_RATE as f32;
/// Samples over which one window fades into the next: the first frame of the seam.
const CROSSFADE: usize = SAMPLES_PER_FRAME;

/// How a stream's chunks are cut into windows: a small one first, so audio starts early,
/// then each as large as can be decoded before the audio already out has played (at
/// [`PLAN_SPEED`]), until whole chunks are affordable. Everything here is estimated from
/// lengths, never measured, so the same text always gets the same windows (and
/// `synthesize` the same audio as `stream`).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Seconds of audio out and not yet played, at the estimated pace; `None` before the
    /// first audio.
    ahead: Option<f32>,
    /// Whether chunks may be cut at all; otherwise each is decoded whole.
    windowed: bool,
}

impl Plan {
    pub fn new(windowed: bool) -> Self {
        Self { ahead: None, windowed }
    }

    /// Cuts `speech` (a chunk's frames, from `ids` phoneme ids) into windows, accounting
    /// for the time to encode and decode them.
    pub fn windows(&mut self, speech: std::ops::Range<usize>, ids: usize) -> Vec<std::ops::Range<usize>> {
        if !self.windowed {
            return vec![speech];
        }
        let mut windows = Vec::new();
        let mut start = speech.start;
        if let Some(ahead) = self.ahead.as_mut() {
            *ahead -= ids as f32 * ENCODE_SECONDS_PER_ID;
        }
        while start < speech.end {
            let remaining = speech.end - start;
            let left = if start > speech.start { CONTEXT } else { 0 };
            let size = match self.ahead {
                None => FIRST_WINDOW,
                Some(ahead) => {
                    let affordable = ahead * PLAN_SPEED / FRAME_SECONDS - (left + CONTEXT) as f32;
                    (affordable.max(0.0) as usize).max(MIN_WINDOW)
                }
            };
            // No short last window: alone, its frames of silence sound louder.
            let size = if size + 2 * MIN_WINDOW >= remaining { remaining } else { size };
            let right = if size < remaining { CONTEXT } else { 0 };
            let cost = (size + left + right) as f32 * FRAME_SECONDS / PLAN_SPEED;
            let played = size as f32 * FRAME_SECONDS;
            self.ahead = Some(match self.ahead {
                None => played,
                Some(ahead) => ahead - cost + played,
            });
            windows.push(start..start + size);
            start += size;
        }
        windows
    }

    /// Accounts for a pause (audio that needs no decoding) of `seconds`.
    pub fn add(&mut self, seconds: f32) {
        if let Some(ahead) = self.ahead.as_mut() {
            *ahead += seconds;
        }
    }
}

/// The frames of an encoded chunk worth decoding (from a little before its first spoken
/// token to a little after its last: the rest is silence that trimming removes), and the
/// last frame of speech kept (the decoder's noise in the silence after it, which a short
/// window can make loud, is never kept).
fn speech_frames(encoded: &Encoded, tokens: &[i64]) -> (std::ops::Range<usize>, usize) {
    let d = &encoded.durations;
    let lead = d[0].max(0) as usize;
    // The trailing pad and any punctuation or spaces before it.
    let spoken = tokens.iter().rposition(|t| !PUNCTUATION.contains(t)).map_or(0, |i| i + 1);
    let tail: usize = d[1 + spoken..].iter().map(|&x| x.max(0) as usize).sum();
    let start = lead.saturating_sub(LEAD_MARGIN).min(encoded.frames);
    let end = encoded.frames.saturating_sub(tail.saturating_sub(TAIL_MARGIN)).max(start);
    let kept = encoded.frames.saturating_sub(tail.saturating_sub(KEPT_AFTER_SPEECH));
    if end - start < MIN_WINDOW {
        return (0..encoded.frames, encoded.frames);
    }
    (start..end, kept.min(end))
}

/// Synthesizes one chunk, handing its audio to `emit` piece by piece (one piece unless the
/// plan cuts it into windows); stops early when `emit` returns false.
fn render(
    model: &Model,
    chunk: &ChunkRequest,
    index: usize,
    order: PlanOrder,
    mut emit: impl FnMut(ChunkAudio) -> bool,
) -> Result<()> {
    let pause = audio::silence(chunk.pause_after);
    let pause_seconds = pause as f32 / crate::SAMPLE_RATE as f32;
    if chunk.tokens.is_empty() {
        // A pause with no speech (pause markup before any text).
        let mut plan = order.previous.recv().unwrap_or_default();
        plan.add(pause_seconds);
        let _ = order.next.send(plan);
        emit(vec![0.0; pause]);
        return Ok(());
    }
    let priority = match index {
        0 => pool::FIRST,
        1 => pool::SECOND,
        _ => pool::NORMAL,
    };
    if !model.is_split() {
        let _ = order.next.send(order.previous.recv().unwrap_or_default());
        let mut audio = model.infer_with(&chunk.tokens, &chunk.style, chunk.speed, priority)?;
        let _span = tracing::info_span!("postprocess").entered();
        audio::trim(&mut audio);
        audio.resize(audio.len() + pause, 0.0);
        emit(audio);
        return Ok(());
    }

    let encoded = model.encode(&chunk.tokens, &chunk.style, chunk.speed, priority)?;
    let (speech, kept) = speech_frames(&encoded, &chunk.tokens);
    let mut plan = order.previous.recv().unwrap_or_default();
    let windows = plan.windows(speech, chunk.tokens.len());
    plan.add(pause_seconds);
    let _ = order.next.send(plan);

    let mut carry: Vec<f32> = Vec::new();
    let mut leading = true;
    for (k, window) in windows.iter().enumerate() {
        let last = k + 1 == windows.len();
        let from = if k == 0 { window.start } else { window.start.saturating_sub(CONTEXT) };
        // The stream's first window looks less far ahead: its audio is what everyone waits for.
        let ahead = if index == 0 && k == 0 { FIRST_CONTEXT } else { CONTEXT };
        let to = if last { window.end } else { (window.end + ahead).min(encoded.frames) };
        let priority = if k == 0 { priority } else { priority.max(pool::SECOND) };
        let decoded = model.decode(&encoded, from..to, priority)?;
        let _span = tracing::info_span!("postprocess").entered();
        let keep = (window.start - from) * SAMPLES_PER_FRAME..(window.end - from) * SAMPLES_PER_FRAME;
        let mut piece = decoded[keep.clone()].to_vec();
        // The window before decoded a little past its end: fade from that into this one.
        audio::crossfade(&mut piece, &carry);
        carry = decoded[keep.end..].iter().take(CROSSFADE).copied().collect();
        if leading || last {
            let voiced = audio::voiced_range(&piece);
            if last {
                let end = if voiced.is_empty() && !leading { 0 } else { voiced.end };
                piece.truncate(end.min(kept.saturating_sub(window.start) * SAMPLES_PER_FRAME));
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

    fn plan_stream(chunks: &[(usize, usize)]) -> Vec<Vec<std::ops::Range<usize>>> {
        let mut plan = Plan::new(true);
        chunks
            .iter()
            .map(|&(frames, ids)| {
                let windows = plan.windows(0..frames, ids);
                plan.add(0.3);
                windows
            })
            .collect()
    }

    #[test]
    fn windows_tile_each_chunk_in_order() {
        for windows in plan_stream(&[(60, 20), (150, 45), (200, 90), (9, 3)]) {
            let mut at = 0;
            for w in &windows {
                assert_eq!(w.start, at);
                assert!(w.len() >= MIN_WINDOW.min(9), "{windows:?}");
                at = w.end;
            }
        }
    }

    #[test]
    fn the_first_window_is_short_and_later_ones_grow_to_whole_chunks() {
        let plans = plan_stream(&[(60, 20), (150, 45), (200, 90), (220, 95)]);
        assert_eq!(plans[0][0], 0..FIRST_WINDOW);
        let sizes: Vec<usize> = plans.iter().flatten().map(|w| w.len()).collect();
        // Each window is affordable while the audio before it plays, so they grow.
        assert!(sizes.windows(2).take(3).all(|p| p[1] >= p[0]), "{sizes:?}");
        // Once the stream is far enough ahead, chunks are decoded whole.
        assert_eq!(plans[3].len(), 1, "{plans:?}");
    }

    #[test]
    fn an_unwindowed_plan_keeps_chunks_whole() {
        let mut plan = Plan::new(false);
        assert_eq!(plan.windows(3..90, 30), vec![3..90]);
        assert_eq!(plan.windows(0..200, 80), vec![0..200]);
    }

    #[test]
    fn the_same_lengths_always_get_the_same_windows() {
        let chunks = [(70, 25), (130, 40), (90, 30)];
        assert_eq!(plan_stream(&chunks), plan_stream(&chunks));
    }

    #[test]
    fn every_planned_window_is_decoded_before_the_audio_ahead_of_it_has_played() {
        // At the planned decoding speed nothing underruns after the first window.
        let mut plan = Plan::new(true);
        let mut clock = 0.0f32; // decoding time
        let mut playback_end: Option<f32> = None;
        for (frames, ids) in [(60, 20), (150, 45), (200, 90)] {
            clock += ids as f32 * ENCODE_SECONDS_PER_ID;
            let windows = plan.windows(0..frames, ids);
            let last = windows.len() - 1;
            for (k, w) in windows.iter().enumerate() {
                let left = if k > 0 { CONTEXT } else { 0 };
                let right = if k < last { CONTEXT } else { 0 };
                clock += (w.len() + left + right) as f32 * FRAME_SECONDS / PLAN_SPEED;
                let end = playback_end.get_or_insert(clock);
                assert!(clock <= *end + 1e-3, "window {w:?} ready at {clock}, needed at {end}");
                *end += w.len() as f32 * FRAME_SECONDS;
            }
            plan.add(0.3);
            *playback_end.as_mut().unwrap() += 0.3;
        }
    }
}

//! Synthesis of a sequence of chunks on the session pool, in order, as a stream.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use ort::session::RunOptions;

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
        let control = Control::new();
        let model = Arc::clone(&self.model);
        let parent = tracing::Span::current();
        let stop = Arc::clone(&control);
        self.runtime.spawn(async move {
            let parallel = model.options().sessions.max(1);
            let mut running: VecDeque<Running> = VecDeque::new();
            let mut input_open = true;
            let mut index = 0usize;
            loop {
                while input_open && running.len() < parallel && !stop.is_cancelled() {
                    // Wait for input only when nothing is running; else take what is there.
                    let next = if running.is_empty() {
                        stop.unless_cancelled(pending.recv()).await.flatten()
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
                        let _running = stop.start_work();
                        let emit = |piece: ChunkAudio| pieces.send(Ok(piece)).is_ok() && !stop.is_cancelled();
                        let first_window = windowed && chunk_index == 0;
                        match render(&model, &chunk, chunk_index, first_window, stop.run.as_ref(), emit) {
                            // Cancelled midway: what failed is the terminated inference.
                            Err(_) if stop.is_cancelled() => drop(tracing::info_span!("terminated").entered()),
                            Err(e) => drop(pieces.send(Err(e))),
                            Ok(()) => {}
                        }
                    });
                    running.push_back(Running { pieces: received, task });
                }
                let Some(mut next) = running.pop_front() else { break };
                let mut failed = false;
                while let Some(result) = next.pieces.recv().await {
                    failed = result.is_err();
                    if stop.is_cancelled() || stop.unless_cancelled(tx.send(result)).await.is_none_or(|sent| sent.is_err()) {
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
                if failed || stop.is_cancelled() {
                    stop.cancel();
                    break;
                }
            }
        });
        ChunkStream { rx, input: Some(input), control, runtime: self.runtime.clone() }
    }
}

/// Stops a [`ChunkStream`] from any thread, while another thread reads it: see
/// [`ChunkStream::canceller`].
#[derive(Clone)]
pub struct Canceller(Arc<Control>);

impl Canceller {
    /// What [`ChunkStream::cancel`] does, without needing the stream: no new chunk starts,
    /// the running inferences are terminated, and the reader's next wait ends with
    /// [`Next::Done`]. Never blocks.
    pub fn cancel(&self) {
        self.0.close();
    }

    /// Whether the stream was cancelled (by [`cancel`](Self::cancel) or by dropping it).
    pub fn is_cancelled(&self) -> bool {
        self.0.is_closed()
    }
}

/// How a stream's work is stopped: a flag checked between chunks and pieces, and the run
/// options every inference of the stream runs with, whose terminate flag stops an
/// inference midway (a decode can take seconds).
struct Control {
    cancelled: AtomicBool,
    /// Set by [`Control::close`].
    closed: AtomicBool,
    /// `None` if ONNX Runtime could not make run options: inferences then finish.
    run: Option<RunOptions>,
    /// Chunks of this stream being synthesized on a worker thread.
    working: Mutex<usize>,
    idle: Condvar,
    /// Wakes the scheduler's waits when the stream is cancelled.
    stopped: tokio::sync::Notify,
}

/// Every stream not yet dropped, so [`stop_all`] can reach them.
static LIVE: Mutex<Vec<Weak<Control>>> = Mutex::new(Vec::new());

impl Control {
    fn new() -> Arc<Self> {
        let control = Arc::new(Self {
            cancelled: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            run: RunOptions::new().ok(),
            working: Mutex::new(0),
            idle: Condvar::new(),
            stopped: tokio::sync::Notify::new(),
        });
        let mut live = LIVE.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|c| c.strong_count() > 0);
        live.push(Arc::downgrade(&control));
        control
    }

    fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn cancel(&self) {
        if !self.cancelled.swap(true, Ordering::SeqCst) {
            if let Some(run) = &self.run {
                let _ = run.terminate();
            }
            self.stopped.notify_waiters();
        }
    }

    /// The reader closed the stream: it wants nothing more, errors included. Unlike
    /// [`cancel`](Self::cancel), which the scheduler also does after a failure it still
    /// has to hand over.
    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.cancel();
        self.stopped.notify_waiters();
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Resolves once `flag` holds (checked at every cancel or close).
    async fn until(&self, flag: fn(&Self) -> bool) {
        loop {
            // Created before the check: `notify_waiters` wakes it even if not yet polled.
            let stopped = self.stopped.notified();
            if flag(self) {
                return;
            }
            stopped.await;
        }
    }

    /// `work`'s output, or `None` as soon as the stream is cancelled (`work` is dropped).
    async fn unless_cancelled<T>(&self, work: impl std::future::Future<Output = T>) -> Option<T> {
        self.unless(Self::is_cancelled, work).await
    }

    /// `work`'s output, or `None` as soon as `flag` holds (`work` is dropped).
    async fn unless<T>(&self, flag: fn(&Self) -> bool, work: impl std::future::Future<Output = T>) -> Option<T> {
        use std::future::Future;
        use std::task::Poll;
        let mut work = std::pin::pin!(work);
        let mut stop = std::pin::pin!(self.until(flag));
        std::future::poll_fn(|cx| {
            if let Poll::Ready(value) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(value));
            }
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Counts a chunk as being synthesized until the guard is dropped.
    fn start_work(self: &Arc<Self>) -> WorkGuard {
        *self.working.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        WorkGuard(Arc::clone(self))
    }

    /// Waits until no chunk of this stream is on a worker thread, or until `deadline`.
    fn wait_idle(&self, deadline: Instant) -> bool {
        let mut working = self.working.lock().unwrap_or_else(|e| e.into_inner());
        while *working > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            working = self.idle.wait_timeout(working, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }
}

struct WorkGuard(Arc<Control>);

impl Drop for WorkGuard {
    fn drop(&mut self) {
        let mut working = self.0.working.lock().unwrap_or_else(|e| e.into_inner());
        *working -= 1;
        if *working == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// Stops every stream of the process, inferences included, and waits up to `timeout` for
/// their worker threads to leave ONNX Runtime. For process exit: a run still going while
/// the runtime's globals are destroyed fails with an error on stderr. Returns whether all
/// stopped in time.
pub fn stop_all(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let live: Vec<Arc<Control>> = LIVE.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect();
    for control in &live {
        control.close();
    }
    live.iter().all(|control| control.wait_idle(deadline))
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
/// Chunks of at least this many frames (2.5 s) are decoded from [`LEAD_MARGIN`] frames
/// before their first spoken token, not from the start of the model's leading silence
/// (about 15 frames), which the trimming drops anyway. With this much speech the decoder's
/// normalization hardly notices: measured here, 1.05 dB mean log-mel difference from the
/// chunk decoded whole (about what a 5e-7 relative perturbation of the input gives), the
/// same Whisper word errors on 72 texts, and about 5 % less decoding on a paragraph. Short
/// chunks are decoded whole: without their silence, a recognizer misheard short sentences.
const TRIMMED_LEAD_MIN_FRAMES: usize = 100;
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

/// The frames of a chunk decoded when it is decoded in one piece: all of them, or for a
/// long chunk, from [`LEAD_MARGIN`] frames before the speech (see
/// [`TRIMMED_LEAD_MIN_FRAMES`]). `lead` is the leading pad's duration in frames.
pub fn decoded_frames(lead: i64, frames: usize) -> std::ops::Range<usize> {
    if frames < TRIMMED_LEAD_MIN_FRAMES {
        return 0..frames;
    }
    (lead.max(0) as usize).saturating_sub(LEAD_MARGIN).min(frames - 1)..frames
}

/// Synthesizes one chunk, handing its audio to `emit` piece by piece (one piece unless it is
/// the first chunk of a windowed stream); stops early when `emit` returns false.
fn render(
    model: &Model,
    chunk: &ChunkRequest,
    index: usize,
    first_window: bool,
    run: Option<&RunOptions>,
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
        let mut audio = model.infer_with(&chunk.tokens, &chunk.style, chunk.speed, priority, run)?;
        let _span = tracing::info_span!("postprocess").entered();
        audio::trim(&mut audio);
        audio.resize(audio.len() + pause, 0.0);
        emit(audio);
        return Ok(());
    }

    let encoded = model.encode(&chunk.tokens, &chunk.style, chunk.speed, priority, run)?;
    let windows = if first_window {
        let lead = encoded.durations[0].max(0) as usize; // the leading pad's frames: silence
        first_windows(lead.saturating_sub(LEAD_MARGIN), encoded.frames)
    } else {
        vec![decoded_frames(encoded.durations[0], encoded.frames)]
    };

    let mut carry: Vec<f32> = Vec::new();
    let mut leading = true;
    for (k, window) in windows.iter().enumerate() {
        let last = k + 1 == windows.len();
        // Later windows decode from the chunk's start: they sound as the whole chunk does.
        let from = if k == 0 { window.start } else { 0 };
        let to = if last { window.end } else { (window.end + FIRST_CONTEXT).min(encoded.frames) };
        let priority = if k == 0 { priority } else { priority.max(pool::SECOND) };
        let decoded = model.decode(&encoded, from..to, priority, run)?;
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
    control: Arc<Control>,
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
    /// A cancelled stream is done at once, even with chunks still queued, and a wait under
    /// way when it is cancelled ends then.
    pub fn next_timeout(&mut self, timeout: Duration) -> Next {
        if self.control.is_closed() {
            return Next::Done;
        }
        let (rx, control) = (&mut self.rx, &self.control);
        // The timer is made inside the runtime: it needs the runtime's clock.
        let waited = self.runtime.block_on(async { control.unless(Control::is_closed, tokio::time::timeout(timeout, rx.recv())).await });
        match waited {
            _ if self.control.is_closed() => Next::Done,
            None => Next::Done,
            Some(Ok(Some(chunk))) => Next::Chunk(chunk),
            Some(Ok(None)) => Next::Done,
            Some(Err(_)) => Next::Pending,
        }
    }

    /// A handle that cancels this stream from another thread while this one waits in
    /// [`next_timeout`](Self::next_timeout).
    pub fn canceller(&self) -> Canceller {
        Canceller(Arc::clone(&self.control))
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

    /// Stops the stream: no new chunk starts, and the inferences running are terminated
    /// (ONNX Runtime stops them between nodes), so the sessions are free again at once.
    pub fn cancel(&mut self) {
        self.control.close();
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
    fn a_long_chunk_is_decoded_from_a_little_before_its_speech() {
        assert_eq!(decoded_frames(15, 240), 15 - LEAD_MARGIN..240);
        assert_eq!(decoded_frames(3, 240), 0..240); // less silence than the margin
        assert_eq!(decoded_frames(15, TRIMMED_LEAD_MIN_FRAMES - 1), 0..TRIMMED_LEAD_MIN_FRAMES - 1);
        assert_eq!(decoded_frames(-1, 240), 0..240);
    }

    #[test]
    fn a_short_chunk_is_not_cut() {
        let frames = 3 + FIRST_WINDOW + MIN_REST - 1;
        assert_eq!(first_windows(3, frames), vec![0..frames]);
    }
}

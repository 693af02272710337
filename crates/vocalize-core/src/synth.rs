//! Synthesis of a sequence of chunks on the session pool, in order, as a stream.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use ort::session::RunOptions;

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

/// Audio of one chunk, trimmed and followed by its pause, with what places its tokens in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChunkAudio {
    pub samples: Vec<f32>,
    /// Frames of [`crate::model::SAMPLES_PER_FRAME`] samples given to each padded token (the pads at both
    /// ends included) of the model's output, when the model gives them.
    pub durations: Option<Vec<i64>>,
    /// Samples of the model's output (from its first frame) before `samples[0]`: the
    /// leading silence trimmed.
    pub start: usize,
    /// Samples of speech in `samples`; the pause follows them.
    pub speech: usize,
}

/// What turns one chunk request into its audio: Kokoro's model ([`Model`]) or the tiny
/// tier ([`crate::tiny::TinyVoice`]). Every model runs through the same [`Synthesizer`]:
/// one scheduler, one stream type, one way to cancel.
pub trait Render: Send + Sync + 'static {
    /// The audio of `chunk`, the `index`-th of its stream: speech trimmed of silence and
    /// faded at both ends, then the chunk's pause. `run` terminates the inference midway.
    fn render(&self, chunk: &ChunkRequest, index: usize, run: Option<&RunOptions>) -> Result<ChunkAudio>;

    /// The run options of a new stream, given to each of its inferences: what cancels them
    /// (`None` if ONNX Runtime could not make them: inferences then finish).
    fn run_options(&self) -> Option<RunOptions> {
        RunOptions::new().ok()
    }
}

impl Render for Model {
    fn render(&self, chunk: &ChunkRequest, index: usize, run: Option<&RunOptions>) -> Result<ChunkAudio> {
        render(self, chunk, index, run)
    }
}

/// Runs chunk requests on a model's session pool from a Tokio runtime.
pub struct Synthesizer<M: Render = Model> {
    model: Arc<M>,
    runtime: Handle,
}

impl<M: Render> Synthesizer<M> {
    pub fn new(model: Arc<M>, runtime: Handle) -> Self {
        Self { model, runtime }
    }

    pub fn model(&self) -> &Arc<M> {
        &self.model
    }

    /// Starts synthesizing `chunks`; the audio comes out of the returned stream in input
    /// order. Dropping the stream cancels the rest.
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
    /// [`ChunkStream::finish`]. The chunks run one after the other on [`schedule`].
    pub fn open(&self) -> ChunkStream {
        let (audio, rx) = mpsc::channel(AHEAD);
        let (input, pending) = mpsc::unbounded_channel::<ChunkRequest>();
        let control = Control::new(self.model.run_options());
        let scheduled = schedule(Arc::clone(&self.model), pending, audio, Arc::clone(&control), tracing::Span::current());
        self.runtime.spawn(scheduled);
        ChunkStream { rx, input: Some(input), control, runtime: self.runtime.clone() }
    }
}

/// Chunks of audio a stream synthesizes ahead of its reader.
const AHEAD: usize = 4;

/// The scheduler of one stream: takes its chunks in order as they are pushed, synthesizes
/// each on a blocking worker thread (the model's session pool decides when it runs among
/// other streams' chunks), and sends its audio to the reader, at most [`AHEAD`] chunks
/// ahead. Ends when the input ends, at the first error (which the reader gets), or as soon
/// as the stream is cancelled, whatever it waits for then; a cancelled inference is
/// terminated by the stream's run options.
async fn schedule<M: Render>(
    model: Arc<M>,
    mut pending: mpsc::UnboundedReceiver<ChunkRequest>,
    audio: mpsc::Sender<Result<ChunkAudio>>,
    control: Arc<Control>,
    parent: tracing::Span,
) {
    let mut index = 0usize;
    while let Some(Some(chunk)) = control.unless_cancelled(pending.recv()).await {
        let (model, parent, worker) = (Arc::clone(&model), parent.clone(), Arc::clone(&control));
        let task = tokio::task::spawn_blocking(move || {
            let _span = tracing::info_span!(parent: &parent, "chunk").entered();
            let _running = worker.start_work();
            let result = model.render(&chunk, index, worker.run.as_ref());
            if result.is_err() && worker.is_cancelled() {
                // What failed is the terminated inference.
                drop(tracing::info_span!("terminated").entered());
            }
            result
        });
        let result = match control.unless_cancelled(task).await {
            None => break,
            Some(Ok(result)) => result,
            Some(Err(join)) => Err(CoreError::Panicked(panic_message(join))),
        };
        let failed = result.is_err();
        if control.is_cancelled() || control.unless_cancelled(audio.send(result)).await.is_none_or(|sent| sent.is_err()) || failed {
            break;
        }
        index += 1;
    }
    control.cancel();
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
pub(crate) struct Control {
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

impl Control {
    fn new(run: Option<RunOptions>) -> Arc<Self> {
        let control = Arc::new(Self {
            cancelled: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            run,
            working: Mutex::new(0),
            idle: Condvar::new(),
            stopped: tokio::sync::Notify::new(),
        });
        crate::process::PROCESS.add_stream(&control);
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
    let live = crate::process::PROCESS.streams();
    for control in &live {
        control.close();
    }
    live.iter().all(|control| control.wait_idle(deadline))
}

/// What a worker thread that panicked said.
fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(panic) => panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a worker thread panicked".into()),
        Err(join) => join.to_string(),
    }
}

/// Synthesizes one chunk (the `index`-th of its stream): its speech trimmed of the model's
/// silence and faded at both ends, then its pause. The chunk is decoded whole, leading
/// silence included: the decoder normalizes over the frames it is given, so decoding a long
/// chunk from just before its speech changed the audio enough that Whisper misheard words.
fn render(model: &Model, chunk: &ChunkRequest, index: usize, run: Option<&RunOptions>) -> Result<ChunkAudio> {
    let pause = audio::silence(chunk.pause_after);
    if chunk.tokens.is_empty() {
        // A pause with no speech (pause markup before any text).
        return Ok(ChunkAudio { samples: vec![0.0; pause], durations: Some(vec![]), start: 0, speech: 0 });
    }
    let speech = model.infer(&chunk.tokens, &chunk.style, chunk.speed, priority(index), run)?;
    let (mut samples, durations) = (speech.samples, speech.durations);
    let _span = tracing::info_span!("postprocess").entered();
    let trimmed = audio::trim(&mut samples);
    let speech = samples.len();
    samples.resize(speech + pause, 0.0);
    Ok(ChunkAudio { samples, durations, start: trimmed, speech })
}

/// The session-pool priority of a stream's `index`-th chunk: the first two go ahead of
/// other streams' later chunks, so a new request's audio starts soon.
pub fn priority(index: usize) -> u8 {
    match index {
        0 => pool::FIRST,
        1 => pool::SECOND,
        _ => pool::NORMAL,
    }
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

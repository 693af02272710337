//! What the core keeps for the whole process, in one place: the streams alive (so they can
//! all be stopped at exit) and whether ONNX Runtime has seen the custom operator domain.

use std::sync::{Arc, Mutex, Weak};

use crate::synth::Control;

pub(crate) struct Process {
    /// Every stream not yet dropped, for [`crate::synth::stop_all`].
    streams: Mutex<Vec<Weak<Control>>>,
    /// Whether a session with the custom operators was created. ONNX Runtime records a
    /// custom domain in a process-wide table the first time a session uses it, with a
    /// check-then-insert that fails when two sessions do it at once: the first session
    /// with the domain is created alone.
    custom_ops: Mutex<bool>,
}

pub(crate) static PROCESS: Process = Process { streams: Mutex::new(Vec::new()), custom_ops: Mutex::new(false) };

impl Process {
    pub(crate) fn add_stream(&self, control: &Arc<Control>) {
        let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        streams.retain(|c| c.strong_count() > 0);
        streams.push(Arc::downgrade(control));
    }

    pub(crate) fn streams(&self) -> Vec<Arc<Control>> {
        self.streams.lock().unwrap_or_else(|e| e.into_inner()).iter().filter_map(Weak::upgrade).collect()
    }

    /// Runs `create` (which makes a session with the custom operators) alone if no such
    /// session was made yet, else at once.
    pub(crate) fn with_custom_ops<T, E>(&self, create: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let mut registered = self.custom_ops.lock().unwrap_or_else(|e| e.into_inner());
        if *registered {
            drop(registered);
            return create();
        }
        let made = create()?;
        *registered = true;
        Ok(made)
    }
}

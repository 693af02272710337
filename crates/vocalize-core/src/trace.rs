//! A `tracing` layer that keeps the timing of every closed span, so a caller can print
//! where a request spent its time (`vocalize speak --verbose`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::Subscriber;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// One finished span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// Unique within the process (tracing's own ids are reused).
    pub id: u64,
    pub parent: Option<u64>,
    pub name: &'static str,
    /// `key=value` pairs of the span's fields.
    pub fields: String,
    /// Offset of the span's start from the recorder's creation, in nanoseconds.
    pub start_ns: u64,
    pub duration_ns: u64,
}

/// Collects [`SpanRecord`]s; clone it to read what the installed layer recorded.
#[derive(Clone)]
pub struct SpanRecorder {
    records: Arc<Mutex<Vec<SpanRecord>>>,
    origin: Instant,
    next_id: Arc<AtomicU64>,
}

struct Open {
    id: u64,
    fields: String,
    start: Instant,
}

impl Default for SpanRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl SpanRecorder {
    pub fn new() -> Self {
        Self { records: Arc::default(), origin: Instant::now(), next_id: Arc::new(AtomicU64::new(1)) }
    }

    /// Removes and returns everything recorded so far, in the order spans closed.
    pub fn take(&self) -> Vec<SpanRecord> {
        std::mem::take(&mut *self.records.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

struct FieldText<'a>(&'a mut String);

impl Visit for FieldText<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if !self.0.is_empty() {
            self.0.push(' ');
        }
        let _ = write!(self.0, "{}={:?}", field.name(), value);
    }
}

impl<S> Layer<S> for SpanRecorder
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = String::new();
        attrs.record(&mut FieldText(&mut fields));
        let open = Open { id: self.next_id.fetch_add(1, Ordering::Relaxed), fields, start: Instant::now() };
        span.extensions_mut().insert(open);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let parent = span.parent().and_then(|p| p.extensions().get::<Open>().map(|o| o.id));
        let extensions = span.extensions();
        let Some(open) = extensions.get::<Open>() else { return };
        let record = SpanRecord {
            id: open.id,
            parent,
            name: span.metadata().name(),
            fields: open.fields.clone(),
            start_ns: open.start.duration_since(self.origin).as_nanos() as u64,
            duration_ns: open.start.elapsed().as_nanos() as u64,
        };
        self.records.lock().unwrap_or_else(|e| e.into_inner()).push(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn records_nesting_fields_and_durations() {
        let recorder = SpanRecorder::new();
        let subscriber = tracing_subscriber::registry().with(recorder.clone());
        tracing::subscriber::with_default(subscriber, || {
            let outer = tracing::info_span!("outer", tokens = 12).entered();
            {
                let _inner = tracing::info_span!("inner").entered();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            drop(outer);
        });
        let records = recorder.take();
        assert_eq!(records.len(), 2);
        let (inner, outer) = (&records[0], &records[1]);
        assert_eq!((inner.name, outer.name), ("inner", "outer"));
        assert_eq!(inner.parent, Some(outer.id));
        assert_eq!(outer.parent, None);
        assert_eq!(outer.fields, "tokens=12");
        assert!(inner.duration_ns >= 2_000_000);
        assert!(outer.duration_ns >= inner.duration_ns);
        assert!(recorder.take().is_empty());
    }
}

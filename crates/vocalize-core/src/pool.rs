//! A fixed set of values lent out one caller at a time.
//!
//! `ort::Session::run` takes `&mut self`, so each session serves one inference at a time.
//! The pool hands an idle one to each caller and blocks callers while all are busy; waiting
//! callers are served by priority, then in arrival order.

use std::collections::BTreeSet;
use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex};

/// Priority of a stream's first chunk: served before every other waiting chunk, so a new
/// request's audio starts while other requests are mid-stream.
pub const FIRST: u8 = 0;
/// Priority of the second chunk (the one that must be ready when the first has played).
pub const SECOND: u8 = 1;
/// Priority of every other chunk: first come, first served.
pub const NORMAL: u8 = 2;

pub struct Pool<T> {
    state: Mutex<State<T>>,
    returned: Condvar,
}

struct State<T> {
    idle: Vec<T>,
    /// Callers waiting, as (priority, ticket): the smallest is served next.
    waiting: BTreeSet<(u8, u64)>,
    next_ticket: u64,
}

impl<T> Pool<T> {
    pub fn new(items: Vec<T>) -> Self {
        let state = State { idle: items, waiting: BTreeSet::new(), next_ticket: 0 };
        Self { state: Mutex::new(state), returned: Condvar::new() }
    }

    /// Borrows an idle item with [`NORMAL`] priority, waiting for one if all are lent out.
    pub fn acquire(&self) -> Lease<'_, T> {
        self.acquire_with(NORMAL)
    }

    /// Borrows an idle item; while all are lent out, callers with a lower `priority` value
    /// are served first, and callers of equal priority in the order they came.
    pub fn acquire_with(&self, priority: u8) -> Lease<'_, T> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let me = (priority, state.next_ticket);
        state.next_ticket += 1;
        state.waiting.insert(me);
        loop {
            if !state.idle.is_empty() && state.waiting.first() == Some(&me) {
                state.waiting.remove(&me);
                let item = state.idle.pop();
                // Another item may still be idle for the next in line.
                if !state.idle.is_empty() && !state.waiting.is_empty() {
                    self.returned.notify_all();
                }
                return Lease { pool: self, item };
            }
            state = self.returned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// An item on loan from a [`Pool`]; it goes back when dropped.
pub struct Lease<'p, T> {
    pool: &'p Pool<T>,
    item: Option<T>,
}

impl<T> Deref for Lease<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.item.as_ref().expect("lease holds its item until dropped")
    }
}

impl<T> DerefMut for Lease<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.item.as_mut().expect("lease holds its item until dropped")
    }
}

impl<T> Drop for Lease<'_, T> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.pool.state.lock().unwrap_or_else(|e| e.into_inner()).idle.push(item);
            // Every waiter checks whether it is next in line.
            self.pool.returned.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn lends_each_item_to_one_caller_at_a_time() {
        let pool = Arc::new(Pool::new(vec![0u32, 0u32]));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let pool = Arc::clone(&pool);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        *pool.acquire() += 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let state = pool.state.lock().unwrap();
        assert_eq!(state.idle.len(), 2);
        assert_eq!(state.idle.iter().sum::<u32>(), 8000);
        assert!(state.waiting.is_empty());
    }

    #[test]
    fn serves_waiting_callers_by_priority_then_arrival() {
        use std::sync::mpsc;
        use std::time::Duration;

        let pool = Arc::new(Pool::new(vec![()]));
        let held = pool.acquire();
        let (tx, rx) = mpsc::channel();
        let mut handles = Vec::new();
        // Queue up in this order; each waits until the one before is surely waiting.
        for (name, priority) in [("normal-a", NORMAL), ("normal-b", NORMAL), ("second", SECOND), ("first", FIRST)] {
            let shared = Arc::clone(&pool);
            let tx = tx.clone();
            handles.push(std::thread::spawn(move || {
                let _lease = shared.acquire_with(priority);
                tx.send(name).unwrap();
            }));
            while pool.state.lock().unwrap().waiting.len() < handles.len() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(held);
        for h in handles {
            h.join().unwrap();
        }
        let order: Vec<_> = rx.try_iter().collect();
        assert_eq!(order, ["first", "second", "normal-a", "normal-b"]);
    }
}

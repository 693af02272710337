//! A fixed set of values lent out one caller at a time.
//!
//! `ort::Session::run` takes `&mut self`, so each session serves one inference at a time.
//! The pool hands an idle one to each caller and blocks callers while all are busy.

use std::ops::{Deref, DerefMut};
use std::sync::{Condvar, Mutex};

pub struct Pool<T> {
    idle: Mutex<Vec<T>>,
    returned: Condvar,
    size: usize,
}

impl<T> Pool<T> {
    pub fn new(items: Vec<T>) -> Self {
        let size = items.len();
        Self { idle: Mutex::new(items), returned: Condvar::new(), size }
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// Borrows an idle item, waiting for one if all are lent out.
    pub fn acquire(&self) -> Lease<'_, T> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(item) = idle.pop() {
                return Lease { pool: self, item: Some(item) };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner());
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
            self.pool.idle.lock().unwrap_or_else(|e| e.into_inner()).push(item);
            self.pool.returned.notify_one();
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
        let idle = pool.idle.lock().unwrap();
        assert_eq!(idle.len(), 2);
        assert_eq!(idle.iter().sum::<u32>(), 8000);
    }
}

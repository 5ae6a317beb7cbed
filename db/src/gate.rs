//! SQLite takes one writer at a time. Writers of one process queue here,
//! first come first served and without sleeping, instead of in SQLite's busy
//! handler, which polls in growing sleeps (up to 100 ms) and turned a burst
//! of intakes into second-long tails. The API's handlers and the SLA engine
//! of one process share one gate. On PostgreSQL it does nothing: rows lock
//! themselves.

use std::sync::Arc;

use crate::Backend;

#[derive(Clone, Debug, Default)]
pub struct WriteGate(Option<Arc<parking_lot::FairMutex<()>>>);

/// A turn at writing; the next writer goes when it is dropped.
pub struct Turn<'a>(#[allow(dead_code)] Option<parking_lot::FairMutexGuard<'a, ()>>);

impl WriteGate {
    pub fn for_backend(backend: Backend) -> WriteGate {
        match backend {
            Backend::Sqlite => WriteGate(Some(Arc::default())),
            Backend::Postgres => WriteGate(None),
        }
    }

    /// Waits for this writer's turn (at once on PostgreSQL).
    pub fn turn(&self) -> Turn<'_> {
        Turn(self.0.as_ref().map(|m| m.lock()))
    }
}

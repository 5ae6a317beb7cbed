//! SQLite takes one writer at a time. Writers of one process queue here
//! instead of in SQLite's busy handler, which polls in growing sleeps (up
//! to 100 ms) and turned a burst of intakes into second-long tails.
//!
//! Two ways through, sharing one fair lock (the *turn*):
//! - [`WriteGate::turn`]: the caller writes on its own connection while it
//!   holds the turn (the SLA engine's sweeps and dispatcher).
//! - [`WriteGate::submit`], on a gate made [`WriteGate::with_writer`]: the
//!   work goes to the process's writer thread, which takes every job
//!   waiting (up to [`MAX_BATCH`]) and runs them in **one** transaction,
//!   each in a savepoint of its own: a job that fails leaves no trace and
//!   does not disturb the others, and one commit carries them all (group
//!   commit). Results are handed back only once that commit succeeded; if
//!   it fails, every job of the batch gets the error and nothing was kept.
//!
//! On PostgreSQL the gate does nothing: rows lock themselves, and work runs
//! on the caller's own connection.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, mpsc};

use diesel::connection::{Connection, TransactionManager};
use parking_lot::FairMutex;
use tokio::sync::oneshot;

use crate::{Backend, DbConnection, Pool, QueryError};

/// The most jobs one transaction of the writer thread carries.
pub const MAX_BATCH: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct WriteGate {
    turn: Option<Arc<FairMutex<()>>>,
    writer: Option<mpsc::Sender<Box<dyn Job>>>,
    stats: Arc<WriterStats>,
}

/// What the writer thread is doing, for the metrics: the jobs waiting, and
/// a hook told the size of each batch it commits.
#[derive(Default)]
pub struct WriterStats {
    queued: std::sync::atomic::AtomicUsize,
    on_batch: std::sync::OnceLock<Box<dyn Fn(usize) + Send + Sync>>,
}

impl std::fmt::Debug for WriterStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterStats")
            .field("queued", &self.queued)
            .finish_non_exhaustive()
    }
}

/// A turn at writing; the next writer goes when it is dropped.
pub struct Turn<'a>(#[allow(dead_code)] Option<parking_lot::FairMutexGuard<'a, ()>>);

impl WriteGate {
    /// A gate without a writer thread: [`WriteGate::submit`] declines.
    pub fn for_backend(backend: Backend) -> WriteGate {
        match backend {
            Backend::Sqlite => WriteGate {
                turn: Some(Arc::default()),
                writer: None,
                stats: Arc::default(),
            },
            Backend::Postgres => WriteGate::default(),
        }
    }

    /// On SQLite, a gate with a writer thread that runs submitted work on
    /// connections of `pool`. The thread ends when the last clone of the
    /// gate is dropped.
    pub fn with_writer(backend: Backend, pool: Pool) -> std::io::Result<WriteGate> {
        let mut gate = WriteGate::for_backend(backend);
        if let Some(turn) = &gate.turn {
            let (sender, jobs) = mpsc::channel();
            let turn = turn.clone();
            let stats = gate.stats.clone();
            std::thread::Builder::new()
                .name("avip-sqlite-writer".into())
                .spawn(move || writer(&pool, &turn, &jobs, &stats))?;
            gate.writer = Some(sender);
        }
        Ok(gate)
    }

    /// Jobs handed to the writer thread and not yet taken into a batch
    /// (always 0 without a writer thread).
    pub fn queue_depth(&self) -> usize {
        self.stats.queued.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Tells `observe` the size of every batch the writer thread commits
    /// from now on (the first observer set stays).
    pub fn observe_batches(&self, observe: impl Fn(usize) + Send + Sync + 'static) {
        let _ = self.stats.on_batch.set(Box::new(observe));
    }

    /// Waits for this writer's turn (at once on PostgreSQL).
    pub fn turn(&self) -> Turn<'_> {
        Turn(self.turn.as_ref().map(|m| m.lock()))
    }

    /// Hands `work` to the writer thread, or gives it back when this gate
    /// has none (PostgreSQL, or a gate made with [`WriteGate::for_backend`]):
    /// then run it yourself, in your [`WriteGate::turn`]. The answer
    /// arrives once the transaction that carried the work has committed, or
    /// as an error when it did not (a failed commit, a panic in the batch).
    pub fn submit<F, T, E>(&self, work: F) -> Result<oneshot::Receiver<Result<T, E>>, F>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<QueryError> + Send + 'static,
    {
        let Some(writer) = &self.writer else {
            return Err(work);
        };
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            work: Some(work),
            result: None,
            reply,
        });
        // The thread stops only once every sender is gone, and this gate
        // holds one; a send fails only if the thread died, and then the
        // dropped reply tells the caller.
        self.stats
            .queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let _ = writer.send(job);
        Ok(answer)
    }
}

/// One submitted piece of work, with where its answer goes.
trait Job: Send {
    /// Runs the work; `true` when it succeeded (its writes stay).
    fn run(&mut self, conn: &mut DbConnection) -> bool;
    /// Sends the answer: the work's own result, or `failure` when the
    /// batch did not commit.
    fn finish(self: Box<Self>, failure: Option<&Failure>);
}

struct Pending<F, T, E> {
    work: Option<F>,
    result: Option<Result<T, E>>,
    reply: oneshot::Sender<Result<T, E>>,
}

impl<F, T, E> Job for Pending<F, T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send,
    T: Send,
    E: From<QueryError> + Send,
{
    fn run(&mut self, conn: &mut DbConnection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = work(conn);
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, failure: Option<&Failure>) {
        let answer = match (failure, self.result) {
            (None, Some(result)) => result,
            (Some(failure), _) => Err(E::from(failure.error())),
            (None, None) => Err(E::from(QueryError::RollbackTransaction)),
        };
        let _ = self.reply.send(answer);
    }
}

/// Why a batch was not kept.
#[derive(Debug)]
struct Failure {
    /// No connection could be had: the caller may try again later.
    unreachable: bool,
    reason: String,
}

impl Failure {
    fn error(&self) -> QueryError {
        use diesel::result::DatabaseErrorKind::{ClosedConnection, Unknown};
        let kind = if self.unreachable {
            ClosedConnection
        } else {
            Unknown
        };
        QueryError::DatabaseError(
            kind,
            Box::new(format!("the write was not kept: {}", self.reason)),
        )
    }
}

type Manager = <DbConnection as Connection>::TransactionManager;

fn writer(
    pool: &Pool,
    turn: &FairMutex<()>,
    jobs: &mpsc::Receiver<Box<dyn Job>>,
    stats: &WriterStats,
) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats
            .queued
            .fetch_sub(batch.len(), std::sync::atomic::Ordering::Relaxed);
        if let Some(observe) = stats.on_batch.get() {
            observe(batch.len());
        }
        let failure = {
            let _turn = turn.lock();
            match pool.get() {
                Ok(mut conn) => run_batch(&mut conn, &mut batch)
                    .err()
                    .map(|reason| Failure {
                        unreachable: false,
                        reason,
                    }),
                Err(e) => Some(Failure {
                    unreachable: true,
                    reason: format!("no database connection: {e}"),
                }),
            }
        };
        if let Some(failure) = &failure {
            tracing::error!(jobs = batch.len(), reason = %failure.reason, "a batch of writes was not kept");
        }
        for job in batch {
            job.finish(failure.as_ref());
        }
    }
}

/// Runs the jobs in one write transaction, each in a savepoint.
fn run_batch(conn: &mut DbConnection, batch: &mut [Box<dyn Job>]) -> Result<(), String> {
    let mut panicked = false;
    let outcome = crate::write_transaction(conn, |conn| {
        for job in batch.iter_mut() {
            Manager::begin_transaction(conn)?;
            match catch_unwind(AssertUnwindSafe(|| job.run(conn))) {
                Ok(true) => Manager::commit_transaction(conn)?,
                Ok(false) => Manager::rollback_transaction(conn)?,
                Err(_) => {
                    // The job's own transactions may not have unwound:
                    // give up the batch. The connection is left inside a
                    // transaction, which the pool discards on return.
                    panicked = true;
                    return Err(QueryError::RollbackTransaction);
                }
            }
        }
        Ok::<_, QueryError>(())
    });
    match outcome {
        Ok(()) => Ok(()),
        Err(_) if panicked => Err("a write in the same batch panicked".into()),
        Err(e) => Err(e.to_string()),
    }
}

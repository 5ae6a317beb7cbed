//! Recording every read of a family's personal data without slowing the
//! read: a request hands its entries to a thread that writes them in
//! batches (on SQLite, through the writer's turn like any write), at most
//! a fifth of a second later. `flush` waits until what was handed in is written:
//! the log's readers and a stopping service call it.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

use avip_db::access_log::{self, Access};
use avip_db::model::{EventId, ReferralId, to_db_time};
use avip_db::{Pool, WriteGate};
use chrono::Utc;

use crate::auth::{Principal, Subject};

/// How long the thread gathers entries before writing them: a commit per
/// 200 ms at most, whatever the rate of reads (a commit each 20 ms cost
/// lists more: BENCHMARKS.md, session 7).
const GATHER: Duration = Duration::from_millis(200);
/// The most entries written in one transaction.
const BATCH: usize = 2_000;

enum Message {
    Read(Access),
    Flush(Sender<()>),
}

/// What a read names: which operation, and the request it came in.
#[derive(Clone, Copy, Debug)]
pub struct Operation<'a> {
    /// `get_referral`, `list_referrals`, `search_referrals`, `referral_changes`, `timeline`,
    /// `follow_ups`, `personal_data`, `erasure`.
    pub name: &'static str,
    pub request_id: Option<&'a str>,
}

#[derive(Clone)]
pub struct Recorder {
    /// `None`: reads are not recorded (only `ServerOptions::record_reads`,
    /// for the benchmark that measures what recording costs).
    tx: Option<Sender<Message>>,
    /// The writing thread, woken by a flush.
    thread: Option<std::thread::Thread>,
}

impl Recorder {
    /// Starts the writing thread.
    pub fn start(pool: Pool, gate: WriteGate) -> std::io::Result<Recorder> {
        let (tx, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("avip-access-log".into())
            .spawn(move || write_loop(&rx, &pool, &gate))?
            .thread()
            .clone();
        Ok(Recorder {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// A recorder that records nothing: for measuring what recording costs,
    /// never for a service people use (no setting reaches it).
    pub fn off() -> Recorder {
        Recorder {
            tx: None,
            thread: None,
        }
    }

    /// Records that `who` read these referrals' personal data (one entry
    /// for the read; nothing when it named none).
    pub fn record<'a>(
        &self,
        who: &Principal,
        referrals: impl IntoIterator<Item = &'a ReferralId>,
        operation: Operation<'_>,
    ) {
        let Some(tx) = &self.tx else { return };
        let referral_ids = referrals
            .into_iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        if referral_ids.is_empty() {
            return;
        }
        let (actor_kind, actor_id) = match &who.subject {
            Subject::User(id) => ("user", id.to_string()),
            Subject::Client(id) => ("api_client", id.to_string()),
        };
        let entry = Access {
            id: EventId::generate().to_string(),
            at: to_db_time(Utc::now()),
            actor_kind: actor_kind.to_owned(),
            actor_id: Some(actor_id),
            organization_id: who.organization_id.to_string(),
            operation: operation.name.to_owned(),
            request_id: operation.request_id.map(str::to_owned),
            referral_ids,
        };
        if tx.send(Message::Read(entry)).is_err() {
            tracing::error!(
                operation = operation.name,
                "the access log is not running: a read went unrecorded"
            );
        }
    }

    /// Waits (at most 10 s) until every entry handed in so far is written.
    pub fn flush(&self) {
        let Some(tx) = &self.tx else { return };
        let (done, wait) = channel();
        let sent = tx.send(Message::Flush(done)).is_ok();
        if let Some(thread) = &self.thread {
            thread.unpark();
        }
        if sent && wait.recv_timeout(Duration::from_secs(10)).is_err() {
            tracing::warn!("the access log did not flush within 10 s");
        }
    }
}

fn write_loop(rx: &Receiver<Message>, pool: &Pool, gate: &WriteGate) {
    while let Ok(first) = rx.recv() {
        let mut batch: Vec<Access> = Vec::new();
        let mut waiting: Vec<Sender<()>> = Vec::new();
        let take = |message: Message, batch: &mut Vec<Access>, waiting: &mut Vec<Sender<()>>| {
            match message {
                Message::Read(entry) => batch.push(entry),
                Message::Flush(done) => waiting.push(done),
            }
        };
        take(first, &mut batch, &mut waiting);
        // Gather what comes in the next 200 ms, then write it all in one
        // transaction. The thread sleeps meanwhile and takes what came
        // when it wakes: waking it for each entry would cost each read a
        // thread switch. A flush wakes it at once.
        let deadline = Instant::now() + GATHER;
        let mut closed = false;
        loop {
            loop {
                match rx.try_recv() {
                    Ok(message) => take(message, &mut batch, &mut waiting),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        closed = true;
                        break;
                    }
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if closed || !waiting.is_empty() || batch.len() >= BATCH || left.is_zero() {
                break;
            }
            std::thread::park_timeout(left);
        }
        write(pool, gate, batch);
        for done in waiting {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

/// Writes `batch` in one transaction, trying again (every half second)
/// while the database is away: nothing is dropped.
fn write(pool: &Pool, gate: &WriteGate, batch: Vec<Access>) {
    if batch.is_empty() {
        return;
    }
    loop {
        let rows = batch.clone();
        let written = avip_db::blocking::write_blocking(pool, gate, move |conn| {
            avip_db::write_transaction(conn, |conn| access_log::insert(conn, &rows))
        });
        match written {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(error = %e, entries = batch.len(), "the access log could not be written; retrying");
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

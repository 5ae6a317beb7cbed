//! The SQLite writer thread's group commit (`avip_db::WriteGate`): several
//! writes share a transaction, yet each is kept exactly when it reported
//! success, whatever its neighbours did. On PostgreSQL the gate declines
//! the work and callers run it themselves. And a transaction that reads
//! before it writes waits for another writer instead of failing.

use avip_db::schema::service_keys;
use avip_db::{Backend, DbConnection, QueryError, WriteGate};
use avip_tests::TestDatabase;
use diesel::prelude::*;
use tokio::sync::oneshot;

type Answer = oneshot::Receiver<Result<(), QueryError>>;

fn setup() -> (TestDatabase, avip_db::Pool, WriteGate) {
    let db = TestDatabase::new();
    let (pool, backend) = avip_db::open_pool(&db.url, 4).unwrap();
    avip_db::migrations::run_pending(&mut pool.get().unwrap()).unwrap();
    let gate = WriteGate::with_writer(backend, pool.clone()).unwrap();
    (db, pool, gate)
}

fn insert(conn: &mut DbConnection, name: &str) -> Result<(), QueryError> {
    diesel::insert_into(service_keys::table)
        .values((
            service_keys::name.eq(name),
            service_keys::value.eq("v"),
            service_keys::created_at.eq(chrono::Utc::now().naive_utc()),
        ))
        .execute(conn)
        .map(drop)
}

fn submit(
    gate: &WriteGate,
    work: impl FnOnce(&mut DbConnection) -> Result<(), QueryError> + Send + 'static,
) -> Answer {
    gate.submit(work)
        .unwrap_or_else(|_| panic!("an SQLite gate with a writer takes the work"))
}

fn kept(pool: &avip_db::Pool) -> Vec<String> {
    service_keys::table
        .select(service_keys::name)
        .order(service_keys::name)
        .load(&mut pool.get().unwrap())
        .unwrap()
}

#[tokio::test]
async fn each_write_of_a_batch_is_kept_exactly_when_it_succeeded() {
    let (db, pool, gate) = setup();
    if db.backend == Backend::Postgres {
        assert!(gate.submit(|_| Ok::<_, QueryError>(())).is_err());
        return;
    }
    // Holding the turn makes the writes queue up behind it, so that the
    // writer thread takes them together when it is released.
    let answers: Vec<(&str, Answer)> = {
        let _turn = gate.turn();
        vec![
            ("a", submit(&gate, |c| insert(c, "a"))),
            ("b", submit(&gate, |c| insert(c, "b"))),
            // Writes, then fails: its row must not stay.
            (
                "c",
                submit(&gate, |c| {
                    insert(c, "c")?;
                    Err(QueryError::NotFound)
                }),
            ),
            // A constraint violation in the middle of the batch.
            ("b again", submit(&gate, |c| insert(c, "b"))),
            // Nested transaction of its own, as the API's work does.
            (
                "e",
                submit(&gate, |c| avip_db::write_transaction(c, |c| insert(c, "e"))),
            ),
        ]
    };
    let mut outcomes = Vec::new();
    for (name, answer) in answers {
        outcomes.push((name, answer.await.unwrap().is_ok()));
    }
    assert_eq!(
        outcomes,
        [
            ("a", true),
            ("b", true),
            ("c", false),
            ("b again", false),
            ("e", true)
        ]
    );
    assert_eq!(kept(&pool), ["a", "b", "e"]);
}

#[tokio::test]
async fn a_write_that_panics_fails_alone_in_what_it_reports_and_the_writer_goes_on() {
    let (db, pool, gate) = setup();
    if db.backend == Backend::Postgres {
        return;
    }
    let (x, panics, y) = {
        let _turn = gate.turn();
        (
            submit(&gate, |c| insert(c, "x")),
            // Inside a transaction of its own, which the panic leaves open.
            submit(&gate, |c| {
                avip_db::write_transaction(c, |c| {
                    insert(c, "p")?;
                    panic!("a bug in a write")
                })
            }),
            submit(&gate, |c| insert(c, "y")),
        )
    };
    // The panicking work's caller learns it was not kept.
    assert!(panics.await.unwrap().is_err());
    // Its neighbours may have shared its transaction: each is kept
    // exactly when it says so.
    let (x, y) = (x.await.unwrap().is_ok(), y.await.unwrap().is_ok());
    let rows = kept(&pool);
    assert_eq!(rows.contains(&"x".to_owned()), x, "{rows:?}");
    assert_eq!(rows.contains(&"y".to_owned()), y, "{rows:?}");
    assert!(!rows.contains(&"p".to_owned()));
    // The writer thread survived, on a sound connection.
    submit(&gate, |c| insert(c, "z")).await.unwrap().unwrap();
    assert!(kept(&pool).contains(&"z".to_owned()));
}

/// `avip admin bootstrap` reads (is there an administration already?)
/// before it writes. Run while another connection holds the write lock, then
/// commits, it must wait its turn: a deferred SQLite transaction fails at
/// once with "database is locked" there, since its read is stale by then.
/// (This is how a test's bootstrap failed while the service's engine wrote.)
#[test]
fn a_transaction_that_reads_first_waits_for_another_writer() {
    use diesel::connection::SimpleConnection;
    let db = TestDatabase::new();
    let mut other = db.connect();
    avip_db::migrations::run_pending(&mut other).unwrap();
    other
        .batch_execute(match db.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        })
        .unwrap();
    insert(&mut other, "held").unwrap();
    let mut conn = db.connect();
    let bootstrap = std::thread::spawn(move || {
        avip_app::workflow::users::bootstrap(
            &mut conn,
            "admin@example.org".into(),
            "a long enough password".into(),
            "Admin".into(),
            chrono::Utc::now(),
        )
    });
    // Long enough for the bootstrap to have read and to wait for the lock.
    std::thread::sleep(std::time::Duration::from_millis(500));
    other.batch_execute("COMMIT").unwrap();
    let created = bootstrap.join().expect("the bootstrap does not panic");
    assert!(
        matches!(created, Ok(Some(_))),
        "{:?}",
        created.map(|c| c.map(|(user, _)| user.email))
    );
}

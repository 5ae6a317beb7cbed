//! Connections and the r2d2 pool, over SQLite (the embedded default) or
//! PostgreSQL, chosen from the `DATABASE_URL`.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{self, CustomizeConnection, ManageConnection};

/// One connection to either backend; queries that compile on it run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// How long a request waits for a pooled connection before giving up.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0:?} has an unsupported scheme: use a file path (SQLite) or postgres://…")]
    UnsupportedUrl(String),
    #[error("cannot connect to {target}: {reason}")]
    Connect {
        target: String,
        reason: ConnectionError,
    },
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] r2d2::PoolError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where to connect: the backend and the address its driver understands.
#[derive(Clone, Debug)]
pub struct Target {
    pub backend: Backend,
    address: String,
}

impl Target {
    /// `postgres://…` or `postgresql://…` is PostgreSQL; `sqlite://path`,
    /// `file:…` or a plain path is SQLite; any other `scheme://` is refused.
    pub fn parse(database_url: &str) -> Result<Target, DbError> {
        let url = database_url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target {
                backend: Backend::Postgres,
                address: url.to_owned(),
            });
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            return Ok(Target {
                backend: Backend::Sqlite,
                address: path.to_owned(),
            });
        }
        if url.is_empty() || url.contains("://") {
            return Err(DbError::UnsupportedUrl(redact(url)));
        }
        Ok(Target {
            backend: Backend::Sqlite,
            address: url.to_owned(),
        })
    }

    /// A PostgreSQL URL with its password taken out (for a command an
    /// operator copies; the password comes from `PGPASSWORD`).
    pub fn display_without_password(&self) -> String {
        match url::Url::parse(&self.address) {
            Ok(mut parsed) if parsed.password().is_some() => {
                let _ = parsed.set_password(None);
                parsed.to_string()
            }
            _ => self.address.clone(),
        }
    }

    /// The address without a password, for messages and logs.
    pub fn display(&self) -> String {
        match self.backend {
            Backend::Postgres => redact(&self.address),
            Backend::Sqlite => format!("SQLite database {}", self.address),
        }
    }
}

fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// Opens connections for the pool; unlike the derived `establish`, it never
/// tries the other backend, so a failure reports the real reason.
#[derive(Clone, Debug)]
pub struct Manager {
    target: Target,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        establish(&self.target).map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        r2d2::R2D2Connection::is_broken(conn)
    }
}

fn establish(target: &Target) -> ConnectionResult<DbConnection> {
    match target.backend {
        Backend::Postgres => diesel::PgConnection::establish(&target.address).map(DbConnection::Pg),
        Backend::Sqlite => {
            diesel::SqliteConnection::establish(&target.address).map(DbConnection::Sqlite)
        }
    }
}

/// Settings every SQLite connection needs: WAL so that readers never block
/// the writer, a busy timeout so that writers queue instead of failing with
/// "database is locked", foreign keys (off by default in SQLite), and
/// `secure_delete = FAST`, so that what an UPDATE or DELETE removes (a
/// family's anonymised data) is overwritten with zeros in the pages it
/// writes anyway, not left in their free space. (`ON` would also rewrite
/// whole pages that become free; the anonymisation's in-place UPDATEs free
/// no whole page. FAST cost nothing measurable: BENCHMARKS.md, session 7.)
#[derive(Debug)]
struct SqlitePragmas;

/// `cache_size`: up to 16 MiB of pages per connection (SQLite's default is
/// 2 MiB), enough for a year of the indicators' sums and the bookings
/// index, which a dashboard reads again and again (BENCHMARKS.md).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = FAST; \
     PRAGMA cache_size = -16384;";

/// On SQLite, copies the WAL into the database file and empties it, so that
/// the old page images it holds (erased data among them) are gone; tried a
/// few times while readers hold it. Nothing to do on PostgreSQL (see
/// docs/data-protection.md on VACUUM).
pub fn checkpoint(conn: &mut DbConnection) -> QueryResult<()> {
    #[derive(diesel::QueryableByName)]
    struct Outcome {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        busy: i32,
    }
    if let DbConnection::Sqlite(c) = conn {
        for attempt in 0..20 {
            let outcome: Outcome =
                diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result(c)?;
            if outcome.busy == 0 {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(50 * (attempt + 1)));
        }
        tracing::warn!("the WAL could not be emptied: readers kept it busy");
    }
    Ok(())
}

impl CustomizeConnection<DbConnection, r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        match conn {
            DbConnection::Sqlite(c) => c
                .batch_execute(SQLITE_PRAGMAS)
                .map_err(r2d2::Error::QueryError),
            DbConnection::Pg(_) => Ok(()),
        }
    }
}

/// One connection, outside any pool (for the command line and tests).
pub fn connect(database_url: &str) -> Result<DbConnection, DbError> {
    let target = Target::parse(database_url)?;
    let mut conn = establish(&target).map_err(|reason| DbError::Connect {
        target: target.display(),
        reason,
    })?;
    if let DbConnection::Sqlite(c) = &mut conn {
        c.batch_execute(SQLITE_PRAGMAS)
            .map_err(|e| DbError::Connect {
                target: target.display(),
                reason: ConnectionError::CouldntSetupConfiguration(e),
            })?;
    }
    Ok(conn)
}

/// Opens the pool after proving that one connection can be made, so that a
/// wrong or unreachable database fails at once with the driver's reason
/// instead of after r2d2's wait with a generic time-out.
pub fn open_pool(database_url: &str, size: u32) -> Result<(Pool, Backend), DbError> {
    let target = Target::parse(database_url)?;
    drop(connect(database_url)?);
    let backend = target.backend;
    let pool = r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(1))
        .connection_timeout(CHECKOUT_TIMEOUT)
        // A server's connection may have died while idle: test it before
        // use. A local file's does not; a query the less on every request.
        .test_on_check_out(backend == Backend::Postgres)
        .connection_customizer(Box::new(SqlitePragmas))
        .build(Manager { target })?;
    Ok((pool, backend))
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Pg(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_their_backend() {
        assert_eq!(Target::parse("avip.db").unwrap().backend, Backend::Sqlite);
        assert_eq!(
            Target::parse("/var/lib/avip/avip.db").unwrap().backend,
            Backend::Sqlite
        );
        assert_eq!(
            Target::parse("sqlite:///tmp/a.db").unwrap().address,
            "/tmp/a.db"
        );
        assert_eq!(
            Target::parse("postgres://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        assert_eq!(
            Target::parse("postgresql://u@h/db").unwrap().backend,
            Backend::Postgres
        );
        assert!(matches!(
            Target::parse("mysql://h/db"),
            Err(DbError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            Target::parse("  "),
            Err(DbError::UnsupportedUrl(_))
        ));
    }

    #[test]
    fn passwords_never_appear_in_messages() {
        let target = Target::parse("postgres://avip:s3cret@db.example:5432/avip").unwrap();
        assert!(!target.display().contains("s3cret"));
        let err = Target::parse("mysql://root:s3cret@h/db")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn a_missing_directory_is_reported_with_its_path() {
        let err = connect("/nonexistent-dir/avip.db")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("/nonexistent-dir/avip.db"), "{err}");
    }
}

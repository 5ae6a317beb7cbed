//! The two migration folders produce the same tables and columns, the diesel
//! schema matches them, and every migration goes up, down and up again.

use std::collections::BTreeMap;

use avip_db::schema::*;
use avip_db::{Backend, DbConnection, migrations};
use avip_tests::TestDatabase;
use diesel::prelude::*;
use diesel::sql_types::Text;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
struct CatalogColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    nullable: String,
}

/// Table → its columns (name, portable type, nullable), in order.
type Catalog = BTreeMap<String, Vec<(String, String, bool)>>;

fn catalog(conn: &mut DbConnection) -> Catalog {
    let query = match conn.backend() {
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type, \
             CASE WHEN p.\"notnull\" = 0 AND p.pk = 0 THEN 'YES' ELSE 'NO' END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations' \
             ORDER BY m.name, p.cid"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             data_type::text AS data_type, is_nullable::text AS nullable \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations' \
             ORDER BY table_name, ordinal_position"
        }
    };
    let rows: Vec<CatalogColumn> = diesel::sql_query(query).load(conn).unwrap();
    let mut catalog = Catalog::new();
    for row in rows {
        let portable = match row.data_type.to_ascii_lowercase().as_str() {
            "timestamp" | "timestamp without time zone" => "timestamp".to_owned(),
            other => other.to_owned(),
        };
        catalog.entry(row.table_name).or_default().push((
            row.column_name,
            portable,
            row.nullable == "YES",
        ));
    }
    catalog
}

/// The columns each `table!` declares, read from the SQL diesel writes.
fn declared() -> BTreeMap<String, Vec<String>> {
    macro_rules! columns {
        ($($table:ident),* $(,)?) => {{
            let mut map = BTreeMap::new();
            $(
                let sql = diesel::debug_query::<diesel::sqlite::Sqlite, _>(
                    &$table::table.select($table::all_columns),
                ).to_string();
                let list = sql.trim_start_matches("SELECT ").split(" FROM ").next().unwrap().to_owned();
                let names = list
                    .split(", ")
                    .map(|c| c.rsplit('.').next().unwrap().trim_matches('`').to_owned())
                    .collect();
                map.insert(stringify!($table).to_owned(), names);
            )*
            map
        }};
    }
    columns!(
        organizations,
        creches,
        users,
        creche_coordinators,
        api_clients,
        reference_counters,
        referrals,
        referral_families,
        referral_children,
        referral_events,
        login_throttle,
        referral_child_claims,
        referral_follow_ups,
        referral_enrollments,
        sla_policies,
        notifications,
        creche_capacity,
        place_bookings,
        place_steps,
        planned_exits,
        exit_outcomes,
        indicator_days,
        referral_tallies,
        indicator_state,
        creche_closures,
        referral_needs,
        service_keys,
        evaluation_exports,
        evaluation_export_creches,
        access_log,
        access_log_referrals,
        web_sessions,
        identity_epoch,
        webhooks,
        webhook_deliveries,
        notification_preferences,
        digest_items,
        oidc_attempts,
        job_marks,
        freed_places,
        meeting_slots,
        meeting_invitations,
        imports,
    )
}

fn migrated(db: &TestDatabase) -> DbConnection {
    let mut conn = db.connect();
    migrations::run_pending(&mut conn).unwrap();
    conn
}

#[test]
fn the_diesel_schema_matches_the_migrated_database() {
    let db = TestDatabase::new();
    let catalog = catalog(&mut migrated(&db));
    let from_catalog: BTreeMap<String, Vec<String>> = catalog
        .iter()
        .map(|(table, columns)| (table.clone(), columns.iter().map(|c| c.0.clone()).collect()))
        .collect();
    assert_eq!(
        from_catalog,
        declared(),
        "db/src/schema.rs and the migrations disagree"
    );
}

#[test]
fn both_backends_have_the_same_tables_and_columns() {
    let sqlite_file = tempfile::tempdir().unwrap();
    let sqlite_url = sqlite_file
        .path()
        .join("parity.db")
        .to_string_lossy()
        .into_owned();
    let mut sqlite = avip_db::connect(&sqlite_url).unwrap();
    migrations::run_pending(&mut sqlite).unwrap();
    let db = TestDatabase::new();
    if db.backend != Backend::Postgres {
        eprintln!(
            "set AVIP_TEST_DATABASE_URL=postgres://… to compare with PostgreSQL (scripts/test does)"
        );
        return;
    }
    assert_eq!(catalog(&mut sqlite), catalog(&mut migrated(&db)));
}

#[test]
fn every_migration_goes_up_down_and_up_again() {
    let db = TestDatabase::new();
    let mut conn = migrated(&db);
    let before = catalog(&mut conn);
    assert!(before.len() >= 10, "{before:?}");
    let reverted = migrations::revert_all(&mut conn).unwrap();
    assert!(!reverted.is_empty());
    assert_eq!(
        catalog(&mut conn),
        Catalog::new(),
        "down.sql leaves tables behind"
    );
    assert!(migrations::has_pending(&mut conn).unwrap());
    let applied = migrations::run_pending(&mut conn).unwrap();
    assert_eq!(applied.len(), reverted.len());
    assert_eq!(catalog(&mut conn), before);
    assert!(!migrations::has_pending(&mut conn).unwrap());
}

#[test]
fn foreign_keys_are_enforced() {
    use diesel::connection::SimpleConnection;
    let db = TestDatabase::new();
    let mut conn = migrated(&db);
    let orphan = conn.batch_execute(
        "INSERT INTO creches (id, operator_id, name, address, postal_code, commune, \
         opening_hours, created_at, updated_at) VALUES ('c1', 'no-such-org', 'X', 'Y', '83000', \
         'Toulon', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    );
    assert!(orphan.is_err(), "a crèche without its operator was stored");
}

#[derive(QueryableByName)]
struct CompileOption {
    #[diesel(sql_type = Text)]
    compile_options: String,
}

/// The bundled SQLite is built with the query planner stability guarantee
/// (`.cargo/config.toml`): without it, every statement with a `LIMIT ?`
/// is prepared again on each use.
#[test]
fn sqlite_plans_do_not_depend_on_bound_values() {
    let db = TestDatabase::new();
    if db.backend != Backend::Sqlite {
        return;
    }
    let options: Vec<CompileOption> = diesel::sql_query("PRAGMA compile_options")
        .load(&mut db.connect())
        .unwrap();
    assert!(
        options.iter().any(|o| o.compile_options == "ENABLE_QPSG"),
        "SQLite was built without SQLITE_ENABLE_QPSG (LIBSQLITE3_FLAGS in .cargo/config.toml)"
    );
}

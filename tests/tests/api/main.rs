//! Black-box tests of the service: the real application over real HTTP on a
//! fresh database (SQLite, or PostgreSQL when `AVIP_TEST_DATABASE_URL` is set).

mod arrival;
mod backup;
mod calendars;
mod data_protection;
mod errors;
mod evaluation;
mod exports;
mod family;
mod faults;
mod hardening;
mod identity;
mod imports;
mod layers;
mod limits;
mod lists;
mod meetings;
mod meta;
mod metrics;
mod partners;
mod places;
mod referrals;
mod reports;
mod schema;
mod sla;
mod sums;
mod territory;
mod transfers;
mod webhooks;
mod week;
mod workspace;
mod writes;

//! The HTTP layer: every route of the service, registered through
//! utoipa-actix-web so that the OpenAPI document is collected from the same
//! registrations. A handler extracts, calls one use case of
//! `avip_app::workflow`, and renders; `error` maps what a use case refuses to
//! problem+json in one place.

use utoipa_actix_web::{scope, service_config::ServiceConfig};

pub mod api_clients;
pub mod auth;
pub mod closures;
pub mod creches;
pub mod data_inclusion;
pub mod data_protection;
pub mod error;
pub mod exits;
pub mod exports;
pub mod extract;
pub mod family;
pub mod imports;
pub mod matching;
pub mod meetings;
pub mod meta;
pub mod openapi;
pub mod organizations;
pub mod page;
pub mod places;
pub mod preferences;
pub mod referrals;
pub mod reports;
pub mod responses;
pub mod schema_rules;
pub mod sla;
pub mod users;
pub mod waiting_list;
pub mod webhooks;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(meta::health)
        .service(meta::ready)
        .service(meta::openapi_json)
        .service(meta::metrics)
        .service(meta::docs_redirect);
    cfg.service(
        scope::scope("/api/v1")
            .service(auth::token)
            .service(auth::me)
            .service(preferences::read)
            .service(preferences::replace)
            .service(organizations::list)
            .service(organizations::create)
            .service(organizations::get_one)
            .service(organizations::update)
            .service(creches::list)
            .service(creches::create)
            .service(creches::get_one)
            .service(creches::update)
            .service(places::creche_availability)
            .service(places::territory_availability)
            .service(matching::match_availability)
            .service(places::capacity)
            .service(places::change_capacity)
            .service(closures::list)
            .service(closures::create)
            .service(closures::remove)
            .service(users::list)
            .service(users::create)
            .service(users::update)
            .service(users::sign_out_everywhere)
            .service(api_clients::list)
            .service(api_clients::create)
            .service(api_clients::disable)
            .service(referrals::create)
            .service(referrals::list)
            // Before `/referrals/{id}`, which would take `changes` for an id.
            .service(referrals::changes)
            .service(referrals::get_one)
            .service(data_protection::personal_data)
            .service(data_protection::erasure)
            .service(data_protection::access_log)
            .service(referrals::transitions)
            .service(referrals::transfer)
            .service(family::send)
            .service(family::list)
            .service(family::contact_preference)
            .configure(imports::routes)
            .service(meetings::propose)
            .service(meetings::list)
            .service(meetings::remove)
            .service(meetings::invite)
            .service(meetings::revoke)
            .service(meetings::record)
            .service(waiting_list::show)
            .service(referrals::events)
            .service(referrals::notes)
            .service(referrals::follow_ups)
            .service(referrals::create_follow_up)
            .service(referrals::create_enrollment)
            .service(referrals::update_enrollment)
            .service(exits::create_exit)
            .service(exits::cancel_exit)
            .service(exits::correct_exit)
            .service(exits::record_outcome)
            .service(exits::list_outcomes)
            .configure(exports::routes)
            .configure(reports::routes)
            .service(sla::overdue)
            .service(sla::policy)
            .service(data_inclusion::services)
            .service(webhooks::list)
            .service(webhooks::create)
            .service(webhooks::update)
            .service(webhooks::remove)
            .service(webhooks::deliveries)
            .service(webhooks::retry),
    );
}

//! Every route of the service, registered through utoipa-actix-web so that
//! the OpenAPI document is collected from the same registrations.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod meta;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(meta::health)
        .service(meta::ready)
        .service(meta::openapi_json)
        .service(meta::docs_redirect);
}

//! The OpenAPI description, collected from the route registrations, and the
//! offline Swagger UI page.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::http::error::{FieldError, ProblemDocument};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "AVIP referral tracking",
        description = "System of record for referrals of job-seeking parents to crèches à vocation \
            d'insertion professionnelle (AVIP): intake from prescribers, the coordinators' workflow, \
            SLA escalation and CAF evaluation exports.\n\nErrors are `application/problem+json` \
            (RFC 9457) with a stable `code` and the invalid fields in `errors[]`.",
        license(name = "AGPL-3.0-or-later", identifier = "AGPL-3.0-or-later"),
    ),
    components(schemas(ProblemDocument, FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "meta", description = "Liveness, readiness and this description"),
        (name = "auth", description = "Access tokens (OAuth 2.0 password and client-credentials grants) and who am I"),
        (name = "organizations", description = "Organisations (admins)"),
        (name = "creches", description = "Crèches and their AVIP places"),
        (name = "users", description = "People (admins)"),
        (name = "api-clients", description = "Machine identities (admins)"),
        (name = "sla", description = "The SLA engine: what needs attention now and the policy in force"),
    ),
)]
struct ApiDoc;

/// Every `/api/v1` operation but the token request takes a bearer token.
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("A token from POST /api/v1/auth/token"))
                    .build(),
            ),
        );
    }
}

/// The document as the running service serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::http::configure)
        .split_for_parts();
    doc
}

/// The document as it is checked in: pretty JSON with a final newline.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// Swagger UI at `/docs/`, its JavaScript and CSS compiled into the binary.
pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
        .config(utoipa_swagger_ui::Config::new(["/openapi.json"]))
}

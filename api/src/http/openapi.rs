//! The OpenAPI description, collected from the route registrations, and the
//! offline Swagger UI page.

use actix_web::App;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;

use crate::http::error::{FieldError, PROBLEM_JSON, ProblemDocument};

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
    modifiers(&OAuth2Tokens),
    tags(
        (name = "meta", description = "Liveness, readiness and this description"),
        (name = "auth", description = "Access tokens (OAuth 2.0 password and client-credentials grants) and who am I"),
        (name = "organizations", description = "Organisations (admins)"),
        (name = "creches", description = "Crèches and their AVIP places"),
        (name = "users", description = "People (admins)"),
        (name = "api-clients", description = "Machine identities (admins)"),
        (name = "referrals", description = "Referrals: intake from prescribers, the coordinators' workflow, the timeline, follow-ups, enrollment and exit"),
        (name = "imports", description = "Spreadsheet imports: a crèche's CSV, XLSX or ODS read, mapped, checked and corrected, then committed in one transaction"),
        (name = "meetings", description = "First meetings: the crèche's slots, the invitation a family books through without an account, and what became of the meeting"),
        (name = "places", description = "AVIP places: availability day by day and the dated capacity of each crèche"),
        (name = "exports", description = "The CAF's evaluation: pseudonymised rows and indicators (CSV, XLSX, JSON)"),
        (name = "sla", description = "The SLA engine: what needs attention now and the policy in force"),
        (name = "webhooks", description = "Subscriptions to referral events, delivered signed per the Standard Webhooks specification, and each delivery's attempts"),
        (name = "data-inclusion", description = "The AVIP places published in the data·inclusion schema, for the inclusion offer's directories (public, no personal data)"),
    ),
)]
struct ApiDoc;

/// Every `/api/v1` operation but the token request takes a bearer token
/// from `POST /api/v1/auth/token`: people with the password grant, API
/// clients with the client-credentials grant.
struct OAuth2Tokens;

impl utoipa::Modify for OAuth2Tokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ClientCredentials, Flow, OAuth2, Password, Scopes, SecurityScheme,
        };
        const TOKEN_URL: &str = "/api/v1/auth/token";
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::with_description(
                [
                    Flow::Password(Password::new(TOKEN_URL, Scopes::new())),
                    Flow::ClientCredentials(ClientCredentials::new(TOKEN_URL, Scopes::new())),
                ],
                "Short-lived JWT access tokens, sent as `Authorization: Bearer <token>`",
            )),
        );
    }
}

/// The operations anyone may call, without a token.
const PUBLIC: &[&str] = &[
    "getHealth",
    "getReadiness",
    "getOpenApiDocument",
    "openDocs",
    "requestToken",
];

/// The operations any authenticated caller may use.
const EVERY_ROLE: &[&str] = &["getMe", "getSlaPolicy"];

/// The operations that answer without the database.
const NO_DATABASE: &[&str] = &["getHealth", "getOpenApiDocument", "openDocs"];

/// The problem answers, once each: (status, component name, description).
const PROBLEMS: &[(&str, &str, &str)] = &[
    (
        "400",
        "BadRequest",
        "A malformed query or body; `errors[]` names the field.",
    ),
    (
        "401",
        "Unauthorized",
        "No token, or an invalid, expired or revoked one.",
    ),
    (
        "403",
        "Forbidden",
        "The caller's role may never do this (or not over this scope).",
    ),
    (
        "404",
        "NotFound",
        "No such resource, or not the caller's to see.",
    ),
    (
        "413",
        "PayloadTooLarge",
        "The body is larger than the service accepts.",
    ),
    (
        "415",
        "UnsupportedMediaType",
        "The body is not `application/json`.",
    ),
    (
        "422",
        "Unprocessable",
        "Fields are invalid; `errors[]` names each one.",
    ),
    (
        "503",
        "Unavailable",
        "The database cannot be reached now (`database_unavailable`); try again.",
    ),
];

/// Documents on every operation the problem answers it can give, as the
/// service gives them: 400 where it reads a query or a body, 401 where it
/// takes a token, 404 where the path names a resource, 413, 415 and 422
/// where it reads a JSON body, 503 where it reads the database.
fn document_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    let components = doc.components.get_or_insert_with(Default::default);
    for (_, name, description) in PROBLEMS {
        let response = ResponseBuilder::new()
            .description(*description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ProblemDocument")))
                    .build(),
            )
            .build();
        components
            .responses
            .insert((*name).to_owned(), RefOr::T(response));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let id = operation.operation_id.clone().unwrap_or_default();
            let json_body = operation
                .request_body
                .as_ref()
                .is_some_and(|b| b.content.contains_key("application/json"));
            let reads_query = operation.parameters.as_ref().is_some_and(|p| {
                p.iter()
                    .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
            });
            let applies = |status: &str| match status {
                "400" => json_body || reads_query,
                "401" => !PUBLIC.contains(&id.as_str()),
                "403" => !PUBLIC.contains(&id.as_str()) && !EVERY_ROLE.contains(&id.as_str()),
                "404" => path.contains('{'),
                "413" | "415" | "422" => json_body,
                "503" => !NO_DATABASE.contains(&id.as_str()),
                _ => false,
            };
            for (status, name, _) in PROBLEMS {
                if applies(status) {
                    operation
                        .responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
                }
            }
        }
    }
}

/// `createReferral` leads to the operations on the referral it created.
fn link_created_referral(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::link::LinkBuilder;
    let follow = [
        ("getReferral", "The referral as it stands"),
        (
            "transitionReferral",
            "Answer the family or move the referral on",
        ),
        ("listReferralEvents", "Its timeline"),
        ("addReferralNote", "A note on its timeline"),
        ("listFollowUps", "The follow-ups of the parent's path"),
        ("addFollowUp", "Record a follow-up"),
        ("enrollChild", "Enroll the child once a place is offered"),
        ("updateEnrollment", "Renew or amend the contract"),
        ("recordExit", "Record the exit, or plan it"),
        ("cancelPlannedExit", "Cancel a planned exit"),
        ("correctExit", "Correct a recorded exit"),
    ];
    let Some(create) = doc
        .paths
        .paths
        .get_mut("/api/v1/referrals")
        .and_then(|item| item.post.as_mut())
    else {
        return;
    };
    for status in ["200", "201"] {
        if let Some(RefOr::T(response)) = create.responses.responses.get_mut(status) {
            for (operation, description) in follow {
                let link = LinkBuilder::new()
                    .operation_id(operation)
                    .parameter("id", "$response.body#/id")
                    .description(description)
                    .build();
                response.links.insert(operation.to_owned(), RefOr::T(link));
            }
        }
    }
}

/// The document as the running service serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::http::configure)
        .split_for_parts();
    document_problems(&mut doc);
    link_created_referral(&mut doc);
    refer_list_items(&mut doc);
    doc
}

/// utoipa writes the items of a generic `List<T>` inline; a list refers to
/// `T`'s own schema instead, so that generated clients share one type.
fn refer_list_items(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    use utoipa::openapi::{Ref, RefOr};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for (name, schema) in components.schemas.iter_mut() {
        let Some(item) = name.strip_prefix("List_") else {
            continue;
        };
        if !names.iter().any(|n| n == item) {
            continue;
        }
        if let RefOr::T(Schema::Object(list)) = schema
            && let Some(RefOr::T(Schema::Array(items))) = list.properties.get_mut("items")
        {
            items.items =
                ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
        }
    }
}

/// The document as it is served and checked in: pretty JSON with a final
/// newline. utoipa 5.5 writes a link's `operationId` as `operation_id` (its
/// `Link` lacks the camel-case renaming its other objects have); no other
/// object of the document has a field of that name, so it is renamed here.
///
/// The rules of [`super::schema_rules`] are written in last, on the JSON.
pub fn document_json() -> String {
    let json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    let json = json.replace("\"operation_id\": ", "\"operationId\": ");
    let mut doc: serde_json::Value =
        serde_json::from_str(&json).expect("the OpenAPI document is JSON");
    super::schema_rules::write(&mut doc);
    let mut json = serde_json::to_string_pretty(&doc).expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// Swagger UI at `/docs/`, its JavaScript and CSS compiled into the binary.
pub fn swagger_ui() -> utoipa_swagger_ui::SwaggerUi {
    utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
        // No outside validator: the page works offline and sends the
        // document's address nowhere.
        .config(utoipa_swagger_ui::Config::new(["/openapi.json"]).validator_url("none"))
}

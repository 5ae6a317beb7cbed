//! Extractors: the caller (a valid token of an active identity), and
//! bodies and queries whose every failure is a problem naming the field.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::de::DeserializeOwned;

use crate::http::error::{ApiError, FieldError, Problem};
use crate::shared::State;
use avip_app::auth::cache::Known;
use avip_app::auth::principal::Issued;
use avip_app::auth::{Principal, Subject};
use avip_app::domain::input::{self, describe};

/// Largest JSON body accepted: a referral is a few kilobytes.
pub const JSON_LIMIT: usize = 256 * 1024;

/// A JSON body. Malformed JSON is `400 invalid_json`; a wrong type, an
/// unknown enum value or a missing field is `422 validation_failed` naming
/// the field; another media type is `415`; more than [`JSON_LIMIT`] bytes `413`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let media_type_ok = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !media_type_ok {
                return Err(ApiError::Status(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Problem::new(
                        "unsupported_media_type",
                        "send the body as application/json",
                    ),
                ));
            }
            let bytes = body.await.map_err(|e| {
                if e.as_response_error().status_code() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::Status(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        Problem::new(
                            "payload_too_large",
                            format!("the request body is larger than {JSON_LIMIT} bytes"),
                        ),
                    )
                } else {
                    ApiError::BadRequest(Problem::new(
                        "bad_request",
                        format!("the body could not be read: {e}"),
                    ))
                }
            })?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        // curl -d sends form encoding unless told otherwise; a missing type is
        // read as JSON rather than refused.
        return true;
    };
    let Ok(text) = value.to_str() else {
        return false;
    };
    let essence = text
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserialises `bytes`, naming the path of whatever does not fit.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    match parse_json_once(bytes) {
        // JSON Schema's `integer` is any number without a fraction: `2.0`
        // is one. Read again with such numbers written as integers.
        Err(ApiError::Unprocessable(problem))
            if problem
                .errors
                .iter()
                .any(|e| e.message.starts_with("invalid type: floating point")) =>
        {
            match integral_numbers_as_integers(bytes).and_then(|v| serde_json::to_vec(&v).ok()) {
                Some(normalized) if normalized != bytes => parse_json_once(&normalized),
                _ => Err(ApiError::Unprocessable(problem)),
            }
        }
        other => other,
    }
}

fn parse_json_once<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    refuse_control_characters(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::BadRequest(
                Problem::new(
                    "invalid_json",
                    format!("the body is not valid JSON: {inner}"),
                )
                .with_errors(vec![FieldError::new("body", inner.to_string())]),
            );
        }
        let message = inner.to_string();
        if message.starts_with("unknown variant") {
            // Name every unknown value, not only the first serde met.
            if let Some(errors) = every_unknown_variant::<T>(bytes) {
                return ApiError::validation(errors);
            }
        }
        let (field, message) = describe(&path, &message);
        ApiError::validation(vec![FieldError::new(field, message)])
    })?;
    deserializer.end().map_err(|e| {
        ApiError::BadRequest(Problem::new(
            "invalid_json",
            format!("trailing characters after the JSON value: {e}"),
        ))
    })?;
    // serde reads a struct from an array too, field by field in order:
    // every body of this API is an object, and an array is refused.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::validation(vec![FieldError::new(
            "body",
            "must be a JSON object",
        )]));
    }
    Ok(value)
}

/// The body with every number that has no fraction (`2.0`, `1e3`) written
/// as an integer, if it is JSON.
fn integral_numbers_as_integers(bytes: &[u8]) -> Option<serde_json::Value> {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Number(n) if n.is_f64() => {
                if let Some(f) = n.as_f64()
                    && f.fract() == 0.0
                    && f.abs() < 9.0e15
                {
                    // Exact: |f| < 2^53.
                    *value = serde_json::Value::from(f as i64);
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    walk(&mut value);
    Some(value)
}

/// A JSON body whose texts hold a control character is refused before it
/// is read, every such field named (see [`input`]).
fn refuse_control_characters(bytes: &[u8]) -> Result<(), ApiError> {
    if !input::json_may_hold_refused(bytes) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        // Not JSON: the parse says so.
        return Ok(());
    };
    let fields = input::refused_in_json(&value);
    if fields.is_empty() {
        return Ok(());
    }
    Err(ApiError::validation(
        fields
            .into_iter()
            .map(|field| FieldError::new(field, input::REFUSAL))
            .collect(),
    ))
}

/// A query string whose names or values hold a control character.
pub fn refused_query(query: &str) -> Option<ApiError> {
    let pairs: Vec<_> = form_urlencoded::parse(query.as_bytes()).collect();
    let field = input::first_refused_pair(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))?;
    Some(ApiError::BadRequest(
        Problem::new("invalid_query", format!("{field}: {}", input::REFUSAL))
            .with_errors(vec![FieldError::new(field, input::REFUSAL)]),
    ))
}

/// Reads the body again, each unknown enum value replaced in turn by a
/// known one, so that every field holding an unknown value is named (and
/// then the first other problem, if any). `None` if the body is not JSON.
fn every_unknown_variant<T: DeserializeOwned>(bytes: &[u8]) -> Option<Vec<FieldError>> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let mut errors = Vec::new();
    // A bound on the passes: a body has at most a few dozen enum fields.
    for _ in 0..64 {
        let Err(err) = serde_path_to_error::deserialize::<_, T>(&value) else {
            break;
        };
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let (field, text) = describe(&path, &message);
        errors.push(FieldError::new(field, text));
        let known = message
            .split('`')
            .nth(3)
            .filter(|_| message.starts_with("unknown variant"));
        match (known, value.pointer_mut(&pointer(&path))) {
            (Some(known), Some(slot)) => *slot = serde_json::Value::String(known.to_owned()),
            _ => break,
        }
    }
    Some(errors)
}

/// `children[0].birth_date` as a JSON pointer: `/children/0/birth_date`.
fn pointer(path: &str) -> String {
    let mut pointer = String::new();
    for part in path.split('.').filter(|p| !p.is_empty() && *p != "?") {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            pointer.push('/');
            pointer.push_str(&rest[..i].replace('~', "~0").replace('/', "~1"));
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                pointer.push('/');
                pointer.push_str(&rest[1..end]);
                rest = &rest[end + 1..];
            }
        } else {
            pointer.push('/');
            pointer.push_str(&rest.replace('~', "~0").replace('/', "~1"));
        }
    }
    pointer
}

/// The query string, read with the same naming of the failing parameter.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(refused) = refused_query(req.query_string()) {
            return std::future::ready(Err(refused));
        }
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(
            req.query_string().as_bytes(),
        ));
        std::future::ready(
            serde_path_to_error::deserialize(deserializer)
                .map(ApiQuery)
                .map_err(|err| {
                    let path = err.path().to_string();
                    let (field, message) = describe(&path, &err.into_inner().to_string());
                    ApiError::BadRequest(
                        Problem::new("invalid_query", format!("{field}: {message}"))
                            .with_errors(vec![FieldError::new(field, message)]),
                    )
                }),
        )
    }
}

/// The caller of every `/api/v1` operation but the token and the public ones.
fn unauthorized(detail: &str) -> ApiError {
    ApiError::Unauthorized(Problem::new("unauthorized", detail))
}

/// The caller of an operation, authenticated by its bearer token: handlers
/// take `Bearer(who): Bearer`.
pub struct Bearer(pub Principal);

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_owned());
        let state = req.app_data::<State>().cloned();
        let req = req.clone();
        Box::pin(async move {
            let token = token.ok_or_else(|| {
                unauthorized("send an access token: Authorization: Bearer <token>")
            })?;
            let state = state.ok_or_else(|| {
                ApiError::Unexpected(anyhow::anyhow!("the application state is not configured"))
            })?;
            let claims = state.keys.verify(&token).map_err(|e| {
                tracing::info!(reason = %e, "token refused");
                unauthorized("the access token is invalid or expired")
            })?;
            let subject = Subject::from_claim(&claims.sub)
                .ok_or_else(|| unauthorized("the access token is invalid"))?;
            let known = match state.identities.get(&subject) {
                Some(known) => Some(known),
                None => {
                    let ticket = state.identities.ticket();
                    let loaded = state
                        .run(move |conn| Known::load(conn, subject))
                        .await?
                        .map(Arc::new);
                    if let Some(known) = &loaded {
                        state.identities.keep(ticket, known.clone());
                    }
                    loaded
                }
            };
            let issued = Issued {
                at: claims.iat,
                version: claims.ver,
            };
            let known = known.filter(|known| !known.revoked(issued)).ok_or_else(|| {
                unauthorized(
                    "this identity is disabled, no longer exists, or its password changed or it was signed out everywhere since the token was issued",
                )
            })?;
            let principal = known.principal.clone();
            req.extensions_mut().insert(known);
            Ok(Bearer(principal))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::ResponseError;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        kind: Kind,
        parent: Parent,
    }
    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        FranceTravail,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Parent {
        name: String,
        children: Vec<u8>,
    }

    fn field_of(json: &str) -> (StatusCode, String, String) {
        let err = parse_json::<Body>(json.as_bytes()).unwrap_err();
        let status = err.status_code();
        match err {
            ApiError::BadRequest(p) | ApiError::Unprocessable(p) => (
                status,
                p.errors[0].field.clone(),
                p.errors[0].message.clone(),
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        assert_eq!(field_of("{\"kind\": ").0, StatusCode::BAD_REQUEST);
        assert_eq!(field_of("not json").0, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn each_kind_of_mismatch_names_its_field() {
        let (status, field, message) = field_of(r#"{"kind": "france_travail"}"#);
        assert_eq!(
            (status, field.as_str(), message.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "parent", "is required")
        );
        let (_, field, _) = field_of(r#"{"kind": "france_travail", "parent": {"children": []}}"#);
        assert_eq!(field, "parent.name");
        let (_, field, message) = field_of(r#"{"kind": "pole_emploi", "parent": {}}"#);
        assert_eq!(field, "kind");
        assert!(
            message.contains("unknown variant `pole_emploi`"),
            "{message}"
        );
        let (_, field, _) = field_of(
            r#"{"kind": "france_travail", "parent": {"name": "A", "children": [1, "x"]}}"#,
        );
        assert_eq!(field, "parent.children[1]");
        let (_, field, _) = field_of(r#"{"kind": "france_travail", "colour": 1}"#);
        assert_eq!(field, "colour");
        let (_, field, _) = field_of("[]");
        assert_eq!(field, "body");
    }

    #[test]
    fn every_unknown_enum_value_is_named() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Many {
            kind: Kind,
            kinds: Vec<Kind>,
            nested: Nested,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Nested {
            kind: Kind,
        }
        let err = parse_json::<Many>(
            br#"{"kind": "pole_emploi", "kinds": ["france_travail", "x"], "nested": {"kind": "y"}}"#,
        )
        .unwrap_err();
        let ApiError::Unprocessable(problem) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["kind", "kinds[1]", "nested.kind"]);
        assert!(problem.errors[1].message.contains("unknown variant `x`"));
        // An unknown value and a missing field: both named.
        let err = parse_json::<Many>(br#"{"kind": "z", "kinds": []}"#).unwrap_err();
        let ApiError::Unprocessable(problem) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["kind", "nested"]);
    }

    #[test]
    fn paths_become_json_pointers() {
        assert_eq!(pointer("children[0].birth_date"), "/children/0/birth_date");
        assert_eq!(pointer("parent.situation"), "/parent/situation");
        assert_eq!(pointer("a[1][2]"), "/a/1/2");
    }

    #[test]
    fn an_array_is_not_an_object_even_where_every_field_is_optional() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Patch {
            name: Option<String>,
            departement: Option<String>,
        }
        let err = parse_json::<Patch>(b"[null, null]").unwrap_err();
        assert_eq!(err.status_code(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(parse_json::<Patch>(b" {\"name\": null}").is_ok());
    }
}

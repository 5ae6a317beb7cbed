//! What the two front-ends (`http`, the JSON API, and `web`, the pages)
//! share without importing each other: the state they extract, the client
//! address the rate limits count, each request's log span. It imports
//! neither front-end.

pub mod about;
pub mod charts;
pub mod request_span;
pub mod state;
pub mod upload;

pub use about::About;
pub use state::{Front, State, WebSettings};

use std::net::IpAddr;

use actix_web::{HttpMessage, HttpRequest};
use avip_app::auth::Principal;
use avip_app::limits::Limits;
use avip_db::model::ReferralId;

/// The client's address: the peer, or behind a trusted proxy the address
/// it forwards (see [`Limits::client_address`]).
pub fn client_address(limits: &Limits, req: &HttpRequest) -> IpAddr {
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    limits.client_address(req.peer_addr().map(|a| a.ip()), forwarded)
}

/// The id `tracing-actix-web` gave this request (its log lines carry it).
pub fn request_id(req: &HttpRequest) -> Option<String> {
    req.extensions()
        .get::<tracing_actix_web::RequestId>()
        .map(|id| id.to_string())
}

/// Records in the access log that `who` read these referrals' personal data.
pub fn record_read<'a>(
    req: &HttpRequest,
    state: &State,
    who: &Principal,
    referrals: impl IntoIterator<Item = &'a ReferralId>,
    operation: &'static str,
) {
    let request_id = request_id(req);
    state.access.record(
        who,
        referrals,
        avip_app::access_log::Operation {
            name: operation,
            request_id: request_id.as_deref(),
        },
    );
}

/// A file built whole (the indicators, a bilan) as the response: its type,
/// and `Content-Disposition: attachment` under its name when it has one.
pub fn download(file: avip_app::workflow::exports::Download) -> actix_web::HttpResponse {
    let mut response = actix_web::HttpResponse::Ok();
    response.content_type(file.content_type);
    if let Some(name) = &file.file_name {
        response.insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        ));
    }
    response.body(file.bytes)
}

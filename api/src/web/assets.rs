//! The workspace's static files, embedded in the binary.

use actix_web::{HttpResponse, web};

use crate::web::WebError;

const HTMX: &[u8] = include_bytes!("../../assets/htmx-2.0.11.min.js");
const CSS: &[u8] = include_bytes!("../../assets/app.css");
const KEEP: &[u8] = include_bytes!("../../assets/keep-1.js");

/// `GET /app/static/{file}`: versioned names, cached for a day.
pub async fn serve(file: web::Path<String>) -> Result<HttpResponse, WebError> {
    let (body, content_type) = match file.as_str() {
        "htmx-2.0.11.min.js" => (HTMX, "text/javascript; charset=utf-8"),
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "keep-1.js" => (KEEP, "text/javascript; charset=utf-8"),
        _ => return Err(WebError::NotFound),
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(body))
}

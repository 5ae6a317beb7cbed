//! Pieces shared by the list endpoints.

use avip_db::page::{Page, PageRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, FieldError, Problem};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Deserialize, IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<PageRequest, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::BadRequest(
                Problem::new(
                    "invalid_query",
                    format!("limit must be between 1 and {MAX_LIMIT}"),
                )
                .with_errors(vec![FieldError::new(
                    "limit",
                    format!("must be between 1 and {MAX_LIMIT}"),
                )]),
            ));
        }
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(
                uuid::Uuid::parse_str(c)
                    .map(|u| u.to_string())
                    .map_err(|_| {
                        ApiError::BadRequest(
                            Problem::new("invalid_query", "cursor is not one this service gave")
                                .with_errors(vec![FieldError::new(
                                    "cursor",
                                    "is not a cursor this service gave",
                                )]),
                        )
                    })?,
            ),
        };
        Ok(PageRequest { after, limit })
    }
}

/// Every list: a page of items and the cursor of the next page (`null` on
/// the last one).
#[derive(Serialize, ToSchema)]
pub struct List<T: ToSchema> {
    pub items: Vec<T>,
    #[schema(example = json!(null))]
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> List<T> {
    pub fn from_page<R>(page: Page<R>, f: impl FnMut(R) -> T) -> List<T> {
        let page = page.map(f);
        List {
            items: page.items,
            next_cursor: page.next_cursor,
        }
    }
}

/// Reads an id from the path; anything but a UUID cannot exist: 404.
pub fn path_id<T>(raw: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(raw).ok_or_else(|| ApiError::not_found("no such resource"))
}

pub fn time(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    avip_db::model::from_db_time(t)
}

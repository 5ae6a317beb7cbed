//! Paged lists: the one query of every list (`limit`, `cursor`), its one
//! parser, and the `{"items": …, "next_cursor": …}` shape.

use avip_db::page::{Page, PageRequest, TimeCursor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use avip_app::domain::DomainError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// A page of a list in id order.
#[derive(Deserialize, IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(format = Uuid)]
    pub cursor: Option<String>,
}

/// A page of a list in time order (a timeline).
#[derive(Deserialize, IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct TimePageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^[0-9]{1,18}\\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    pub cursor: Option<String>,
}

/// A page of what needs attention.
#[derive(Deserialize, IntoParams, Debug, Default)]
#[into_params(parameter_in = Query)]
pub struct OverduePageQuery {
    /// Items per page, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    #[param(
        pattern = "^[0-9]{1,18}\\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\.(first_response|follow_up|contract_end)$"
    )]
    pub cursor: Option<String>,
}

/// How a list's cursors are written: each list checks that a cursor is one
/// it gave, and gives it back in its canonical form.
#[derive(Clone, Copy, Debug)]
pub enum Cursor {
    /// Lists in id order (UUID v7).
    Id,
    /// Lists in (time, id) order.
    Time,
    /// Another form, checked by the function.
    Other(fn(&str) -> bool),
}

impl Cursor {
    fn read(self, text: &str) -> Option<String> {
        match self {
            Cursor::Id => uuid::Uuid::parse_str(text).ok().map(|u| u.to_string()),
            Cursor::Time => TimeCursor::parse(text).map(|c| c.encode()),
            Cursor::Other(valid) => valid(text).then(|| text.to_owned()),
        }
    }
}

/// The page asked for: the limit in range, the cursor one this list gave.
pub fn page_request(
    limit: Option<i64>,
    cursor: Option<&str>,
    kind: Cursor,
) -> Result<PageRequest, DomainError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(DomainError::parameter(
            "limit",
            &format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let after = cursor
        .map(|c| {
            kind.read(c).ok_or_else(|| {
                DomainError::parameter("cursor", "is not a cursor this service gave")
            })
        })
        .transpose()?;
    Ok(PageRequest { after, limit })
}

impl PageQuery {
    pub fn request(&self) -> Result<PageRequest, DomainError> {
        page_request(self.limit, self.cursor.as_deref(), Cursor::Id)
    }
}

impl TimePageQuery {
    pub fn request(&self) -> Result<PageRequest, DomainError> {
        page_request(self.limit, self.cursor.as_deref(), Cursor::Time)
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
pub fn path_id<T>(raw: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, DomainError> {
    parse(raw).ok_or(DomainError::NotFound)
}

pub fn time(t: chrono::NaiveDateTime) -> chrono::DateTime<chrono::Utc> {
    avip_db::model::from_db_time(t)
}

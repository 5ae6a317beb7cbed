//! Cursor pagination over ids that sort by creation (UUID v7).

/// Which page to read: rows after `after`, at most `limit` of them.
#[derive(Clone, Debug)]
pub struct PageRequest {
    pub after: Option<String>,
    pub limit: i64,
}

pub struct Page<T> {
    pub items: Vec<T>,
    /// The cursor of the next page; `None` on the last one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `rows` was read with `limit + 1`: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(&cursor_of)
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

/// A position in a list ordered by (time, id), written `<micros>.<id>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeCursor {
    pub at: chrono::NaiveDateTime,
    pub id: String,
}

impl TimeCursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at.and_utc().timestamp_micros(), self.id)
    }

    pub fn parse(text: &str) -> Option<TimeCursor> {
        let (micros, id) = text.split_once('.')?;
        let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
        uuid::Uuid::parse_str(id).ok()?;
        Some(TimeCursor {
            at,
            id: id.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_cursors_round_trip_and_refuse_garbage() {
        let cursor = TimeCursor {
            at: chrono::DateTime::from_timestamp_micros(1_790_000_000_123_456)
                .unwrap()
                .naive_utc(),
            id: "0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e".into(),
        };
        assert_eq!(TimeCursor::parse(&cursor.encode()), Some(cursor));
        for bad in [
            "",
            "x",
            "12.not-a-uuid",
            "abc.0193a5b0-7c1e-7d2a-9b1e-3f4a5b6c7d8e",
        ] {
            assert_eq!(TimeCursor::parse(bad), None, "{bad}");
        }
    }
}

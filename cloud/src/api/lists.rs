//! What every list of the ops API shares: one query shape (cursor, limit, total count, area
//! filters, CSV), opaque cursors, the caller's village scope intersected with the filters, and
//! the CSV writer.
//!
//! - `?cursor=` is opaque to clients: hex of a small JSON value (the last row's sort key), so a
//!   list can change its key without breaking anyone who treats it as a token. Pages answer
//!   `next_cursor` (null on the last page).
//! - `?count=true` adds `total`, the number of rows with these filters (one extra `count(*)`).
//! - `?village_code=`, `?district=`, `?state=` narrow by area (district and state through the
//!   village registry); the user's own village scope (admin-set) always applies on top.
//! - `?format=csv` answers `text/csv` with every row the filters match, up to
//!   `EXPORT_ROWS_MAX`, instead of one page. Cells that a spreadsheet would run as a formula
//!   are prefixed with `'`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ApiError, CurrentUser, SharedState};
use crate::store::console::{EXPORT_ROWS_MAX, PAGE_ROWS_MAX, VillageSet, intersect};

/// Rows of a page when no limit is given.
pub const PAGE_ROWS_DEFAULT: usize = 50;
/// Longest cursor accepted (a sort key and an id, hex-encoded).
pub const CURSOR_CHARS_MAX: usize = 1024;
/// Longest district or state filter.
pub const AREA_FILTER_CHARS_MAX: usize = 100;

/// The query of every list (each list reads the fields it knows and ignores the rest).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub cursor: Option<String>,
    pub limit: Option<usize>,
    pub count: Option<bool>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    pub village_code: Option<String>,
    pub district: Option<String>,
    pub state: Option<String>,
    /// Farmers: substring of the name or ≥ 3 digits of the phone (prefer `POST
    /// /farmers/search`, which keeps it out of URLs and logs).
    pub q: Option<String>,
    /// Fleet: `ok`, `amber`, `red`, `revoked`.
    pub status: Option<String>,
    /// Fleet: the column to sort by.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub dir: Option<String>,
    /// Alerts: `edge` or `fleet`.
    pub source: Option<String>,
    /// Alerts: only open ones.
    pub open: Option<bool>,
    /// Alerts: of one node.
    pub node_id: Option<String>,
    /// Delivery: days back (default 7).
    pub days: Option<u32>,
}

/// How a list answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
}

impl ListQuery {
    pub fn format(&self) -> Result<Format, ApiError> {
        match self.format.as_deref() {
            None | Some("json") => Ok(Format::Json),
            Some("csv") => Ok(Format::Csv),
            Some(_) => {
                Err(ApiError::bad_request("format must be json or csv").with_field("format"))
            }
        }
    }

    /// Rows to fetch: one page (plus one, to know whether another follows), or the export cap.
    pub fn fetch_rows(&self) -> Result<usize, ApiError> {
        Ok(match self.format()? {
            Format::Csv => EXPORT_ROWS_MAX,
            Format::Json => self.page_rows() + 1,
        })
    }

    pub fn page_rows(&self) -> usize {
        self.limit
            .unwrap_or(PAGE_ROWS_DEFAULT)
            .clamp(1, PAGE_ROWS_MAX)
    }

    pub fn with_total(&self) -> bool {
        self.count.unwrap_or(false)
    }

    /// The cursor's key, if any.
    pub fn cursor_value(&self) -> Result<Option<serde_json::Value>, ApiError> {
        self.cursor.as_deref().map(decode_cursor).transpose()
    }
}

/// Encode a sort key as an opaque cursor.
pub fn encode_cursor(key: &serde_json::Value) -> String {
    hex::encode(key.to_string())
}

/// Decode a cursor made by [`encode_cursor`].
pub fn decode_cursor(cursor: &str) -> Result<serde_json::Value, ApiError> {
    let bad =
        || ApiError::bad_request("cursor is not one this server gave out").with_field("cursor");
    if cursor.len() > CURSOR_CHARS_MAX {
        return Err(bad());
    }
    let bytes = hex::decode(cursor.trim()).map_err(|_| bad())?;
    serde_json::from_slice(&bytes).map_err(|_| bad())
}

/// Split `rows` (fetched with [`ListQuery::fetch_rows`]) into the page and the next cursor.
pub fn page<T>(
    mut rows: Vec<T>,
    q: &ListQuery,
    key: impl Fn(&T) -> serde_json::Value,
) -> (Vec<T>, Option<String>) {
    let n = q.page_rows();
    if rows.len() > n {
        rows.truncate(n);
        let next = rows.last().map(|r| encode_cursor(&key(r)));
        (rows, next)
    } else {
        (rows, None)
    }
}

/// The villages a list covers for this caller: the area filters of the query, within the
/// user's own scope.
pub async fn villages_for(
    state: &SharedState,
    user: &CurrentUser,
    q: &ListQuery,
) -> Result<VillageSet, ApiError> {
    let scope = state.store.user_scope(user.0.id).await?;
    let mut filter: VillageSet = None;
    if let Some(code) = &q.village_code {
        let code = farmco_sync::VillageCode::parse("village_code", code.trim())?.to_string();
        filter = Some(vec![code]);
    }
    let district = q
        .district
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let state_name = q.state.as_deref().map(str::trim).filter(|s| !s.is_empty());
    for (field, v) in [("district", district), ("state", state_name)] {
        if v.is_some_and(|v| v.chars().count() > AREA_FILTER_CHARS_MAX) {
            return Err(ApiError::bad_request(format!(
                "{field} must be at most {AREA_FILTER_CHARS_MAX} characters"
            ))
            .with_field(field));
        }
    }
    if district.is_some() || state_name.is_some() {
        let area = state.store.villages_in_area(district, state_name).await?;
        filter = intersect(filter, Some(area));
    }
    Ok(intersect(scope, filter))
}

/// Refuse access to a village outside the caller's scope (as "not found": existence is not
/// revealed).
pub fn check_in_scope(
    scope: &VillageSet,
    village: &str,
    what: &'static str,
) -> Result<(), ApiError> {
    match scope {
        Some(v) if !v.iter().any(|x| x == village) => Err(ApiError::not_found(what)),
        _ => Ok(()),
    }
}

/// A CSV document being written.
#[derive(Debug)]
pub struct Csv {
    text: String,
}

impl Csv {
    pub fn new(header: &[&str]) -> Csv {
        let mut csv = Csv {
            text: String::new(),
        };
        csv.row(header.iter().map(|h| (*h).to_owned()));
        csv
    }

    /// Append a row of cells.
    pub fn row(&mut self, cells: impl IntoIterator<Item = String>) {
        let mut first = true;
        for cell in cells {
            if !first {
                self.text.push(',');
            }
            first = false;
            self.text.push_str(&csv_cell(&cell));
        }
        self.text.push_str("\r\n");
    }

    /// The response: `text/csv`, as an attachment named `name.csv`, not cached.
    pub fn into_response(self, name: &str) -> Response {
        let mut response = (StatusCode::OK, self.text).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.csv\"")) {
            headers.insert(header::CONTENT_DISPOSITION, v);
        }
        response
    }
}

/// One CSV cell: quoted when needed (RFC 4180), and neutralized when a spreadsheet would read
/// it as a formula.
pub fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// An optional value as a CSV cell (empty when absent).
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let key = serde_json::json!(["Asha Pawar", "0b0f…"]);
        assert_eq!(decode_cursor(&encode_cursor(&key)).unwrap(), key);
        assert!(decode_cursor("zz").is_err());
        assert!(decode_cursor(&"ab".repeat(CURSOR_CHARS_MAX)).is_err());
        assert!(decode_cursor(&hex::encode("{not json")).is_err());
    }

    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+919812345678"), "'+919812345678");
        let mut csv = Csv::new(&["a", "b"]);
        csv.row(["1".to_owned(), "x\ny".to_owned()]);
        assert_eq!(csv.text, "a,b\r\n1,\"x\ny\"\r\n");
    }

    #[test]
    fn pages_cut_one_past_the_limit() {
        let q = ListQuery {
            limit: Some(2),
            ..ListQuery::default()
        };
        assert_eq!(q.fetch_rows().unwrap(), 3);
        let (rows, next) = page(vec![1, 2, 3], &q, |r| serde_json::json!(r));
        assert_eq!(rows, [1, 2]);
        assert_eq!(decode_cursor(&next.unwrap()).unwrap(), serde_json::json!(2));
        let (rows, next) = page(vec![1, 2], &q, |r| serde_json::json!(r));
        assert_eq!((rows.len(), next), (2, None));
    }
}

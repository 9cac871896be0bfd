//! `GET /tiles/{z}/{x}/{y}.mvt`: the console map's vector tiles, made by PostGIS
//! (`store::map`), limited to the caller's villages.
//!
//! Caching: the console asks for tiles with `?v=<data version>` (from `GET /api/v1/map/config`),
//! which changes whenever farms, soil tests or alerts change, so a tile may be cached privately
//! for a day; an `ETag` (hash of the bytes) lets a browser revalidate a tile fetched without a
//! version cheaply (304). Tiles are user-scoped, hence `private`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiError, CurrentUser, SharedState};
use crate::store::map::ZOOM_MAX;
use crate::store::users::Role;

/// The media type of Mapbox vector tiles.
pub const MVT_CONTENT_TYPE: &str = "application/vnd.mapbox-vector-tile";
/// Cache lifetime of a versioned tile, seconds (the URL changes when the data does).
pub const TILE_MAX_AGE_S: u32 = 86_400;

/// Parse `z`, `x` and `y.mvt` into a valid tile address.
pub fn parse_tile(z: &str, x: &str, y_mvt: &str) -> Option<(u8, u32, u32)> {
    let z: u8 = z.parse().ok().filter(|z| *z <= ZOOM_MAX)?;
    let x: u32 = x.parse().ok()?;
    let y: u32 = y_mvt.strip_suffix(".mvt")?.parse().ok()?;
    let n = 1u32 << z;
    (x < n && y < n).then_some((z, x, y))
}

pub async fn tile(
    State(state): State<SharedState>,
    user: CurrentUser,
    headers: HeaderMap,
    Path((z, x, y)): Path<(String, String, String)>,
) -> Result<Response, ApiError> {
    user.require(Role::Ops)?;
    let (z, x, y) = parse_tile(&z, &x, &y).ok_or_else(|| ApiError::not_found("tile"))?;
    let scope = state.store.user_scope(user.0.id).await?;
    let bytes = state.store.tile(z, x, y, scope.as_deref()).await?;
    let etag = format!("\"{}\"", hex::encode(&Sha256::digest(&bytes)[..12]));
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, bytes).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(MVT_CONTENT_TYPE),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("private, max-age={TILE_MAX_AGE_S}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::VARY,
        HeaderValue::from_static("Cookie, Authorization"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_addresses_are_checked() {
        assert_eq!(parse_tile("12", "2894", "1874.mvt"), Some((12, 2894, 1874)));
        assert_eq!(parse_tile("0", "0", "0.mvt"), Some((0, 0, 0)));
        assert_eq!(parse_tile("1", "2", "0.mvt"), None);
        assert_eq!(parse_tile("21", "0", "0.mvt"), None);
        assert_eq!(parse_tile("3", "1", "1.png"), None);
        assert_eq!(parse_tile("3", "-1", "1.mvt"), None);
    }
}

//! The ops console's files, embedded in the binary by `build.rs` (from `cloud/web/dist`):
//! `GET /` is the app, `GET /assets/…` its scripts, styles and MapLibre's worker. Hashed
//! asset names are cached for a year (`immutable`), `index.html` is revalidated every time,
//! and a client that accepts gzip gets the copy compressed at build time.
//!
//! A binary built without the console (no npm at build time) answers `/` with a short page
//! that says how to build it; the API works the same either way.

use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::ApiError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/console_assets.rs"));
}

/// The page served at `/` when the binary was built without the console.
pub const NOT_BUILT_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>FarmCo ops console not built</title></head><body><h1>The ops console is not built</h1>\
<p>This farmco-cloud binary was compiled without the web console. Build it with \
<code>npm ci &amp;&amp; npm run build</code> in <code>cloud/web</code>, then rebuild farmco-cloud \
(<code>./scripts/demo --cloud</code> and <code>./scripts/test</code> do both). The API under \
<code>/api/v1</code> works without it.</p></body></html>";

/// True when the binary carries the console.
pub fn console_built() -> bool {
    !embedded::ASSETS.is_empty()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" | "webmanifest" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

/// The fallback of the whole router: a console file, or the API's 404.
pub async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    let path = match uri.path() {
        "/" | "/index.html" => "/index.html",
        p => p,
    };
    let found = embedded::ASSETS.iter().find(|(p, _, _)| *p == path);
    let Some((path, bytes, gz)) = found else {
        if path == "/index.html" {
            let mut r = (StatusCode::OK, NOT_BUILT_HTML).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            return r;
        }
        return ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route").into_response();
    };
    let gzip = accepts_gzip(&headers) && gz.len() < bytes.len();
    let body: &'static [u8] = if gzip { gz } else { bytes };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    let cache = if path.starts_with("/assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            content_type("/assets/maplibre-gl-worker-x.mjs"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("/index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("/x.bin"), "application/octet-stream");
    }

    #[test]
    fn gzip_is_negotiated() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.8"),
        );
        assert!(accepts_gzip(&h));
    }
}

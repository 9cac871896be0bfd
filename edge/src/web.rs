//! The field-agent app, embedded in the binary at build time (see `edge/build.rs`) and served
//! at `/` by the node itself: the village box has no internet and no CDN.
//!
//! - `/` is `index.html`; `/sw.js`, `/manifest.webmanifest`, `/icons/…` and `/assets/…` as built.
//! - Content types by extension; hashed files under `/assets/` are `immutable` for a year, the
//!   rest (`index.html`, the service worker, the manifest) `no-cache` with an ETag, so a new
//!   build reaches the phones on their next visit.
//! - Gzip: the web build writes a `.gz` next to each compressible file; it is sent to clients
//!   that accept gzip (first paint over the village Wi-Fi).
//! - A Rust-only build (no npm, so no `edge/web/dist`) serves a page at `/` that says how to
//!   build the app.

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

/// One embedded file of the app.
#[derive(Debug)]
pub struct WebAsset {
    /// URL path, e.g. `/assets/index-3f2a1b.js`.
    pub path: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzipped, when the web build made a `.gz`.
    pub gzip: Option<&'static [u8]>,
}

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Cache lifetime of hashed assets (their name changes with their content).
const IMMUTABLE_CACHE: &str = "public, max-age=31536000, immutable";
/// Everything else is revalidated on each load (cheap: ETag → 304).
const REVALIDATE_CACHE: &str = "no-cache";

/// The page served at `/` when the binary was built without the web app.
pub const NOT_BUILT_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>FarmCo field app: not built</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto;padding:0 1em">
<h1>Web app not built</h1>
<p>This <code>farmco-edge</code> binary was compiled without the field-agent app.
Build it, then build the node again:</p>
<pre>cd edge/web &amp;&amp; npm ci &amp;&amp; npm run build
cargo build --release -p farmco-edge</pre>
<p>The API works as usual: <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"#;

/// Is the app embedded in this binary?
pub fn app_built() -> bool {
    WEB_ASSETS.iter().any(|a| a.path == "/index.html")
}

fn find(path: &str) -> Option<(usize, &'static WebAsset)> {
    let path = if path == "/" { "/index.html" } else { path };
    WEB_ASSETS.iter().enumerate().find(|(_, a)| a.path == path)
}

/// Content type by file extension.
pub fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" | "ftl" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// FNV-1a of each asset, computed once: the ETag of revalidated files.
fn etag(index: usize) -> &'static str {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    let tags = TAGS.get_or_init(|| {
        WEB_ASSETS
            .iter()
            .map(|a| {
                let mut h: u64 = 0xcbf2_9ce4_8422_2325;
                for b in a.body {
                    h ^= u64::from(*b);
                    h = h.wrapping_mul(0x0100_0000_01b3);
                }
                format!("\"{h:016x}\"")
            })
            .collect()
    });
    tags.get(index).map(String::as_str).unwrap_or("\"0\"")
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.trim().split(';');
            parts.next().is_some_and(|e| e.trim() == "gzip")
                && !parts.any(|p| p.trim().replace(' ', "") == "q=0")
        })
}

/// The embedded file at `uri`, or `None` when there is none (the caller answers 404).
pub fn serve(method: &Method, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    let path = uri.path();
    if !app_built() {
        if path == "/" || path == "/index.html" {
            let mut r = (StatusCode::SERVICE_UNAVAILABLE, NOT_BUILT_PAGE).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static(REVALIDATE_CACHE),
            );
            return Some(r);
        }
        return None;
    }
    let (index, asset) = find(path)?;
    let immutable = asset.path.starts_with("/assets/");
    let tag = etag(index);
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, content_type(asset.path))
        .header(
            header::CACHE_CONTROL,
            if immutable {
                IMMUTABLE_CACHE
            } else {
                REVALIDATE_CACHE
            },
        )
        .header(header::ETAG, tag)
        .header(header::VARY, "accept-encoding");
    if asset.path == "/sw.js" {
        // The worker controls the whole origin.
        builder = builder.header("service-worker-allowed", "/");
    }
    let not_modified = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let response = if not_modified {
        builder.status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else {
        let body = match asset.gzip {
            Some(gz) if accepts_gzip(headers) => {
                builder = builder.header(header::CONTENT_ENCODING, "gzip");
                gz
            }
            _ => asset.body,
        };
        let body = if method == Method::HEAD {
            builder = builder.header(header::CONTENT_LENGTH, body.len());
            Body::empty()
        } else {
            Body::from(body)
        };
        builder.status(StatusCode::OK).body(body)
    };
    response.ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn content_types() {
        assert_eq!(
            content_type("/assets/index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("/manifest.webmanifest"),
            "application/manifest+json"
        );
        assert_eq!(content_type("/icons/icon-192.png"), "image/png");
        assert_eq!(content_type("/x"), "application/octet-stream");
    }

    #[test]
    fn gzip_negotiation() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
    }
}

//! Console sessions: a cookie instead of a bearer token, with CSRF protection, and the security
//! headers every response carries.
//!
//! - `POST /api/v1/console/login` runs the same login as `POST /api/v1/auth/login` (rate
//!   limits, audit) and puts the session token in a cookie `farmco_session`: `HttpOnly` (no
//!   script can read it), `SameSite=Strict` (no other site's page sends it), `Path=/`, and
//!   `Secure` when the request came over HTTPS (`console.cookie_secure`). The token never
//!   reaches JavaScript. The answer carries a CSRF token instead, bound to the session.
//! - Every unsafe request (anything but GET/HEAD/OPTIONS) authenticated by the cookie must send
//!   that token in `X-CSRF-Token`, and its `Origin`, when present, must be this server: a form
//!   posted from anywhere, or a request without the header, is refused with 403
//!   `csrf_failed`. Bearer-token clients have no ambient credential and need neither.
//! - `POST /api/v1/console/logout` ends this session; `…/logout-everywhere` every session of
//!   the user (console and bearer alike).
//! - [`security_headers`]: a Content-Security-Policy without `unsafe-inline` (scripts and
//!   styles only from this origin; MapLibre's workers and images from `blob:`/`data:`; the
//!   configured base map's origin added to `connect-src`/`img-src`), no framing, no referrer,
//!   no sniffing.
//!
//! Nothing here logs a token, a password or farmer data.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::request::Parts;
use axum::http::{Extensions, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::auth_routes::{LoginRequest, login};
use super::{ApiError, ApiJson, CurrentUser, SharedState, rfc3339};
use crate::config::CookieSecure;
use crate::store::users::User;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "farmco_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Bytes of randomness in a CSRF token.
pub const CSRF_TOKEN_BYTES: usize = 32;
/// Longest cookie header we look into.
const COOKIE_HEADER_BYTES_MAX: usize = 8 * 1024;

/// Present in a request's extensions when it arrived over TLS terminated by this server (the
/// TLS listener inserts it); used for the cookie's `Secure` attribute.
#[derive(Debug, Clone, Copy)]
pub struct ServedOverTls;

#[derive(Debug, Serialize)]
pub struct SessionResponse {
    pub username: String,
    pub role: String,
    /// Send as `X-CSRF-Token` with every unsafe request.
    pub csrf_token: String,
    pub expires_at: String,
    /// Villages the user is limited to; `null`: every village.
    pub villages: Option<Vec<String>>,
}

fn error_csrf() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "csrf_failed",
        "missing or wrong CSRF token (X-CSRF-Token) or a cross-site request",
    )
}

/// The session token from the `Cookie` header, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| v.len() <= COOKIE_HEADER_BYTES_MAX)
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// Equal without an early exit, so timing does not reveal a prefix of the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// True when the request's `Origin` (if it has one) is this server's own.
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        // Same-origin GETs and older browsers send none; the CSRF token still has to match.
        return true;
    };
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The user of a console session cookie; for unsafe methods also checks the CSRF token and the
/// origin. `Ok(None)`: no cookie at all.
pub async fn cookie_user(parts: &Parts, state: &SharedState) -> Result<Option<User>, ApiError> {
    let Some(token) = session_cookie(&parts.headers) else {
        return Ok(None);
    };
    let hash = crate::auth::token_hash(token);
    let Some((user, csrf, _)) = state
        .store
        .console_session(&hash, crate::store::now())
        .await?
    else {
        return Err(ApiError::unauthorized());
    };
    if !is_safe(&parts.method) {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .map(HeaderValue::as_bytes)
            .unwrap_or_default();
        if !constant_time_eq(sent, csrf.as_bytes()) || !same_origin(&parts.headers) {
            state.metrics.login("csrf_refused");
            return Err(error_csrf());
        }
    }
    Ok(Some(user))
}

fn over_https(headers: &HeaderMap, extensions: &Extensions) -> bool {
    extensions.get::<ServedOverTls>().is_some()
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
        || headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("https://"))
}

fn cookie(value: &str, max_age_s: u64, secure: bool) -> Option<HeaderValue> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{}",
        if secure { "; Secure" } else { "" }
    ))
    .ok()
}

fn secure_for(state: &SharedState, headers: &HeaderMap, extensions: &Extensions) -> bool {
    match state.config.console.cookie_secure {
        CookieSecure::Always => true,
        CookieSecure::Never => false,
        CookieSecure::Auto => over_https(headers, extensions),
    }
}

async fn session_response(
    state: &SharedState,
    user: &User,
    csrf: String,
    expires: time::OffsetDateTime,
) -> Result<SessionResponse, ApiError> {
    Ok(SessionResponse {
        username: user.username.clone(),
        role: user.role.as_str().to_owned(),
        csrf_token: csrf,
        expires_at: rfc3339(expires),
        villages: state.store.user_scope(user.id).await?,
    })
}

/// `POST /api/v1/console/login`.
pub async fn console_login(
    State(state): State<SharedState>,
    headers: HeaderMap,
    extensions: Extensions,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    if !same_origin(&headers) {
        return Err(error_csrf());
    }
    let secure = secure_for(&state, &headers, &extensions);
    let Json(issued) = login(State(state.clone()), extensions, headers, ApiJson(req)).await?;
    let hash = crate::auth::token_hash(&issued.token);
    let csrf = hex::encode(rand::random::<[u8; CSRF_TOKEN_BYTES]>());
    state.store.attach_csrf(&hash, &csrf).await?;
    let Some((user, csrf, expires)) = state
        .store
        .console_session(&hash, crate::store::now())
        .await?
    else {
        return Err(ApiError::unauthorized());
    };
    let body = session_response(&state, &user, csrf, expires).await?;
    let mut response = (StatusCode::OK, Json(body)).into_response();
    if let Some(v) = cookie(
        &issued.token,
        state.config.auth.session_ttl.as_secs(),
        secure,
    ) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /api/v1/console/session`: who is logged in, and the CSRF token (after a reload).
pub async fn console_session(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = session_cookie(&headers).ok_or_else(ApiError::unauthorized)?;
    let hash = crate::auth::token_hash(token);
    let (user, csrf, expires) = state
        .store
        .console_session(&hash, crate::store::now())
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    let body = session_response(&state, &user, csrf, expires).await?;
    let mut response = Json(body).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn clear_cookie(state: &SharedState, headers: &HeaderMap, extensions: &Extensions) -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(v) = cookie("", 0, secure_for(state, headers, extensions)) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// `POST /api/v1/console/logout` (CSRF-checked by [`CurrentUser`]).
pub async fn console_logout(
    State(state): State<SharedState>,
    _user: CurrentUser,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    if let Some(token) = session_cookie(&headers) {
        state
            .store
            .delete_session(&crate::auth::token_hash(token))
            .await?;
    }
    Ok(clear_cookie(&state, &headers, &extensions))
}

/// `POST /api/v1/console/logout-everywhere`: every session of the caller ends.
pub async fn console_logout_everywhere(
    State(state): State<SharedState>,
    user: CurrentUser,
    headers: HeaderMap,
    extensions: Extensions,
) -> Result<Response, ApiError> {
    state
        .store
        .end_sessions(user.0.id, &user.0.username)
        .await?;
    Ok(clear_cookie(&state, &headers, &extensions))
}

/// The Content-Security-Policy of this server.
pub fn content_security_policy(base_map_style_url: Option<&str>) -> String {
    let extra = base_map_style_url
        .and_then(origin_of)
        .map(|o| format!(" {o}"))
        .unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; \
         img-src 'self' data: blob:{extra}; connect-src 'self'{extra}; \
         worker-src 'self' blob:; child-src 'self' blob:; font-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains(['\'', ';', '"']) {
        return None;
    }
    Some(format!("{scheme}://{host}"))
}

/// Middleware: the security headers on every response.
pub async fn security_headers(
    State(state): State<SharedState>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_security_policy(
        state.config.console.base_map_style_url.as_deref(),
    )) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=1; farmco_session=abc123 ; b=2")]);
        assert_eq!(session_cookie(&h), Some("abc123"));
        assert_eq!(
            session_cookie(&headers(&[("cookie", "farmco_session=")])),
            None
        );
        assert_eq!(session_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn origins_must_match_the_host() {
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8090")])));
        assert!(same_origin(&headers(&[
            ("host", "127.0.0.1:8090"),
            ("origin", "http://127.0.0.1:8090")
        ])));
        assert!(!same_origin(&headers(&[
            ("host", "127.0.0.1:8090"),
            ("origin", "http://evil.example")
        ])));
        assert!(!same_origin(&headers(&[("host", "a"), ("origin", "null")])));
    }

    #[test]
    fn csp_has_no_unsafe_inline_and_adds_the_base_map() {
        let plain = content_security_policy(None);
        assert!(!plain.contains("unsafe-inline"));
        assert!(plain.contains("script-src 'self';"));
        let with = content_security_policy(Some("https://tiles.example.org:8443/style.json"));
        assert!(
            with.contains("connect-src 'self' https://tiles.example.org:8443;"),
            "{with}"
        );
        assert_eq!(origin_of("https://a.b/c?d"), Some("https://a.b".to_owned()));
        assert_eq!(origin_of("https://a';b/"), None);
    }

    #[test]
    fn tokens_compare_in_constant_time() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(!constant_time_eq(b"", b"a"));
    }
}

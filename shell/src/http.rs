//! The HTTP error shape and extractors shared by the edge's and the cloud's APIs.
//!
//! Every error is `{"error":{"code","message","field"}}`: bad input is 400/413/422 (never 500),
//! with the JSON path of the offending field when there is one; 429 carries `Retry-After`.

use axum::Json;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The one error shape of the API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
    pub retry_after_s: Option<u64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// Machine-readable code, e.g. `validation_failed`, `unclosed_ring`, `not_found`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// JSON path of the offending input field, when there is one.
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after_s: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> ApiError {
        self.field = Some(field.into());
        self
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn internal() -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server's log",
        )
    }

    pub fn unavailable() -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is busy or unreachable; retry shortly",
        )
    }
}

/// Proxies whose `X-Forwarded-For` is believed (config `http.trusted_proxies`): addresses or
/// CIDR networks. Empty (the default) means the TCP peer is the client, whatever the headers
/// say, so nobody can pick their own rate-limit bucket by sending the header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

/// Proxy entries accepted at most (a handful of load balancers or a few networks).
pub const TRUSTED_PROXIES_MAX: usize = 64;
/// `X-Forwarded-For` hops examined at most (a longer chain is cut: its left end is only what a
/// client claims anyway).
pub const FORWARDED_HOPS_MAX: usize = 16;

impl TrustedProxies {
    /// Parse `["10.0.0.1", "192.168.0.0/16", "::1"]`; the error names the bad entry.
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        if entries.len() > TRUSTED_PROXIES_MAX {
            return Err(format!("at most {TRUSTED_PROXIES_MAX} trusted proxies"));
        }
        entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<ipnet::IpNet>()
                    .or_else(|_| e.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| format!("{e:?} is not an IP address or CIDR network"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    fn trusts(&self, addr: std::net::IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client's address: the TCP peer, unless the peer is a trusted proxy; then the
    /// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its
    /// left are the client's own claims). A malformed header is ignored (the peer is used).
    pub fn client_addr(
        &self,
        peer: Option<std::net::IpAddr>,
        headers: &axum::http::HeaderMap,
    ) -> Option<std::net::IpAddr> {
        let peer = peer?;
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut hops: Vec<std::net::IpAddr> = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return Some(peer);
            };
            for part in text.split(',') {
                match part.trim().parse() {
                    Ok(a) => hops.push(a),
                    Err(_) => return Some(peer),
                }
            }
        }
        let start = hops.len().saturating_sub(FORWARDED_HOPS_MAX);
        let hops = &hops[start..];
        hops.iter()
            .rev()
            .find(|a| !self.trusts(**a))
            .or(hops.first())
            .copied()
            .or(Some(peer))
    }
}

/// What a client is told to wait, in seconds, when the server is momentarily full (every
/// password-hashing slot or request slot taken): a login takes ~50 ms, so a second is plenty.
pub const BUSY_RETRY_AFTER_S: u64 = 1;

impl ApiError {
    /// 429: every password-hashing slot is taken (see `auth::HashingSlots`).
    pub fn busy() -> ApiError {
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "too many logins at once; try again in a moment",
        );
        e.retry_after_s = Some(BUSY_RETRY_AFTER_S);
        e
    }
}

/// Bounds on every request a server handles: how many run at once (more are refused with 503
/// at once rather than queued, so a flood cannot pile up memory) and how long one may run.
#[derive(Debug, Clone)]
pub struct RequestLimits {
    in_flight: std::sync::Arc<tokio::sync::Semaphore>,
    timeout: std::time::Duration,
}

impl RequestLimits {
    pub fn new(in_flight_max: usize, timeout: std::time::Duration) -> RequestLimits {
        RequestLimits {
            in_flight: std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight_max)),
            timeout,
        }
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`) applying [`RequestLimits`]: 503
/// `overloaded` when every slot is taken, 503 `timeout` when the handler runs too long.
pub async fn limit_requests(
    axum::extract::State(limits): axum::extract::State<RequestLimits>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let Ok(_slot) = limits.in_flight.clone().try_acquire_owned() else {
        let mut e = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            "the server is handling too many requests; retry shortly",
        );
        e.retry_after_s = Some(BUSY_RETRY_AFTER_S);
        return e.into_response();
    };
    match tokio::time::timeout(limits.timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_s = limits.timeout.as_secs(), "request timed out");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "the request took too long; retry shortly",
            )
            .into_response()
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                field: self.field,
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(s) = self.retry_after_s
            && let Ok(v) = axum::http::HeaderValue::from_str(&s.to_string())
        {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, v);
        }
        response
    }
}

impl From<farmco_sync::ValidationError> for ApiError {
    fn from(e: farmco_sync::ValidationError) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: e.code,
            message: e.message,
            field: Some(e.field),
            retry_after_s: None,
        }
    }
}

/// A JSON body whose rejections use the API's error shape: syntax errors are 400, type and
/// missing-field errors 422 with the JSON path, oversized bodies 413.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct.to_ascii_lowercase();
                ct.starts_with("application/json") || ct.contains("+json")
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_content_type",
                "expected Content-Type: application/json",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        "payload_too_large",
                        "request body is larger than the server accepts",
                    )
                } else {
                    ApiError::bad_request(rejection.body_text())
                }
            })?;
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(value) => value,
            Err(err) => {
                let path = err.path().to_string();
                let inner = err.into_inner();
                return Err(match inner.classify() {
                    serde_json::error::Category::Data => ApiError::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "invalid_field",
                        inner.to_string(),
                    )
                    .with_field(if path == "." { String::new() } else { path }),
                    _ => {
                        ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", inner.to_string())
                    }
                });
            }
        };
        de.end()
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", e.to_string()))?;
        Ok(ApiJson(value))
    }
}

/// Query string extractor whose rejection is a 400 in the API's error shape.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", e.body_text()))
    }
}

/// Extract the bearer token string from the request head.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> axum::http::HeaderMap {
        let mut h = axum::http::HeaderMap::new();
        for v in xff {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    /// Finding 14 of the 2026-12 review: X-Forwarded-For is believed only from trusted proxies.
    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let none = TrustedProxies::default();
        let proxies = TrustedProxies::parse(&["10.0.0.1".into(), "192.168.0.0/16".into()]).unwrap();
        let peer = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        let spoof = headers(&["1.2.3.4"]);
        // Not configured, or not from a proxy: the header is ignored.
        assert_eq!(none.client_addr(peer("10.0.0.1"), &spoof), peer("10.0.0.1"));
        assert_eq!(
            proxies.client_addr(peer("203.0.113.5"), &spoof),
            peer("203.0.113.5")
        );
        // From the proxy: the right-most untrusted hop.
        assert_eq!(
            proxies.client_addr(peer("10.0.0.1"), &spoof),
            peer("1.2.3.4")
        );
        let chain = headers(&["6.6.6.6, 198.51.100.7", "192.168.3.4"]);
        assert_eq!(
            proxies.client_addr(peer("10.0.0.1"), &chain),
            peer("198.51.100.7")
        );
        // Malformed or missing: the peer.
        assert_eq!(
            proxies.client_addr(peer("10.0.0.1"), &headers(&["nope"])),
            peer("10.0.0.1")
        );
        assert_eq!(
            proxies.client_addr(peer("10.0.0.1"), &headers(&[])),
            peer("10.0.0.1")
        );
        assert_eq!(proxies.client_addr(None, &spoof), None);
        assert!(TrustedProxies::parse(&["10.0.0.0/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["proxy.local".into()]).is_err());
    }
}

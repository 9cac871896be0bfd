//! Finding 13: request methods a client invents never become metric label values.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::api::App;

/// Finding 13: request methods a client invents never become metric label values.
#[tokio::test]
async fn metrics_method_label_is_a_fixed_set() {
    let app = App::new().await;
    for i in 0..5 {
        let req = Request::builder()
            .method(format!("XMETHOD{i}").as_str())
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        let resp = app.router.clone().oneshot(req).await.unwrap();
        let _ = resp.into_body().collect().await.unwrap();
    }
    let (status, metrics) = app.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    assert!(!text.contains("XMETHOD"), "{text}");
    assert!(text.contains("method=\"other\""), "{text}");
}

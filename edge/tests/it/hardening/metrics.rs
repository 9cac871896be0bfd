//! Finding 13: request methods a client invents never become metric label values.

use axum::body::Body;
use axum::http::{Request, StatusCode};

use crate::support::TestNode;

/// Finding 13: request methods a client invents never become metric label values.
#[tokio::test]
async fn metrics_method_label_is_a_fixed_set() {
    let node = TestNode::new();
    for i in 0..5 {
        let req = Request::builder()
            .method(format!("XMETHOD{i}").as_str())
            .uri("/healthz")
            .body(Body::empty())
            .unwrap();
        let _ = node.raw(req).await;
    }
    let (status, _) = node.call("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, metrics) = node.call("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = metrics.as_str().unwrap();
    assert!(!text.contains("XMETHOD"), "{text}");
    assert!(text.contains("method=\"other\""), "{text}");
    assert!(text.contains("method=\"GET\""), "{text}");
}

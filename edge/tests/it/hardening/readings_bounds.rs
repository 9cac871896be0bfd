//! Finding 26: the readings query's time bounds never overflow.

use axum::http::StatusCode;

use crate::support::TestNode;

/// Finding 26: extreme `to`/`from` bounds are answered, never an arithmetic overflow.
#[tokio::test]
async fn readings_bounds_at_i64_extremes_do_not_overflow() {
    let node = TestNode::new();
    let supervisor = node.login("super").await;
    for query in [
        format!("metric=soil_moisture_vwc&to={}", i64::MIN),
        format!("metric=soil_moisture_vwc&to={}&bucket=1h", i64::MIN),
        format!("metric=soil_moisture_vwc&from={}&to={}", i64::MIN, i64::MAX),
        format!(
            "metric=soil_moisture_vwc&from={}&to={}&bucket=1d",
            i64::MIN,
            i64::MAX
        ),
    ] {
        let (status, body) = node
            .call(
                "GET",
                &format!("/api/v1/sensors/soil-1/readings?{query}"),
                Some(&supervisor),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {body}");
    }
}

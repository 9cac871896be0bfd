//! Finding 3: unauthenticated sync requests cost a hash, are rate-limited, and the quarantine
//! is capped.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::api::App;

/// POST raw bytes to the sync endpoint as if from `addr`.
async fn post_sync(app: &App, addr: [u8; 4], body: Vec<u8>) -> StatusCode {
    let mut req = Request::builder()
        .method("POST")
        .uri("/api/v1/sync")
        .header("content-type", "application/octet-stream")
        .body(Body::from(body))
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            addr, 40_000,
        ))));
    let resp = app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let _ = resp.into_body().collect().await.unwrap();
    status
}

/// Finding 3: unauthenticated sync requests leave only a hash and the size in quarantine, an
/// address that keeps sending them is answered 429 with nothing written, and the quarantine
/// stops growing at its row cap.
#[tokio::test]
async fn unauthenticated_sync_refusals_are_hashed_rate_limited_and_capped() {
    use farmco_cloud::store::quarantine::{self, Keep, QUARANTINE_ROWS_MAX};
    use farmco_cloud::sync_service::SYNC_REFUSALS_PER_ADDRESS_MAX;
    use sha2::Digest;

    let app = App::new().await;
    let garbage = vec![0x5a_u8; 256 * 1024];
    assert_eq!(
        post_sync(&app, [192, 0, 2, 1], garbage.clone()).await,
        StatusCode::BAD_REQUEST
    );
    let row = app
        .env
        .sql()
        .await
        .query_one("SELECT bytes, bytes_sha256, bytes_len FROM quarantine", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, Option<Vec<u8>>>(0), None, "bytes were stored");
    assert_eq!(
        row.get::<_, Vec<u8>>(1),
        sha2::Sha256::digest(&garbage).to_vec()
    );
    assert_eq!(row.get::<_, i64>(2), 256 * 1024);

    // The same address up to its limit, then 429 with nothing more written.
    for _ in 1..SYNC_REFUSALS_PER_ADDRESS_MAX {
        assert_eq!(
            post_sync(&app, [192, 0, 2, 1], b"junk".to_vec()).await,
            StatusCode::BAD_REQUEST
        );
    }
    let rows = app.env.count("SELECT count(*) FROM quarantine").await;
    let audited = app.env.count("SELECT count(*) FROM audit_log").await;
    assert_eq!(rows, SYNC_REFUSALS_PER_ADDRESS_MAX as i64);
    for _ in 0..5 {
        assert_eq!(
            post_sync(&app, [192, 0, 2, 1], garbage.clone()).await,
            StatusCode::TOO_MANY_REQUESTS
        );
    }
    assert_eq!(app.env.count("SELECT count(*) FROM quarantine").await, rows);
    assert_eq!(
        app.env.count("SELECT count(*) FROM audit_log").await,
        audited
    );
    // Another address is unaffected.
    assert_eq!(
        post_sync(&app, [192, 0, 2, 2], b"junk".to_vec()).await,
        StatusCode::BAD_REQUEST
    );

    // A full quarantine takes no more rows.
    app.env
        .sql()
        .await
        .execute(
            "INSERT INTO quarantine (received_at, reason, bytes_sha256, bytes_len)
             SELECT now(), 'filler', '\\x00'::bytea, 0 FROM generate_series(1, $1::bigint)",
            &[&QUARANTINE_ROWS_MAX],
        )
        .await
        .unwrap();
    let before = app.env.count("SELECT count(*) FROM quarantine").await;
    let client = app.env.sql().await;
    let added = quarantine::insert(
        &**client,
        None,
        None,
        time::OffsetDateTime::now_utc(),
        "test",
        b"bytes",
        Keep::Bytes,
    )
    .await
    .unwrap();
    assert!(!added);
    assert_eq!(
        post_sync(&app, [192, 0, 2, 3], b"junk".to_vec()).await,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.env.count("SELECT count(*) FROM quarantine").await,
        before
    );
}

//! Anti-entropy heals what the cursors cannot: a document lost on an edge whose down cursor is
//! already past it comes back with `sync --once --repair`.

use farmco_e2e::{Cloud, Edge, call, login};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_document_heals_by_anti_entropy() {
    let cloud = Cloud::start().await;
    let a = Edge::new();
    let b = Edge::new();
    a.enroll(&cloud, "563412");
    b.enroll(&cloud, "563412");
    let farmer = {
        let server = a.serve();
        let t = login(&server.base_url, "agent", "edge-password-1").await;
        let (s, f) = call(
            "POST",
            &format!("{}/api/v1/farmers", server.base_url),
            &t,
            Some(json!({"name": "Lata Kale", "phone": "9812300001", "language": "mr", "village_code": "563412"})),
        )
        .await;
        assert_eq!(s, 201, "{f}");
        f["id"].as_str().unwrap().to_owned()
    };
    a.sync_once();
    b.sync_once();
    // B loses the document (a restored backup, a bad disk sector) but keeps its cursor.
    {
        let conn = rusqlite::Connection::open(b.dir.path().join("farmco-edge.db")).unwrap();
        conn.execute_batch(&format!(
            "DELETE FROM documents WHERE doc_id = '{farmer}';
             DELETE FROM farmers WHERE id = '{farmer}';
             DELETE FROM change_log WHERE doc_id = '{farmer}';"
        ))
        .unwrap();
    }
    b.sync_once();
    let lookup = |edge: &Edge| {
        let server = edge.serve();
        let farmer = farmer.clone();
        async move {
            let t = login(&server.base_url, "agent", "edge-password-1").await;
            call(
                "GET",
                &format!("{}/api/v1/farmers/{farmer}", server.base_url),
                &t,
                None,
            )
            .await
        }
    };
    assert_eq!(
        lookup(&b).await.0,
        404,
        "the cursor alone does not bring it back"
    );
    let (ok, out, err) = b.cli(&["sync", "--once", "--repair"], "");
    assert!(ok, "{out}{err}");
    let (status, body) = lookup(&b).await;
    assert_eq!(status, 200, "repaired: {body}");
    assert_eq!(body["name"], "Lata Kale");
}

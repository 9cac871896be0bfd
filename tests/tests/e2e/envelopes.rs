//! Forged, replayed, misaddressed and unknown-sender envelopes against the real cloud: each is
//! refused with a clear status, audited, and nothing it carried is applied.

use farmco_e2e::{Cloud, Edge};
use farmco_sync::doc::{CommitMeta, FarmerDoc};
use farmco_sync::protocol::envelope::{EnvelopeKind, SignedEnvelope};
use farmco_sync::protocol::keys::NodeSecretKey;
use farmco_sync::protocol::wire::{self, Heartbeat, SyncRequest, UpChange, WIRE_VERSION};
use farmco_sync::{Consents, Farmer, FarmerId, Language, PersonName, PhoneNumber, VillageCode};

fn request_with_farmer(name: &str) -> (SyncRequest, uuid::Uuid) {
    let id = uuid::Uuid::new_v4();
    let farmer = Farmer {
        id: FarmerId(id),
        name: PersonName::parse("n", name).unwrap(),
        phone: PhoneNumber::parse("p", "9811112222").unwrap(),
        language: Language::Hi,
        village_code: VillageCode::parse("v", "563412").unwrap(),
        consents: Consents::default(),
    };
    let meta = CommitMeta {
        author: "mallory".into(),
        time_ms: 1_764_000_000_000,
    };
    let (_, change) = FarmerDoc::create(b"forger-actor-000", &farmer, &meta).unwrap();
    let request = SyncRequest {
        wire_version: WIRE_VERSION,
        heartbeat: Heartbeat {
            software_version: "x".into(),
            change_backlog: 0,
            readings_backlog: 0,
            disk_free_bytes: 0,
            last_sync_ms: None,
            clock_ms: 0,
            extra: Vec::new(),
            health: None,
        },
        up: vec![UpChange {
            local_seq: 1,
            doc_id: *id.as_bytes(),
            bytes: change.bytes,
        }],
        readings: None,
        down_cursor: 0,
        advisory_cursor: 0,
        down_budget_bytes: 32 * 1024,
        anti_entropy: None,
        doc_sync: Vec::new(),
    };
    (request, id)
}

async fn post(base: &str, body: Vec<u8>) -> (u16, Vec<u8>) {
    let resp = reqwest::Client::new()
        .post(format!("{base}/api/v1/sync"))
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_misaddressed_and_unknown_envelopes_are_refused() {
    let cloud = Cloud::start().await;
    let edge = Edge::new();
    edge.enroll(&cloud, "563412");
    let edge_key =
        NodeSecretKey::from_bytes(&std::fs::read(edge.dir.path().join("node.key")).unwrap())
            .unwrap();
    let cloud_id =
        NodeSecretKey::from_bytes(&std::fs::read(cloud.dir.path().join("node.key")).unwrap())
            .unwrap()
            .node_id();
    let base = &cloud.server.base_url;
    let t = cloud.login().await;
    let farmer_exists = |id: uuid::Uuid| {
        let t = t.clone();
        let base = base.clone();
        async move {
            farmco_e2e::call("GET", &format!("{base}/api/v1/farmers/{id}"), &t, None)
                .await
                .0
                == 200
        }
    };

    // Forged: claims to be the edge, signed by someone else.
    let (req, forged_farmer) = request_with_farmer("Forged Farmer");
    let mallory = NodeSecretKey::from_seed([42; 32]);
    let mut env = SignedEnvelope::seal(
        &mallory,
        EnvelopeKind::SyncRequest,
        cloud_id,
        10,
        wire::encode_request(&req).unwrap(),
    )
    .unwrap();
    env.sender = edge_key.node_id();
    let (status, body) = post(base, env.encode()).await;
    assert_eq!(status, 401, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("bad_signature"));
    assert!(!farmer_exists(forged_farmer).await, "forged change applied");

    // Unknown sender.
    let env = SignedEnvelope::seal(
        &mallory,
        EnvelopeKind::SyncRequest,
        cloud_id,
        10,
        wire::encode_request(&req).unwrap(),
    )
    .unwrap();
    let (status, _) = post(base, env.encode()).await;
    assert_eq!(status, 403);

    // Wrong recipient.
    let env = SignedEnvelope::seal(
        &edge_key,
        EnvelopeKind::SyncRequest,
        mallory.node_id(),
        10,
        wire::encode_request(&req).unwrap(),
    )
    .unwrap();
    let (status, _) = post(base, env.encode()).await;
    assert_eq!(status, 403);
    assert!(!farmer_exists(forged_farmer).await);

    // Garbage.
    let (status, _) = post(base, b"not an envelope".to_vec()).await;
    assert_eq!(status, 400);

    // A genuine request is applied once; the same bytes again get the same answer; an older
    // sequence number is a replay.
    let (req, real_farmer) = request_with_farmer("Real Farmer");
    let now_seq = 2_000_000_000_000u64;
    let bytes = SignedEnvelope::seal(
        &edge_key,
        EnvelopeKind::SyncRequest,
        cloud_id,
        now_seq,
        wire::encode_request(&req).unwrap(),
    )
    .unwrap()
    .encode();
    let (status, first) = post(base, bytes.clone()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&first));
    assert!(farmer_exists(real_farmer).await);
    let (status, again) = post(base, bytes).await;
    assert_eq!(status, 200);
    assert_eq!(
        first, again,
        "a retried batch gets the same acknowledgement"
    );
    let response = SignedEnvelope::decode(&first)
        .unwrap()
        .verify(edge_key.node_id())
        .unwrap();
    let response = wire::decode_response(response.payload()).unwrap();
    assert_eq!(response.up_acked, 1);
    let (req2, replayed_farmer) = request_with_farmer("Replayed Farmer");
    let old = SignedEnvelope::seal(
        &edge_key,
        EnvelopeKind::SyncRequest,
        cloud_id,
        now_seq - 1,
        wire::encode_request(&req2).unwrap(),
    )
    .unwrap()
    .encode();
    let (status, body) = post(base, old).await;
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
    assert!(
        !farmer_exists(replayed_farmer).await,
        "replayed batch applied"
    );

    // Every refusal is in the audit log, and the bytes are quarantined.
    let (client, conn) = tokio_postgres::connect(&cloud.db.url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let audited: i64 = client
        .query_one(
            "SELECT count(*) FROM audit_log WHERE action LIKE 'sync.%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(audited >= 5, "{audited} audit rows");
    let quarantined: i64 = client
        .query_one("SELECT count(*) FROM quarantine", &[])
        .await
        .unwrap()
        .get(0);
    assert!(quarantined >= 5, "{quarantined} quarantined");
}

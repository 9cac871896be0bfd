//! Test helpers: a throwaway database per test (dropped on drop, also after a panic, best
//! effort), an opened store with its config and key, and farmer documents built with
//! farmco-sync the way an edge node builds them.

use std::sync::Arc;

use farmco_cloud::config::Config;
use farmco_cloud::keys::CloudKey;
use farmco_cloud::store::Store;
use farmco_sync::doc::{CommitMeta, FarmerDoc};
use farmco_sync::{
    Boundary, Consents, Farm, FarmId, Farmer, FarmerId, Language, PersonName, PhoneNumber,
    SoilParameters, SoilTest, SoilTestId, VillageCode,
};
use tempfile::TempDir;
use uuid::Uuid;

/// The maintenance database tests create their databases through.
pub fn admin_url() -> String {
    std::env::var("FARMCO_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// `url` with its database name replaced.
pub fn with_dbname(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A database name nobody else uses; dropped (WITH FORCE) when this value drops.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub fn new() -> TestDb {
        let name = format!("farmco_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        let url = with_dbname(&admin_url(), &name);
        TestDb { name, url }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop may run inside a tokio runtime: use a thread with its own runtime.
        let handle = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok((client, conn)) =
                    tokio_postgres::connect(&admin_url(), tokio_postgres::NoTls).await
                else {
                    return;
                };
                tokio::spawn(conn);
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await;
            });
        });
        let _ = handle.join();
    }
}

/// An opened store on a fresh database. Field order is drop order: the pool goes first.
pub struct Env {
    pub store: Arc<Store>,
    pub key: Arc<CloudKey>,
    pub config: Config,
    pub dir: TempDir,
    pub db: TestDb,
}

pub async fn env() -> Env {
    let db = TestDb::new();
    let dir = tempfile::tempdir().unwrap();
    let config = Config::for_tests(&db.url, dir.path().to_path_buf());
    let (store, key) = farmco_cloud::server::open(&config)
        .await
        .unwrap_or_else(|e| panic!("opening the test database: {e:#}"));
    Env {
        store,
        key,
        config,
        dir,
        db,
    }
}

impl Env {
    /// A plain client on the test database, for assertions in SQL.
    pub async fn sql(&self) -> deadpool_postgres::Object {
        self.store.conn().await.unwrap()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.sql().await.query_one(sql, &[]).await.unwrap().get(0)
    }
}

/// The edge's automerge actor in these tests (16 bytes like an edge node id).
pub const EDGE_ACTOR: &[u8] = b"edge-test-actor1";
pub const VILLAGE: &str = "563412";
pub const OTHER_VILLAGE: &str = "563499";

pub fn meta(t: i64) -> CommitMeta {
    CommitMeta {
        author: "agent1".into(),
        time_ms: 1_767_225_600_000 + t,
    }
}

/// A square of `side_m` metres centred on (lat, lon), as GeoJSON Polygon.
pub fn square(lat: f64, lon: f64, side_m: f64) -> Boundary {
    let dlat = side_m / 2.0 / 111_320.0;
    let dlon = side_m / 2.0 / (111_320.0 * lat.to_radians().cos());
    let ring = serde_json::json!([
        [lon - dlon, lat - dlat],
        [lon + dlon, lat - dlat],
        [lon + dlon, lat + dlat],
        [lon - dlon, lat + dlat],
        [lon - dlon, lat - dlat]
    ]);
    Boundary::from_geojson(
        "boundary",
        &serde_json::json!({"type": "Polygon", "coordinates": [ring]}),
    )
    .unwrap()
}

/// A farmer's document as an edge builds it: create, add a farm, add a soil test.
pub struct FarmerFixture {
    pub doc: FarmerDoc,
    pub farmer_id: Uuid,
    pub farm_id: Uuid,
    pub boundary: Boundary,
    /// Change bytes in commit order.
    pub changes: Vec<Vec<u8>>,
}

impl FarmerFixture {
    /// The changes as `apply_changes` takes them.
    pub fn batch(&self) -> Vec<(Uuid, Vec<u8>)> {
        self.changes
            .iter()
            .map(|c| (self.farmer_id, c.clone()))
            .collect()
    }
}

pub fn farmer_fixture(village: &str, lat: f64, lon: f64, phone_tail: u32) -> FarmerFixture {
    let farmer = Farmer {
        id: FarmerId(Uuid::new_v4()),
        name: PersonName::parse("name", "Lakshmi Devi").unwrap(),
        phone: PhoneNumber::parse("phone", &format!("98765{phone_tail:05}")).unwrap(),
        language: Language::parse("language", "te").unwrap(),
        village_code: VillageCode::parse("village_code", village).unwrap(),
        consents: Consents {
            sms: true,
            voice: false,
            data_sharing: false,
        },
    };
    let (mut doc, c1) = FarmerDoc::create(EDGE_ACTOR, &farmer, &meta(0)).unwrap();
    let boundary = square(lat, lon, 200.0);
    let farm = Farm {
        id: FarmId(Uuid::new_v4()),
        farmer_id: farmer.id,
        survey_number: "123/4A".into(),
        declared_area_ha: 4.0,
        boundary: boundary.clone(),
        crops: Vec::new(),
    };
    let c2 = doc.add_farm(&farm, &meta(1)).unwrap();
    let test = SoilTest {
        id: SoilTestId(Uuid::new_v4()),
        farm_id: farm.id,
        sampled_on: time::macros::date!(2025 - 11 - 20),
        lab: "District Soil Lab".into(),
        parameters: SoilParameters::from_pairs(
            "parameters",
            [("ph".to_owned(), 6.8), ("oc".to_owned(), 0.62)],
        )
        .unwrap(),
    };
    let c3 = doc.add_soil_test(&test, &meta(2)).unwrap();
    FarmerFixture {
        doc,
        farmer_id: farmer.id.0,
        farm_id: farm.id.0,
        boundary,
        changes: vec![c1.bytes, c2.bytes, c3.bytes],
    }
}

/// A valid ed25519 public key derived from a seed byte.
pub fn node_key(seed: u8) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
        .verifying_key()
        .to_bytes()
}

/// The JSON body of `POST /api/v1/enroll` for the node of `seed` (see [`node_key`]), with a
/// valid proof of key possession signed at `time_ms`.
pub fn enroll_body(seed: u8, token: &str, name: &str, time_ms: i64) -> serde_json::Value {
    let key = farmco_sync::protocol::keys::NodeSecretKey::from_seed([seed; 32]);
    let signature = farmco_sync::protocol::enroll::sign_proof(&key, token, name, "0.1.0", time_ms);
    serde_json::json!({
        "token": token,
        "public_key": hex::encode(node_key(seed)),
        "name": name,
        "software_version": "0.1.0",
        "proof": {"time_ms": time_ms, "signature": hex::encode(signature)},
    })
}

/// Now, in ms since the Unix epoch.
pub fn now_ms() -> i64 {
    farmco_cloud::store::audit::unix_ms(farmco_cloud::store::now())
}

/// Enroll a node for `villages`; returns its id.
pub async fn enroll_node(store: &Store, seed: u8, villages: &[&str]) -> String {
    let villages: Vec<String> = villages.iter().map(|v| (*v).to_owned()).collect();
    let token = store
        .create_enrollment_token(&villages, std::time::Duration::from_secs(3600), "test")
        .await
        .unwrap();
    store
        .enroll(&token, node_key(seed), &format!("box-{seed}"), "0.1.0")
        .await
        .unwrap()
        .node_id
}

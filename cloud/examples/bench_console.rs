//! Ops console benchmark (`scripts/bench-console`), each figure next to its baseline measured in
//! the same run:
//! - vector tiles: 100,000 farms in PostGIS (a 60 km square of villages, ~1 ha farms with a
//!   soil test each), p50 of `GET /tiles/{z}/{x}/{y}.mvt` over HTTP (the real router and
//!   server, a bearer token, reqwest) at zoom 12 and 16, against the very same `ST_AsMVT`
//!   statement run straight in psql (`\timing`, one psql session, the same tiles);
//! - the fleet page API with 1,000 nodes (each with its last health): p50 of
//!   `GET /api/v1/nodes?count=true` (first page, sorted by status) over HTTP.
//!
//! Prints a Markdown table. Needs PostgreSQL with PostGIS (scripts/setup); creates and drops
//! its own database.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use farmco_cloud::api::{self, AppState};
use farmco_cloud::config::Config;
use farmco_cloud::store::map::{TileLayer, tile_sql};

/// Farms in the benchmark (the figure).
const FARMS: i64 = 100_000;
/// Nodes in the fleet benchmark (the figure).
const NODES: i64 = 1_000;
/// Tiles sampled per zoom level.
const TILES_PER_ZOOM: usize = 40;
/// Requests per tile (after one warm-up).
const ROUNDS: usize = 5;
/// Fleet page requests.
const FLEET_REQUESTS: usize = 60;
/// Centre of the farm square (Parner taluka), degrees.
const CENTER: (f64, f64) = (18.95, 74.35);
/// Grid of farms: 317 × 317 cells of 190 m ≈ 60 km.
const GRID: i64 = 317;
const SPACING_M: f64 = 190.0;

fn p50(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn tile_of(lat: f64, lon: f64, z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor() as u32;
    let r = lat.to_radians();
    let y =
        ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as u32;
    (x, y)
}

/// Sample tiles at `z` inside the farm square (deterministic; at z12 tiles repeat, the square
/// is only ~7 tiles wide).
fn sample_tiles(z: u8) -> Vec<(u32, u32)> {
    let half_deg_lat = (GRID as f64 * SPACING_M / 2.0) / 110_574.0;
    let half_deg_lon = (GRID as f64 * SPACING_M / 2.0) / (111_320.0 * CENTER.0.to_radians().cos());
    let mut tiles = Vec::new();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(z);
    while tiles.len() < TILES_PER_ZOOM {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let fx = (seed % 10_000) as f64 / 10_000.0 * 1.6 - 0.8;
        let fy = ((seed / 10_000) % 10_000) as f64 / 10_000.0 * 1.6 - 0.8;
        tiles.push(tile_of(
            CENTER.0 + fy * half_deg_lat,
            CENTER.1 + fx * half_deg_lon,
            z,
        ));
    }
    tiles
}

async fn seed(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    let dlat = SPACING_M / 110_574.0;
    let dlon = SPACING_M / (111_320.0 * CENTER.0.to_radians().cos());
    let half = GRID / 2;
    client
        .batch_execute(&format!(
            "INSERT INTO farmers (id, name, phone, language, village_code, consent_sms,
                 consent_voice, consent_data_sharing, created_at, updated_at)
             SELECT md5('f' || i)::uuid, 'Farmer ' || i, '+9198' || lpad(i::text, 8, '0'), 'mr',
                    (500000 + i / 200)::text, true, true, false, now(), now()
             FROM generate_series(0, {last}) i;
             INSERT INTO farms (id, farmer_id, village_code, survey_number, declared_area_ha,
                 area_ha, boundary, centroid, crops, updated_at)
             SELECT md5('m' || i)::uuid, md5('f' || i)::uuid, (500000 + i / 200)::text,
                    (100 + i % 200) || '/1', 1.0, 1.0,
                    ST_Multi(ST_MakeEnvelope(lon - {hw}, lat - {hh}, lon + {hw}, lat + {hh}, 4326)),
                    ST_SetSRID(ST_MakePoint(lon, lat), 4326),
                    jsonb_build_array(jsonb_build_object('crop',
                        (ARRAY['wheat','gram','onion','jowar','soybean'])[1 + i % 5],
                        'season', 'rabi', 'sowing_date', '2025-11-10')),
                    now()
             FROM (SELECT i, {clat} + ((i / {grid}) - {half}) * {dlat} AS lat,
                          {clon} + ((i % {grid}) - {half}) * {dlon} AS lon
                   FROM generate_series(0, {last}) i) g;
             INSERT INTO soil_tests (id, farm_id, farmer_id, sampled_on, lab, parameters)
             SELECT md5('s' || i)::uuid, md5('m' || i)::uuid, md5('f' || i)::uuid, '2025-04-01',
                    'bench lab', jsonb_build_object('ph', 6.5 + (i % 20) / 10.0, 'n', 150 + i % 400)
             FROM generate_series(0, {last}) i;
             INSERT INTO edge_alerts (node_id, edge_alert_id, village_code, farm_id, sensor_id,
                 rule_id, kind, severity, message, raised_at, notifications, delivered, updated_at)
             SELECT n.node_id, i, (500000 + i / 200)::text, md5('m' || i)::uuid, 's' || i, 'dry',
                    'dry_soil', 'warning', 'dry', now(), 1, 1, now()
             FROM generate_series(0, {last}, 97) i, (SELECT node_id FROM nodes LIMIT 1) n;
             ANALYZE farmers; ANALYZE soil_tests; ANALYZE edge_alerts;",
            last = FARMS - 1,
            grid = GRID,
            half = half,
            clat = CENTER.0,
            clon = CENTER.1,
            dlat = dlat,
            dlon = dlon,
            hw = dlon * 0.27,
            hh = dlat * 0.27,
        ))
        .await
        .context("seeding farms")?;
    // The soil-test trigger updated every farm once: vacuum as autovacuum would.
    client
        .batch_execute("VACUUM ANALYZE farms")
        .await
        .context("vacuuming farms")?;
    Ok(())
}

async fn seed_nodes(client: &tokio_postgres::Client) -> anyhow::Result<()> {
    client
        .batch_execute(&format!(
            "INSERT INTO nodes (node_id, public_key, name, villages, software_version, enrolled_at,
                 last_seen_at, heartbeat)
             SELECT encode(sha256(i::text::bytea), 'hex'), sha256(i::text::bytea), 'box-' || i,
                    ARRAY[(500000 + i)::text], '0.1.0', now() - interval '30 days',
                    now() - (i % 50) * interval '10 minutes',
                    jsonb_build_object('change_log_backlog', i % 7, 'readings_backlog', i % 300)
             FROM generate_series(1, {NODES}) i;
             INSERT INTO node_health (node_id, received_at, clock_offset_ms, change_backlog,
                 readings_backlog, backlog_streak, disk_free_bytes, disk_total_bytes, modem_state,
                 modem_registration, modem_signal_dbm, modem_signal_rssi, modem_operator,
                 sms_sent_today, sms_daily_cap, sms_outbox_backlog, sms_failed_today, open_alerts)
             SELECT node_id, last_seen_at, 1200, 3, 120, 0, 8000000000, 32000000000, 'ready',
                    CASE WHEN random() < 0.05 THEN 'searching' ELSE 'home' END, -81, 16, 'BSNL',
                    20, 100, 2, 0, 1
             FROM nodes;
             INSERT INTO fleet_alerts (node_id, kind, severity, message, raised_at)
             SELECT node_id, 'silent', 'amber', 'silent', now() FROM nodes LIMIT 50;
             ANALYZE nodes; ANALYZE node_health; ANALYZE fleet_alerts;"
        ))
        .await
        .context("seeding nodes")?;
    Ok(())
}

/// p50 (ms) of the tile statement run straight in psql, over the same tiles.
fn psql_p50(url: &str, z: u8, tiles: &[(u32, u32)]) -> anyhow::Result<f64> {
    // The prepared statement's parameter types are those the route binds.
    let sql = tile_sql(TileLayer::for_zoom(z));
    let mut script = format!(
        "\\set QUIET on\nPREPARE tile(int, int, int, text[]) AS {sql};\n\\timing on\n\\o /dev/null\n"
    );
    for (x, y) in tiles {
        for _ in 0..=ROUNDS {
            script.push_str(&format!("EXECUTE tile({z}, {x}, {y}, NULL);\n"));
        }
    }
    let mut child = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running psql")?;
    {
        use std::io::Write;
        let stdin = child.stdin.as_mut().context("psql stdin")?;
        stdin.write_all(script.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let times: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("Time: "))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|v| v.parse().ok())
        .collect();
    // Skip each tile's warm-up execution.
    let per_tile = ROUNDS + 1;
    let measured: Vec<f64> = times
        .chunks(per_tile)
        .flat_map(|c| c.iter().skip(1).copied())
        .collect();
    if measured.len() != tiles.len() * ROUNDS {
        bail!(
            "psql printed {} timings, expected {}",
            times.len(),
            tiles.len() * per_tile
        );
    }
    Ok(p50(measured))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let admin = std::env::var("FARMCO_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("farmco_bench_console_{:08x}", rand::random::<u32>());
    let base = admin
        .rsplit_once('/')
        .map(|(b, _)| b.to_owned())
        .unwrap_or(admin.clone());
    let url = format!("{base}/{name}");
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(&url, dir.path().to_path_buf());
    config.database.pool_size = 8;
    let result = run(&config, &url).await;
    // Drop the database whatever happened.
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    result
}

async fn run(config: &Config, url: &str) -> anyhow::Result<()> {
    let (store, key) = farmco_cloud::server::open(config).await?;
    api::auth_routes::add_user_checked(&store, "bench", "bench password 1", "ops", "bench")
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    eprintln!("seeding {NODES} nodes and {FARMS} farms …");
    let started = Instant::now();
    seed_nodes(&client).await?;
    seed(&client).await?;
    eprintln!("seeded in {:.1} s", started.elapsed().as_secs_f64());

    let state = Arc::new(AppState::new(store.clone(), config.clone(), key));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = api::router(state);
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let login: serde_json::Value = http
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "bench", "password": "bench password 1"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["token"].as_str().context("login")?.to_owned();

    let mut rows = Vec::new();
    for z in [12u8, 16] {
        let tiles = sample_tiles(z);
        let mut route = Vec::new();
        let mut bytes = Vec::new();
        for (x, y) in &tiles {
            for round in 0..=ROUNDS {
                let t = Instant::now();
                let r = http
                    .get(format!("http://{addr}/tiles/{z}/{x}/{y}.mvt"))
                    .bearer_auth(&token)
                    .send()
                    .await?;
                let status = r.status();
                let body = r.bytes().await?;
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                if !status.is_success() {
                    bail!("tile {z}/{x}/{y}: {status}");
                }
                if round > 0 {
                    route.push(ms);
                    bytes.push(body.len() as f64);
                }
            }
        }
        let farms_per_tile: Vec<f64> = {
            let mut v = Vec::new();
            for (x, y) in &tiles {
                let n: i64 = client
                    .query_one(
                        "SELECT count(*) FROM farms WHERE boundary_3857 && ST_TileEnvelope($1, $2, $3)",
                        &[&i32::from(z), &(*x as i32), &(*y as i32)],
                    )
                    .await?
                    .get(0);
                v.push(n as f64);
            }
            v
        };
        let psql = psql_p50(url, z, &tiles)?;
        let route_p50 = p50(route);
        rows.push(format!(
            "| tile z{z} ({} tiles, p50 {:.0} farms, {:.0} KB) | {route_p50:.1} ms | psql `ST_AsMVT` {psql:.1} ms | {:.2}× |",
            tiles.len(),
            p50(farms_per_tile),
            p50(bytes) / 1024.0,
            psql / route_p50,
        ));
    }

    let mut fleet = Vec::new();
    let mut count = 0;
    for i in 0..=FLEET_REQUESTS {
        let t = Instant::now();
        let v: serde_json::Value = http
            .get(format!("http://{addr}/api/v1/nodes?count=true&sort=status"))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        count = v["total"].as_u64().unwrap_or(0);
        if i > 0 {
            fleet.push(ms);
        }
    }
    if count != NODES as u64 {
        bail!("the fleet API counted {count} nodes");
    }
    rows.push(format!(
        "| fleet API, {NODES} nodes (first page of 50, total, verdicts) | {:.1} ms | goal ≤ 50 ms | — |",
        p50(fleet)
    ));
    server.abort();
    store.close();

    println!("| what | p50 | baseline (same run) | baseline / route |");
    println!("|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}

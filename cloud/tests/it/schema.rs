//! Migrations and partitions: idempotent migrations, append-only audit log, readings partitions
//! ahead of today plus the DEFAULT partition, and rows moved out of the default partition when
//! their partition is created later.

use farmco_cloud::store::partitions::{partition_name, period_of};
use farmco_cloud::store::{ReadingsBackend, Store, migrations};

use crate::support::{TestDb, env};

#[tokio::test]
async fn migrations_are_idempotent_and_recorded() {
    let env = env().await;
    assert!(env.db.url.ends_with(&env.db.name));
    let conn = env.sql().await;
    let latest = migrations::latest_version();
    assert_eq!(
        migrations::applied_versions(&conn).await.unwrap(),
        (1..=latest).collect::<Vec<_>>()
    );
    // Opening again (a second server, a restart) applies nothing and changes nothing.
    let again = Store::open(&env.config.database, &env.key.public_key())
        .await
        .unwrap();
    assert_eq!(again.readings_backend(), ReadingsBackend::Native);
    assert_eq!(
        migrations::applied_versions(&conn).await.unwrap().len(),
        latest as usize
    );
    let postgis: i64 = env
        .count("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")
        .await;
    assert_eq!(postgis, 1);
    // A migration edited after shipping is detected.
    conn.execute(
        "UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1",
        &[],
    )
    .await
    .unwrap();
    let err = Store::open(&env.config.database, &env.key.public_key())
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("never be edited"), "{err:#}");
}

#[tokio::test]
async fn concurrent_opens_migrate_once() {
    let db = TestDb::new();
    let config = farmco_cloud::config::Config::for_tests(&db.url, std::env::temp_dir());
    let key = [7u8; 32];
    let (a, b) = tokio::join!(
        Store::open(&config.database, &key),
        Store::open(&config.database, &key)
    );
    let (a, _b) = (a.unwrap(), b.unwrap());
    let conn = a.conn().await.unwrap();
    assert_eq!(
        migrations::applied_versions(&conn).await.unwrap(),
        (1..=migrations::latest_version()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn audit_log_is_append_only() {
    let env = env().await;
    env.store
        .audit(&farmco_cloud::store::audit::AuditEvent {
            actor: "test",
            action: "test.event",
            target: "x",
            detail: serde_json::json!({"n": 1}),
        })
        .await
        .unwrap();
    let conn = env.sql().await;
    for sql in [
        "UPDATE audit_log SET actor = 'mallory'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ] {
        let err = conn.batch_execute(sql).await.unwrap_err();
        assert!(format!("{err:?}").contains("append-only"), "{sql}: {err:?}");
    }
    assert_eq!(
        env.store.verify_audit().await.unwrap(),
        farmco_cloud::store::audit::AuditVerdict::Ok { rows: 1 }
    );
}

#[tokio::test]
async fn partitions_exist_ahead_with_a_default() {
    let env = env().await;
    let today = farmco_cloud::store::now().date();
    let names = env.store.readings_partitions().await.unwrap();
    assert!(names.contains(&"readings_default".to_owned()), "{names:?}");
    let ahead = env.config.readings.partitions_ahead_days;
    for d in 0..=i64::from(ahead) {
        let day = today + time::Duration::days(d);
        let name = partition_name(period_of(day, 1).0);
        assert!(names.contains(&name), "missing {name} in {names:?}");
    }
    // Maintenance again creates nothing.
    let report = env
        .store
        .maintain_partitions(today, 1, ahead)
        .await
        .unwrap();
    assert!(report.created.is_empty(), "{report:?}");

    // A reading today lands in today's partition; a year-old one in the default partition.
    let now_ms = farmco_cloud::store::audit::unix_ms(farmco_cloud::store::now());
    let year_ms = 365 * 86_400_000;
    let rows = vec![
        ("s1".to_owned(), "soil_temp_c".to_owned(), now_ms, 21.5),
        (
            "s1".to_owned(),
            "soil_temp_c".to_owned(),
            now_ms - year_ms,
            19.0,
        ),
    ];
    env.store.insert_readings(Some("n"), &rows).await.unwrap();
    let conn = env.sql().await;
    let placed: Vec<(String, f64)> = conn
        .query(
            "SELECT tableoid::regclass::text, value FROM readings ORDER BY ts",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(placed[0], ("readings_default".to_owned(), 19.0));
    assert_eq!(
        placed[1],
        (partition_name(period_of(today, 1).0), 21.5),
        "{placed:?}"
    );
}

#[tokio::test]
async fn late_partitions_take_their_rows_from_the_default_partition() {
    let env = env().await;
    let today = farmco_cloud::store::now().date();
    let far = today + time::Duration::days(30);
    let far_ms = farmco_cloud::store::audit::unix_ms(far.midnight().assume_utc()) + 3_600_000;
    let rows: Vec<_> = (0..10)
        .map(|i| {
            (
                "s9".to_owned(),
                "battery_v".to_owned(),
                far_ms + i * 60_000,
                3.7,
            )
        })
        .collect();
    env.store.insert_readings(None, &rows).await.unwrap();
    assert_eq!(env.count("SELECT count(*) FROM readings_default").await, 10);
    let report = env.store.maintain_partitions(today, 1, 35).await.unwrap();
    assert_eq!(report.rows_moved, 10, "{report:?}");
    assert!(report.created.contains(&partition_name(far)));
    assert_eq!(env.count("SELECT count(*) FROM readings_default").await, 0);
    assert_eq!(env.count("SELECT count(*) FROM readings").await, 10);
    let name = partition_name(far);
    assert_eq!(env.count(&format!("SELECT count(*) FROM {name}")).await, 10);
    // The moved partition has the primary key: duplicates are still caught there.
    let outcome = env.store.insert_readings(None, &rows).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 10));
}

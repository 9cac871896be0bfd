//! The heartbeat's health report (`sync_health::collect`) read from a real store: SMS against
//! the cap, open alerts with what was sent about them, delivery per village and channel,
//! advisories' reach per village, and sensors (all on the first report of a day, then only
//! the changed ones).

use farmco_edge::config::Synchronous;
use farmco_edge::store::Store;
use farmco_edge::sync_health::{HealthSource, collect};
use rusqlite::params;

const DAY_MS: i64 = 86_400_000;

#[test]
fn the_report_reads_sms_alerts_delivery_advisories_and_sensors() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Synchronous::Normal, 1).unwrap();
    // 2026-01-14 10:00 IST.
    let now = 1_768_365_000_000;
    farmco_edge::demo::seed_demo_village(&store, 3, 1, now - 10 * DAY_MS).unwrap();
    let offset = time::UtcOffset::from_hms(5, 30, 0).unwrap();
    let advisory = "0b5c7a2e-9d41-4d43-a1f0-3c2f4b8e9a11";
    store
        .write(|tx| {
            let (farmer, farm): (String, String) = tx.query_row(
                "SELECT fr.id, f.id FROM farmers fr JOIN farms f ON f.farmer_id = fr.id
                 ORDER BY fr.id LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            for (state, day) in [
                ("sent", "2026-01-14"),
                ("delivered", "2026-01-14"),
                ("failed", "2026-01-14"),
                ("queued", ""),
                ("sent", "2026-01-13"),
            ] {
                tx.execute(
                    "INSERT INTO sms_outbox (recipient, body, priority, kind, state,
                         next_attempt_ms, sent_day, created_ms, updated_ms)
                     VALUES ('+919822000001', 'x', 1, 'alert', ?1, 0, NULLIF(?2, ''), ?3, ?3)",
                    params![state, day, now],
                )?;
            }
            tx.execute(
                "INSERT INTO alerts (rule_id, kind, severity, sensor_id, farm_id, farmer_id,
                     value, message, raised_ms)
                 VALUES ('wheat-dry', 'dry_soil', 'warning', 'soil-1', ?1, ?2, 11.5,
                         'Dry soil', ?3)",
                params![farm, farmer, now - 3_600_000],
            )?;
            let notify = |id: &str, key: &str, state: &str| {
                tx.execute(
                    "INSERT INTO notifications (id, farmer_id, dedupe_key, urgency, source,
                         message_key, message_args, state, counted, local_day, created_ms)
                     VALUES (?1, ?2, ?3, 'high', 'alert', 'dry-soil', '{}', 'scheduled', 1, 0, ?4)",
                    params![id, farmer, key, now - 1_800_000],
                )?;
                tx.execute(
                    "INSERT INTO notification_attempts (notification_id, channel, condition,
                         due_ms, state, updated_ms)
                     VALUES (?1, 'sms', 'always', ?2, ?3, ?2)",
                    params![id, now - 1_000_000, state],
                )
            };
            notify("n1", &format!("alert:wheat-dry:{farm}"), "delivered")?;
            notify("n2", &format!("advisory:{advisory}"), "delivered")?;
            notify("n3", &format!("advisory:{advisory}"), "failed")?;
            tx.execute(
                "INSERT INTO advisories (id, seq, village_codes, kind, title, body,
                     valid_from_ms, created_ms, received_ms)
                 VALUES (?1, 7, '[\"563412\"]', 'weather', 'Storm', '{}', ?2, ?2, ?2)",
                params![advisory, now - 3_000_000],
            )?;
            tx.execute(
                "INSERT INTO sensors (id, kind, lat, lon, farm_id, village_code, created_ms,
                     updated_ms)
                 VALUES ('soil-1', 'soil_moisture', 18.918, 74.385, ?1, '563412', ?2, ?2)",
                params![farm, now - 5 * DAY_MS],
            )?;
            Ok(())
        })
        .unwrap();
    let source = HealthSource {
        sms_daily_cap: 100,
        offset,
        modem: None,
    };
    let h = store
        .read(|c| Ok(collect(c, &source, dir.path(), Some(now - 60_000), now)?))
        .unwrap();
    assert_eq!(h.sms.sent_today, 3, "sent, delivered and failed today");
    assert_eq!(h.sms.daily_cap, 100);
    assert_eq!(h.sms.outbox_backlog, 1);
    assert_eq!(h.sms.failed_today, 1);
    assert_eq!(h.open_alerts, 1);
    assert!(h.disk_total_bytes > 0);
    assert_eq!(h.modem, None);
    let alert = &h.alerts[0];
    assert_eq!(alert.kind, "dry_soil");
    assert_eq!(alert.village_code.as_deref(), Some("563412"));
    assert_eq!((alert.notifications, alert.delivered), (1, 1));
    assert_eq!(h.delivery.len(), 1, "{:?}", h.delivery);
    let d = &h.delivery[0];
    assert_eq!(
        (d.village_code.as_str(), d.day.as_str(), d.channel.as_str()),
        ("563412", "2026-01-14", "sms")
    );
    assert_eq!((d.attempts, d.delivered, d.failed), (3, 2, 1));
    assert_eq!(h.advisories.len(), 1);
    let a = &h.advisories[0];
    assert_eq!(uuid::Uuid::from_bytes(a.advisory_id).to_string(), advisory);
    assert_eq!((a.notifications, a.delivered), (2, 1));
    // The sensor changed five days ago: left out of a report the same day as the last sync…
    assert!(h.sensors.is_empty(), "{:?}", h.sensors);
    // … and sent with the first report of a new day.
    let h = store
        .read(|c| Ok(collect(c, &source, dir.path(), Some(now - DAY_MS), now)?))
        .unwrap();
    assert_eq!(h.sensors.len(), 1);
    assert_eq!(h.sensors[0].sensor_id, "soil-1");
    assert!(h.sensors[0].farm_id.is_some());
}

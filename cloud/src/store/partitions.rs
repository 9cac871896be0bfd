//! Partitions of the readings table (native backend): one partition per period of
//! `partition_interval_days` (periods aligned to the Unix epoch, named `readings_pYYYYMMDD` after
//! their first day), created from today to `partitions_ahead_days` ahead, at start and by the
//! server's maintenance task, so inserts never wait for DDL.
//!
//! Readings outside every partition (an edge's weeks-old backlog, a sensor with a broken clock)
//! land in `readings_default`, so nothing is ever rejected. PostgreSQL refuses to create a
//! partition whose range has rows in the default partition; in that case the rows are moved in
//! the same transaction: create the table standalone, move the rows, attach it.
//!
//! With the TimescaleDB backend the extension creates chunks itself and this is a no-op.

use time::{Date, Duration as TimeDuration, OffsetDateTime};

use super::{LOCK_NAMESPACE, ReadingsBackend, Store, StoreResult, lock_keys, xact_lock};

/// Prefix of partition names.
const PARTITION_PREFIX: &str = "readings_p";

/// What a maintenance run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartitionReport {
    /// Partitions created, by name.
    pub created: Vec<String>,
    /// Rows moved out of the default partition into new partitions.
    pub rows_moved: u64,
}

/// The period containing `day`: its first day and the first day after it.
pub fn period_of(day: Date, interval_days: u32) -> (Date, Date) {
    let interval = i64::from(interval_days.max(1));
    let epoch = Date::from_julian_day(2_440_588).unwrap_or(Date::MIN); // 1970-01-01
    let days = i64::from(day.to_julian_day() - epoch.to_julian_day());
    let start_offset = days.div_euclid(interval) * interval;
    let start = epoch + TimeDuration::days(start_offset);
    (start, start + TimeDuration::days(interval))
}

/// The partition name of a period starting on `start`.
pub fn partition_name(start: Date) -> String {
    format!(
        "{PARTITION_PREFIX}{:04}{:02}{:02}",
        start.year(),
        u8::from(start.month()),
        start.day()
    )
}

fn bound_literal(day: Date) -> String {
    // Dates format as digits and dashes only; safe to inline in DDL (which takes no parameters).
    format!(
        "'{:04}-{:02}-{:02} 00:00:00+00'",
        day.year(),
        u8::from(day.month()),
        day.day()
    )
}

fn midnight(day: Date) -> OffsetDateTime {
    day.midnight().assume_utc()
}

/// Create the partitions for every period from `today` to `today + ahead_days`.
pub async fn ensure_partitions(
    client: &mut tokio_postgres::Client,
    today: Date,
    interval_days: u32,
    ahead_days: u32,
) -> StoreResult<PartitionReport> {
    let mut report = PartitionReport::default();
    let last = today + TimeDuration::days(i64::from(ahead_days));
    let mut period = period_of(today, interval_days);
    let tx = client.transaction().await?;
    xact_lock(&tx, LOCK_NAMESPACE, lock_keys::PARTITIONS).await?;
    let existing: Vec<String> = tx
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'readings'::regclass",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    loop {
        let (start, end) = period;
        let name = partition_name(start);
        if !existing.contains(&name) {
            let waiting: i64 = tx
                .query_one(
                    "SELECT count(*) FROM readings_default WHERE ts >= $1 AND ts < $2",
                    &[&midnight(start), &midnight(end)],
                )
                .await?
                .get(0);
            let range = format!(
                "FOR VALUES FROM ({}) TO ({})",
                bound_literal(start),
                bound_literal(end)
            );
            if waiting == 0 {
                tx.batch_execute(&format!(
                    "CREATE TABLE {name} PARTITION OF readings {range}"
                ))
                .await?;
            } else {
                tx.batch_execute(&format!(
                    "CREATE TABLE {name} (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
                ))
                .await?;
                let moved = tx
                    .execute(
                        &format!(
                            "WITH moved AS (
                                 DELETE FROM readings_default WHERE ts >= $1 AND ts < $2
                                 RETURNING sensor_id, metric, ts, value, node_id)
                             INSERT INTO {name} (sensor_id, metric, ts, value, node_id)
                             SELECT sensor_id, metric, ts, value, node_id FROM moved"
                        ),
                        &[&midnight(start), &midnight(end)],
                    )
                    .await?;
                tx.batch_execute(&format!(
                    "ALTER TABLE readings ATTACH PARTITION {name} {range}"
                ))
                .await?;
                report.rows_moved += moved;
            }
            report.created.push(name);
        }
        if end > last {
            break;
        }
        period = (
            end,
            end + TimeDuration::days(i64::from(interval_days.max(1))),
        );
    }
    tx.commit().await?;
    Ok(report)
}

impl Store {
    /// Create the readings partitions ahead (native backend; a no-op with TimescaleDB).
    pub async fn maintain_partitions(
        &self,
        today: Date,
        interval_days: u32,
        ahead_days: u32,
    ) -> StoreResult<PartitionReport> {
        if self.readings_backend() == ReadingsBackend::Timescale {
            return Ok(PartitionReport::default());
        }
        let mut conn = self.conn().await?;
        ensure_partitions(&mut conn, today, interval_days, ahead_days).await
    }

    /// Names of the readings partitions (including `readings_default`), sorted.
    pub async fn readings_partitions(&self) -> StoreResult<Vec<String>> {
        let conn = self.conn().await?;
        let mut names: Vec<String> = conn
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'readings'::regclass",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        names.sort();
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn periods_align_to_the_epoch() {
        assert_eq!(
            period_of(date!(2026 - 03 - 14), 1),
            (date!(2026 - 03 - 14), date!(2026 - 03 - 15))
        );
        let (s, e) = period_of(date!(2026 - 03 - 14), 7);
        assert!(s <= date!(2026 - 03 - 14) && date!(2026 - 03 - 14) < e);
        assert_eq!((e - s).whole_days(), 7);
        // 1970-01-01 starts a period of any width.
        assert_eq!(period_of(date!(1970 - 01 - 03), 7).0, date!(1970 - 01 - 01));
        assert_eq!(period_of(date!(1969 - 12 - 31), 7).1, date!(1970 - 01 - 01));
        assert_eq!(partition_name(date!(2026 - 03 - 04)), "readings_p20260304");
    }
}

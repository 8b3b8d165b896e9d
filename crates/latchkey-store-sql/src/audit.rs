//! The audit log (`audit_events`, migration 0006): append, page, and
//! delete what is past retention.

use latchkey_core::audit::AuditEvent;
use latchkey_store::{AuditQuery, StoreError, StoreResult};
use sqlx::Row;

use crate::{Db, map_err};

impl Db<'_> {
    pub(crate) async fn append_audit(&mut self, event: &AuditEvent) -> StoreResult<i64> {
        let details = event.details.to_string();
        self.insert_numbered(|| {
            sqlx::query(
                "INSERT INTO audit_events (id, at, kind, actor, subject, client_id, ip, details) \
                 SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7 FROM audit_events RETURNING id",
            )
            .bind(event.at)
            .bind(&event.kind)
            .bind(&event.actor)
            .bind(&event.subject)
            .bind(&event.client_id)
            .bind(&event.ip)
            .bind(&details)
        })
        .await
    }

    pub(crate) async fn delete_audit_before(&mut self, before: i64, limit: u32) -> StoreResult<u64> {
        // Ids rise with time: the oldest `limit` rows are the candidates, so
        // a pass costs the same however long the log is, with no index on `at`.
        let done = sqlx::query(
            "DELETE FROM audit_events WHERE id IN (SELECT id FROM \
             (SELECT id, at FROM audit_events ORDER BY id LIMIT $2) AS oldest \
             WHERE at < $1 AND id < (SELECT MAX(id) FROM audit_events))",
        )
        .bind(before)
        .bind(i64::from(limit))
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(done.rows_affected())
    }

    pub(crate) async fn list_audit(&mut self, query: &AuditQuery) -> StoreResult<Vec<(i64, AuditEvent)>> {
        // Two literal statements (sqlx takes only literal SQL): oldest or newest first.
        macro_rules! select {
            ($order:literal) => {
                concat!(
                    "SELECT id, at, kind, actor, subject, client_id, ip, details FROM audit_events \
                     WHERE id > $1 AND ($2 IS NULL OR kind = $2) AND ($3 IS NULL OR subject = $3) \
                     AND ($5 IS NULL OR actor = $5) AND ($6 IS NULL OR client_id = $6) \
                     AND ($7 IS NULL OR at >= $7) AND ($8 IS NULL OR at < $8) AND ($9 IS NULL OR id < $9) ",
                    $order
                )
            };
        }
        let sql: &'static str =
            if query.newest_first { select!("ORDER BY id DESC LIMIT $4") } else { select!("ORDER BY id LIMIT $4") };
        let rows = sqlx::query(sql)
            .bind(query.after)
            .bind(&query.kind)
            .bind(&query.subject)
            .bind(i64::from(query.limit))
            .bind(&query.actor)
            .bind(&query.client_id)
            .bind(query.since)
            .bind(query.until)
            .bind(query.before)
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                let details: String = row.try_get("details").map_err(map_err)?;
                Ok((
                    row.try_get("id").map_err(map_err)?,
                    AuditEvent {
                        at: row.try_get("at").map_err(map_err)?,
                        kind: row.try_get("kind").map_err(map_err)?,
                        actor: row.try_get("actor").map_err(map_err)?,
                        subject: row.try_get("subject").map_err(map_err)?,
                        client_id: row.try_get("client_id").map_err(map_err)?,
                        ip: row.try_get("ip").map_err(map_err)?,
                        details: serde_json::from_str(&details)
                            .map_err(|e| StoreError::Corrupt(format!("audit details: {e}")))?,
                    },
                ))
            })
            .collect()
    }
}

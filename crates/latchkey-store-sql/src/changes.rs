//! The change feed (`changes` table): see migration 0004 for why sequence
//! numbers are assigned as MAX + 1.

use latchkey_store::{Change, ChangeKind, StoreError, StoreResult};
use sqlx::{Connection as _, Row};

use crate::{Db, map_err};

/// Concurrent writers that pick the same number retry with the next one.
const ATTEMPTS: u32 = 16;

type Insert<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

impl Db<'_> {
    /// Runs an INSERT that numbers its row `MAX + 1` under a primary key
    /// (and returns it) until it lands; returns the number. The key makes a
    /// row visible only after every lower one, so readers that page by
    /// number skip nothing. Inside a transaction each attempt runs in a
    /// savepoint: a failed statement would end the whole transaction
    /// (PostgreSQL).
    pub(crate) async fn insert_numbered<'q>(&mut self, insert: impl Fn() -> Insert<'q>) -> StoreResult<i64> {
        let mut last = None;
        for _ in 0..ATTEMPTS {
            let attempt = if self.0.is_in_transaction() {
                let mut savepoint = self.0.begin().await.map_err(map_err)?;
                match insert().fetch_one(&mut *savepoint).await {
                    Ok(row) => {
                        savepoint.commit().await.map_err(map_err)?;
                        Ok(row)
                    }
                    Err(e) => {
                        savepoint.rollback().await.map_err(map_err)?;
                        Err(e)
                    }
                }
            } else {
                insert().fetch_one(&mut *self.0).await
            };
            match attempt.map_err(map_err).and_then(|row| row.try_get::<i64, _>(0).map_err(map_err)) {
                Err(e @ StoreError::Conflict(_)) => last = Some(e),
                other => return other,
            }
        }
        Err(last.expect("at least one attempt"))
    }
}

impl Db<'_> {
    pub(crate) async fn record_change(&mut self, kind: ChangeKind, subject: &str, now: i64) -> StoreResult<i64> {
        self.insert_numbered(|| {
            sqlx::query(
                "INSERT INTO changes (seq, kind, subject, created_at) \
                 SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3 FROM changes RETURNING seq",
            )
            .bind(kind.as_str())
            .bind(subject)
            .bind(now)
        })
        .await
    }

    pub(crate) async fn changes_after(&mut self, after: i64, limit: u32) -> StoreResult<Vec<Change>> {
        let rows = sqlx::query("SELECT seq, kind, subject FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind").map_err(map_err)?;
                Ok(Change {
                    seq: row.try_get("seq").map_err(map_err)?,
                    kind: ChangeKind::parse(&kind)
                        .ok_or_else(|| StoreError::Corrupt(format!("change kind {kind:?}")))?,
                    subject: row.try_get("subject").map_err(map_err)?,
                })
            })
            .collect()
    }

    pub(crate) async fn latest_change(&mut self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM changes")
            .fetch_one(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.try_get("seq").map_err(map_err)
    }
}

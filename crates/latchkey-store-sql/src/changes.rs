//! The change feed (`changes` table): see migration 0004 for why sequence
//! numbers are assigned as MAX + 1.

use async_trait::async_trait;
use latchkey_store::{Change, ChangeFeed, ChangeKind, StoreError, StoreResult};
use sqlx::Row;

use crate::{SqlStore, map_err};

/// Concurrent writers that pick the same number retry with the next one.
const ATTEMPTS: u32 = 16;

/// Runs an INSERT that numbers its row `MAX + 1` under a primary key until
/// it lands; returns the number. The key makes a row visible only after
/// every lower one, so readers that page by number skip nothing.
pub(crate) async fn insert_numbered<F, Fut>(insert: F) -> StoreResult<i64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = StoreResult<i64>>,
{
    let mut last = None;
    for _ in 0..ATTEMPTS {
        match insert().await {
            Err(e @ StoreError::Conflict(_)) => last = Some(e),
            other => return other,
        }
    }
    Err(last.expect("at least one attempt"))
}

#[async_trait]
impl ChangeFeed for SqlStore {
    async fn record_change(&self, kind: ChangeKind, subject: &str, now: i64) -> StoreResult<i64> {
        insert_numbered(|| async {
            let row = sqlx::query(
                "INSERT INTO changes (seq, kind, subject, created_at) \
                 SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3 FROM changes RETURNING seq",
            )
            .bind(kind.as_str())
            .bind(subject)
            .bind(now)
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
            row.try_get("seq").map_err(map_err)
        })
        .await
    }

    async fn changes_after(&self, after: i64, limit: u32) -> StoreResult<Vec<Change>> {
        let rows = sqlx::query("SELECT seq, kind, subject FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
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

    async fn latest_change(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM changes")
            .fetch_one(&self.pool)
            .await
            .map_err(map_err)?;
        row.try_get("seq").map_err(map_err)
    }
}

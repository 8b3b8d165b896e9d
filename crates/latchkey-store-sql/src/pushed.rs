//! Pushed authorization requests (RFC 9126).

use latchkey_core::grant::PushedRequest;
use latchkey_store::StoreResult;
use sqlx::Row;

use crate::{Db, map_err};

impl Db<'_> {
    pub(crate) async fn insert_pushed_request(&mut self, r: &PushedRequest) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO pushed_requests (uri_hash, client_id, params, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&r.uri_hash)
        .bind(&r.client_id)
        .bind(&r.params)
        .bind(r.created_at)
        .bind(r.expires_at)
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn take_pushed_request(
        &mut self,
        uri_hash: &str,
        client_id: &str,
        now: i64,
    ) -> StoreResult<Option<PushedRequest>> {
        // One conditional DELETE: of concurrent takers, one gets the row.
        let row = sqlx::query(
            "DELETE FROM pushed_requests WHERE uri_hash = $1 AND client_id = $2 AND expires_at > $3 \
             RETURNING params, created_at, expires_at",
        )
        .bind(uri_hash)
        .bind(client_id)
        .bind(now)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(PushedRequest {
            uri_hash: uri_hash.to_string(),
            client_id: client_id.to_string(),
            params: row.try_get("params").map_err(map_err)?,
            created_at: row.try_get("created_at").map_err(map_err)?,
            expires_at: row.try_get("expires_at").map_err(map_err)?,
        }))
    }
}

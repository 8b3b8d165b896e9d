//! Links to upstream accounts (`federated_identities`, migrations 0009 and 0010).

use latchkey_store::{FederatedIdentity, StoreResult};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{Db, map_err};

fn identity(row: &AnyRow) -> StoreResult<FederatedIdentity> {
    Ok(FederatedIdentity {
        issuer: row.try_get("issuer").map_err(map_err)?,
        subject: row.try_get("subject").map_err(map_err)?,
        user_id: row.try_get("user_id").map_err(map_err)?,
        provider: row.try_get("provider").map_err(map_err)?,
        linked_at: row.try_get("linked_at").map_err(map_err)?,
        provisioned: row.try_get::<i64, _>("provisioned").map_err(map_err)? != 0,
    })
}

impl Db<'_> {
    pub(crate) async fn link_identity(&mut self, link: &FederatedIdentity) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO federated_identities (issuer, subject, user_id, provider, linked_at, provisioned) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.issuer)
        .bind(&link.subject)
        .bind(&link.user_id)
        .bind(&link.provider)
        .bind(link.linked_at)
        .bind(i64::from(link.provisioned))
        .execute(&mut *self.0)
        .await
        .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn find_identity(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<FederatedIdentity>> {
        let row = sqlx::query(
            "SELECT issuer, subject, user_id, provider, linked_at, provisioned FROM federated_identities \
             WHERE issuer = $1 AND subject = $2",
        )
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&mut *self.0)
        .await
        .map_err(map_err)?;
        row.as_ref().map(identity).transpose()
    }

    pub(crate) async fn list_user_identities(&mut self, user_id: &str) -> StoreResult<Vec<FederatedIdentity>> {
        let rows = sqlx::query(
            "SELECT issuer, subject, user_id, provider, linked_at, provisioned FROM federated_identities \
             WHERE user_id = $1 ORDER BY linked_at, issuer, subject",
        )
        .bind(user_id)
        .fetch_all(&mut *self.0)
        .await
        .map_err(map_err)?;
        rows.iter().map(identity).collect()
    }

    pub(crate) async fn unlink_identity(&mut self, user_id: &str, issuer: &str, subject: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM federated_identities WHERE user_id = $1 AND issuer = $2 AND subject = $3")
            .bind(user_id)
            .bind(issuer)
            .bind(subject)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

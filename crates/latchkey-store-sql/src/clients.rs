use latchkey_core::Client;
use latchkey_store::{StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::{Connection as _, Row};

use crate::{Db, map_err};

macro_rules! columns {
    () => {
        "client_id, secret_hash, settings, created_at, updated_at"
    };
}

pub(crate) fn decode(row: &AnyRow) -> StoreResult<Client> {
    let settings: String = row.try_get("settings").map_err(map_err)?;
    Ok(Client {
        client_id: row.try_get("client_id").map_err(map_err)?,
        secret_hash: row.try_get("secret_hash").map_err(map_err)?,
        settings: serde_json::from_str(&settings).map_err(|e| StoreError::Corrupt(format!("client settings: {e}")))?,
        created_at: row.try_get("created_at").map_err(map_err)?,
        updated_at: row.try_get("updated_at").map_err(map_err)?,
    })
}

fn settings_json(client: &Client) -> String {
    serde_json::to_string(&client.settings).expect("client settings serialize")
}

impl Db<'_> {
    pub(crate) async fn insert_client(&mut self, client: &Client) -> StoreResult<()> {
        sqlx::query(concat!("INSERT INTO clients (", columns!(), ") VALUES ($1, $2, $3, $4, $5)"))
            .bind(&client.client_id)
            .bind(&client.secret_hash)
            .bind(settings_json(client))
            .bind(client.created_at)
            .bind(client.updated_at)
            .execute(&mut *self.0)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    pub(crate) async fn get_client(&mut self, client_id: &str) -> StoreResult<Option<Client>> {
        let row = sqlx::query(concat!("SELECT ", columns!(), " FROM clients WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(&mut *self.0)
            .await
            .map_err(map_err)?;
        row.as_ref().map(decode).transpose()
    }

    pub(crate) async fn list_clients(&mut self) -> StoreResult<Vec<Client>> {
        let rows = sqlx::query(concat!("SELECT ", columns!(), " FROM clients ORDER BY created_at, client_id"))
            .fetch_all(&mut *self.0)
            .await
            .map_err(map_err)?;
        rows.iter().map(decode).collect()
    }

    pub(crate) async fn update_client(&mut self, client: &Client) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE clients SET secret_hash = $2, settings = $3, updated_at = $4 WHERE client_id = $1")
                .bind(&client.client_id)
                .bind(&client.secret_hash)
                .bind(settings_json(client))
                .bind(client.updated_at)
                .execute(&mut *self.0)
                .await
                .map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes the client with its grants: the consents people gave it and
    /// its refresh tokens (its access tokens stop validating with it).
    pub(crate) async fn delete_client(&mut self, client_id: &str) -> StoreResult<bool> {
        let mut tx = self.0.begin().await.map_err(map_err)?;
        for statement in
            ["DELETE FROM consents WHERE client_id = $1", "DELETE FROM refresh_tokens WHERE client_id = $1"]
        {
            sqlx::query(sqlx::AssertSqlSafe(statement)).bind(client_id).execute(&mut *tx).await.map_err(map_err)?;
        }
        let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(done.rows_affected() == 1)
    }
}

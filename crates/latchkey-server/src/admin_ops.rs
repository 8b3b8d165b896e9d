//! What the admin API does through the server: key rotation and retirement
//! (with the configured key settings) and ending sessions (with the logout
//! machinery: refresh-token revocation and back-channel notices).

use std::sync::Arc;

use latchkey_admin::{AdminOps, OpError};
use latchkey_authorize::AuthorizeState;
use latchkey_core::Clock;
use latchkey_core::grant::Session;
use latchkey_store::{Store, StoreError};

use crate::config::Settings;
use crate::keys::KeyOpError;

pub struct ServerAdminOps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    pub authorize: AuthorizeState,
}

fn op_error(e: KeyOpError) -> OpError {
    match e {
        KeyOpError::Store(e) => OpError::Store(e),
        KeyOpError::Key(e) => OpError::Internal(e.to_string()),
        KeyOpError::UnknownKey(kid) => OpError::NotFound(format!("no key with kid {kid:?}")),
        KeyOpError::Refused(m) => OpError::Refused(m),
    }
}

#[async_trait::async_trait]
impl AdminOps for ServerAdminOps {
    async fn rotate_keys(&self, force: bool) -> Result<(String, String), OpError> {
        crate::keys::rotate(&*self.store, self.clock.as_ref(), &self.settings, force).await.map_err(op_error)
    }

    async fn retire_key(&self, kid: &str, immediately: bool) -> Result<String, OpError> {
        crate::keys::retire(&*self.store, self.clock.as_ref(), &self.settings, kid, immediately).await.map_err(op_error)
    }

    async fn end_session(&self, id_hash: &str) -> Result<Option<Session>, StoreError> {
        // The back-channel notices are delivered in the background.
        let ended = latchkey_authorize::logout::end_session(&self.authorize, id_hash).await?;
        Ok(ended.map(|(session, _delivery)| session))
    }
}

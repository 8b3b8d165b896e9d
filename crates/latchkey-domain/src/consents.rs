//! Consent: granting an app what it asked for (the consent page), and
//! cutting an app off (at `/account` or through the admin API).

use latchkey_core::Scope;
use latchkey_store::cascade::revoke_client_grants_in;
use latchkey_store::{Store, StoreResult};

/// Records that `user_id` granted `client_id` the scopes of `scope`, on top
/// of what it granted before (a consent only grows until it is revoked), in
/// one unit of work; returns the consent's scope now.
pub async fn grant_consent(
    store: &dyn Store,
    user_id: &str,
    client_id: &str,
    scope: &Scope,
    now: i64,
) -> StoreResult<Scope> {
    let tx = store.begin().await?;
    let granted = match tx.get_consent(user_id, client_id).await? {
        Some(existing) => Scope::from_tokens(existing.scope.iter().chain(scope.iter()).map(str::to_string)),
        None => scope.clone(),
    };
    tx.put_consent(user_id, client_id, &granted, now).await?;
    tx.commit().await?;
    Ok(granted)
}

/// What revoking a consent found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentRevoked {
    /// Whether there was a consent to delete.
    pub had_consent: bool,
    /// How many refresh-token families had a live token.
    pub families: u64,
}

impl ConsentRevoked {
    /// Whether anything was granted to the app (a consent, or a live family).
    pub fn found_anything(&self) -> bool {
        self.had_consent || self.families > 0
    }
}

/// Deletes the consent `user_id` gave `client_id` and revokes everything the
/// client holds for the person (refresh-token families, outstanding access
/// tokens), in one unit of work. The grants go even if the consent was
/// already gone.
pub async fn revoke_consent(
    store: &dyn Store,
    user_id: &str,
    client_id: &str,
    now: i64,
) -> StoreResult<ConsentRevoked> {
    // Deleting first: the unit of work holds the write lock before it reads.
    let tx = store.begin_writing().await?;
    let had_consent = tx.delete_consent(user_id, client_id).await?;
    let families = revoke_client_grants_in(&*tx, user_id, client_id, now).await?;
    tx.commit().await?;
    Ok(ConsentRevoked { had_consent, families })
}

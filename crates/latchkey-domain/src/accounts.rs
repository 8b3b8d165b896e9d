//! Federated accounts: a local account created for an upstream account seen
//! for the first time (just-in-time provisioning), and an upstream account
//! linked to a signed-in person's own, and such a link removed.

use latchkey_core::User;
use latchkey_store::{FederatedIdentity, FederatedIdentityStore, Store, StoreError, StoreResult};

/// What provisioning found.
#[derive(Debug)]
pub enum Provisioned {
    /// The account was created, linked to the upstream account.
    Created(User),
    /// A concurrent first sign-in of the same person won: its account.
    Existing(User),
}

/// Why provisioning created nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Another account has the username.
    #[error("an account with that username exists")]
    UsernameTaken,
    /// The upstream account was linked meanwhile, to an account that is
    /// gone again: signing in again sorts it out.
    #[error("the upstream account was linked concurrently")]
    TryAgain,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates `user` and links `link` (naming it) in one unit of work: an
/// outage between the two never leaves an account that nothing signs in to.
pub async fn provision(store: &dyn Store, user: User, link: &FederatedIdentity) -> Result<Provisioned, ProvisionError> {
    let tx = store.begin_writing().await?;
    match tx.insert_user(&user).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            tx.rollback().await?;
            return Err(ProvisionError::UsernameTaken);
        }
        Err(e) => return Err(e.into()),
    }
    match tx.link_identity(link).await {
        Ok(()) => {
            tx.commit().await?;
            Ok(Provisioned::Created(user))
        }
        // A concurrent first sign-in of the same person won: use its account.
        Err(StoreError::Conflict(_)) => {
            tx.rollback().await?;
            let winner = store.find_identity(&link.issuer, &link.subject).await?;
            let account = match winner {
                Some(w) => store.get_user(&w.user_id).await?,
                None => None,
            };
            account.map(Provisioned::Existing).ok_or(ProvisionError::TryAgain)
        }
        Err(e) => Err(e.into()),
    }
}

/// What linking found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    /// The link was made now.
    Linked,
    /// The upstream account was linked to this person already.
    AlreadyLinked,
    /// The upstream account is linked to another account here.
    LinkedElsewhere,
}

/// Links an upstream account to a person's account (`link.user_id`), unless
/// it is linked to another account.
pub async fn link(store: &dyn Store, link: &FederatedIdentity) -> StoreResult<Linked> {
    match store.find_identity(&link.issuer, &link.subject).await? {
        Some(existing) if existing.user_id == link.user_id => Ok(Linked::AlreadyLinked),
        Some(_) => Ok(Linked::LinkedElsewhere),
        None => match store.link_identity(link).await {
            Ok(()) => Ok(Linked::Linked),
            Err(StoreError::Conflict(_)) => Ok(Linked::LinkedElsewhere),
            Err(e) => Err(e),
        },
    }
}

/// Why unlinking removed nothing.
#[derive(Debug, thiserror::Error)]
pub enum UnlinkError {
    /// The person has no such link.
    #[error("no such link")]
    NotLinked,
    /// The link is the only way the person signs in (no password, no other
    /// link): removing it would lock them out.
    #[error("the only way to sign in")]
    LastSignInMethod,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Removes `user`'s link to the upstream account (`issuer`, `subject`),
/// never the last way they sign in.
pub async fn unlink<S: FederatedIdentityStore + ?Sized>(
    store: &S,
    user: &User,
    issuer: &str,
    subject: &str,
) -> Result<(), UnlinkError> {
    let links = store.list_user_identities(&user.id).await?;
    if !links.iter().any(|l| l.issuer == issuer && l.subject == subject) {
        return Err(UnlinkError::NotLinked);
    }
    if user.password_hash.is_none() && links.len() == 1 {
        return Err(UnlinkError::LastSignInMethod);
    }
    store.unlink_identity(&user.id, issuer, subject).await?;
    Ok(())
}

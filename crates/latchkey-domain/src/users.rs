//! Accounts: creating, saving and deleting a user, setting a password,
//! finding accounts, and an account's sign-in lock (reading and clearing it).
//! `latchkey user …`, the admin API's `/users` and the admin console call
//! these; each keeps its own parsing (flags, JSON or a form) and its own
//! wording of errors.

use latchkey_core::lockout::account_key;
use latchkey_core::{User, UserClaims, password, random};
use latchkey_store::{FailureStore, Store, StoreError, StoreResult};

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The username belongs to another account.
    #[error("username {0:?} is taken")]
    Taken(String),
    /// No such user (the id or username asked for).
    #[error("no user {0:?}")]
    NotFound(String),
    /// The new password does not meet the password policy.
    #[error("{0}")]
    Policy(password::PolicyRefusal),
    /// Hashing the password failed (an internal fault).
    #[error("cannot hash the password: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks `plain` against the password policy and hashes it with Argon2id,
/// off the async threads (hashing takes a while).
pub async fn hash_password(plain: String) -> Result<String, UserError> {
    password::check_policy(&plain).map_err(UserError::Policy)?;
    tokio::task::spawn_blocking(move || password::hash(&plain))
        .await
        .map_err(|e| UserError::Hash(e.to_string()))?
        .map_err(UserError::Hash)
}

/// A user to create; the username and claims already checked by the caller
/// (which names the fields in its own words).
#[derive(Debug, Clone)]
pub struct NewUser {
    pub username: String,
    /// The password in plain text, if one is set now.
    pub password: Option<String>,
    pub disabled: bool,
    pub claims: UserClaims,
}

/// Creates a user with a fresh subject identifier: refused if the username
/// is taken (ignoring case), the password (if any) checked against the
/// policy and hashed.
pub async fn create_user(store: &dyn Store, new: NewUser, now: i64) -> Result<User, UserError> {
    if store.find_user_by_username(&new.username).await?.is_some() {
        return Err(UserError::Taken(new.username));
    }
    let password_hash = match new.password {
        Some(p) => Some(hash_password(p).await?),
        None => None,
    };
    let user = User {
        id: random::subject(),
        username: new.username,
        password_hash,
        disabled: new.disabled,
        claims: new.claims,
        created_at: now,
        updated_at: now,
    };
    match store.insert_user(&user).await {
        Ok(()) => Ok(user),
        Err(StoreError::Conflict(_)) => Err(UserError::Taken(user.username)),
        Err(e) => Err(e.into()),
    }
}

/// Saves the changes made to `user` (username, claims, groups, disabled,
/// password hash), stamping `updated_at`. Refused if the new username is
/// taken; [`UserError::NotFound`] (with the username) if the user is gone.
pub async fn save_user(store: &dyn Store, user: &mut User, now: i64) -> Result<(), UserError> {
    user.updated_at = now;
    match store.update_user(user).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(UserError::NotFound(user.username.clone())),
        Err(StoreError::Conflict(_)) => Err(UserError::Taken(user.username.clone())),
        Err(e) => Err(e.into()),
    }
}

/// Sets `user`'s password (checked against the policy, hashed) and saves it.
pub async fn set_password(store: &dyn Store, user: &mut User, plain: String, now: i64) -> Result<(), UserError> {
    user.password_hash = Some(hash_password(plain).await?);
    save_user(store, user, now).await
}

/// Disables or enables `user` and saves it.
pub async fn set_disabled(store: &dyn Store, user: &mut User, disabled: bool, now: i64) -> Result<(), UserError> {
    user.disabled = disabled;
    save_user(store, user, now).await
}

/// Deletes user `id`; its links to upstream accounts go with it (in the
/// store's own transaction), so the upstream account may sign up again.
/// Returns whether there was such a user.
pub async fn delete_user(store: &dyn Store, id: &str) -> Result<bool, UserError> {
    Ok(store.delete_user(id).await?)
}

/// An account's failed sign-ins and lock (`security.lockout`), as read or
/// as they were before they were cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignInLock {
    /// When the lock ends (Unix seconds), if the account is locked.
    pub locked_until: Option<i64>,
    /// Failed sign-ins counted in the current window.
    pub failures: u64,
}

impl SignInLock {
    fn of(count: Option<latchkey_store::Failures>, now: i64) -> Self {
        Self {
            locked_until: count.filter(|c| c.locked_at(now)).map(|c| c.locked_until),
            failures: count.map_or(0, |c| c.count),
        }
    }

    pub fn locked(&self) -> bool {
        self.locked_until.is_some()
    }
}

/// `user`'s failed sign-ins and lock (kept under the username, in any case).
pub async fn sign_in_lock<S: FailureStore + ?Sized>(store: &S, user: &User, now: i64) -> StoreResult<SignInLock> {
    Ok(SignInLock::of(store.get_failures(&account_key(&user.username), now).await?, now))
}

/// Forgets `user`'s failed sign-ins, which ends its lock on every server at
/// once; returns what there was.
pub async fn unlock<S: FailureStore + ?Sized>(store: &S, user: &User, now: i64) -> StoreResult<SignInLock> {
    Ok(SignInLock::of(store.clear_failures(&account_key(&user.username), now).await?, now))
}

/// Accounts whose id, username, email or name contains `query` (ignoring
/// case), in the store's order, at most `limit` after skipping `offset`;
/// and whether more matched. Accounts are not indexed by these; a scan is
/// fine for the few thousand accounts a console serves.
pub async fn search(store: &dyn Store, query: &str, offset: usize, limit: usize) -> StoreResult<(Vec<User>, bool)> {
    let needle = query.trim().to_lowercase();
    let matches = |u: &User| {
        needle.is_empty()
            || u.id.to_lowercase().contains(&needle)
            || u.username.to_lowercase().contains(&needle)
            || [u.claims.email.as_deref(), u.claims.name.as_deref()]
                .into_iter()
                .flatten()
                .any(|v| v.to_lowercase().contains(&needle))
    };
    let mut found: Vec<User> =
        store.list_users().await?.into_iter().filter(matches).skip(offset).take(limit + 1).collect();
    let more = found.len() > limit;
    found.truncate(limit);
    Ok((found, more))
}

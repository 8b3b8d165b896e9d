//! Signing in with a password, within the sign-in limits ([`crate::limits`]),
//! wherever a password is checked: the login page, `/account`'s sign-in and
//! its password change.

use latchkey_core::acr::Level;
use latchkey_core::audit::AuditEvent;
use latchkey_core::lockout::LockPolicy;
use latchkey_core::{Clock, User, password};
use latchkey_store::{AuditStore, FactorStore, FailureStore, StoreError, UserStore, record_audit};

use crate::limits::{Attempt, Refusal};

/// Concurrent Argon2 verifications allowed: one per available core.
static PASSWORD_CHECKS: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
});

/// What checking a password needs.
#[derive(Clone, Copy)]
pub struct SignIn<'a> {
    pub users: &'a dyn UserStore,
    pub failures: &'a dyn FailureStore,
    /// Whether the person has a second factor still to give (see
    /// [`check_password`]).
    pub factors: &'a dyn FactorStore,
    pub audit: &'a dyn AuditStore,
    pub clock: &'a dyn Clock,
    pub limits: LockPolicy,
}

/// What a sign-in attempt came to.
pub enum PasswordCheck {
    /// The person, and the strongest sign-in their factors can give (read
    /// once here, for the flow's next step).
    Accepted(Box<User>, Level),
    /// Wrong username or password, or a disabled account (indistinguishable).
    Refused,
    /// Too many failures on this account or from this address: refused
    /// without a check.
    Throttled(Refusal),
}

/// Checks a username and password within the sign-in limits
/// ([`Attempt`]): a locked account or address is refused before any
/// check; otherwise exactly one Argon2 verification runs (even for unknown
/// users, so timing tells nothing), a failure is counted and recorded in the
/// audit log, and a success clears the account's failures (for a person with
/// a second factor, the correct code does). `client_id` is
/// the app being signed in to (none at `/account`).
pub async fn check_password(
    ctx: &SignIn<'_>,
    username: &str,
    password: &str,
    client_id: Option<&str>,
    address: std::net::IpAddr,
) -> Result<PasswordCheck, StoreError> {
    let mut attempt = Attempt::new(ctx, username, address, client_id);
    let permit = match attempt.admit().await? {
        Ok(permit) => permit,
        Err(refusal) => return Ok(PasswordCheck::Throttled(refusal)),
    };
    let user = if username.is_empty() || username.len() > 256 || password.len() > password::MAX_LEN {
        None
    } else {
        ctx.users.find_user_by_username(username).await?
    };
    let verified = verify_password(permit, password, user.as_ref().and_then(|u| u.password_hash.as_deref())).await;
    match user {
        Some(u) if verified && !u.disabled && u.password_hash.is_some() => {
            // A person with a second factor is not signed in yet: only a
            // correct code clears the account's failures
            // (`mfa::verify_code`), or knowing the password would reset the
            // count of guessed codes.
            let factors = crate::mfa::strongest_in(ctx.factors, &u.id).await?;
            if factors == Level::Single {
                attempt.succeeded().await?;
            }
            Ok(PasswordCheck::Accepted(Box::new(u), factors))
        }
        _ => {
            let client = client_id.unwrap_or("-");
            tracing::info!(event = "login_failure", client_id = %client, "sign-in failed");
            metrics::counter!("latchkey_logins_total", "outcome" => "failure").increment(1);
            // The username as typed (it may not exist); never the password.
            let event = AuditEvent::new(ctx.clock.now(), "login.failure", "anonymous")
                .subject(username.chars().take(256).collect::<String>())
                .ip(address);
            let event = match client_id {
                Some(id) => event.client(id),
                None => event,
            };
            record_audit(ctx.audit, event).await;
            attempt.failed().await?;
            Ok(PasswordCheck::Refused)
        }
    }
}

/// One Argon2 verification against `hash` (or a dummy hash, so that a
/// missing account costs the same time), in its turn. Argon2id needs 19 MiB
/// per check: at most one check per core at a time, so that a burst of
/// sign-ins queues instead of growing memory without bound; queued checks
/// reuse the memory of finished ones, and it is freed when none is left
/// (`password::demand`).
pub async fn verify_password(turn: PasswordTurn, password: &str, hash: Option<&str>) -> bool {
    let hash = hash.unwrap_or_else(|| password::dummy_hash()).to_string();
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let ok = password::verify(&password, &hash);
        drop(turn);
        ok
    })
    .await
    .unwrap_or(false)
}

/// A turn to run one Argon2 check: one of the `PASSWORD_CHECKS` permits,
/// and the announcement, made before queueing for it, that keeps finished
/// checks' memory for the checks still waiting.
pub struct PasswordTurn {
    _wanted: password::Demand,
    _permit: tokio::sync::SemaphorePermit<'static>,
}

impl PasswordTurn {
    /// A turn at once if a permit is free.
    pub fn try_now(wanted: password::Demand) -> Result<Self, password::Demand> {
        match PASSWORD_CHECKS.try_acquire() {
            Ok(permit) => Ok(Self { _wanted: wanted, _permit: permit }),
            Err(_) => Err(wanted),
        }
    }

    /// Waits for a permit; `None` only if the semaphore was closed.
    pub async fn wait(wanted: password::Demand) -> Option<Self> {
        let permit = PASSWORD_CHECKS.acquire().await.ok()?;
        Some(Self { _wanted: wanted, _permit: permit })
    }
}

/// Hashes a new password (Argon2id) in its turn, off the async threads;
/// None if hashing failed.
pub async fn hash_new_password(new: String) -> Option<String> {
    let _permit = PASSWORD_CHECKS.acquire().await.ok();
    match tokio::task::spawn_blocking(move || password::hash(&new)).await {
        Ok(Ok(hash)) => Some(hash),
        _ => None,
    }
}

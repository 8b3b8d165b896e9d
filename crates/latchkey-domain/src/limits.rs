//! Sign-in limits, applied wherever a password is checked (the login page,
//! `/account`'s sign-in and its password change): failures are counted per
//! account and per source address (`latchkey_core::lockout` decides, the
//! shared `FailureStore` counts). A locked account or address is refused
//! before any password check, by a path that does not depend on whether
//! the account exists, so a guesser learns nothing from it.

use std::net::IpAddr;

use latchkey_core::audit::AuditEvent;
use latchkey_core::lockout::{account_key, address_key};
use latchkey_store::{StoreError, record_audit};

use crate::sign_in::{PasswordTurn, SignIn};

/// Which limit refused an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Account,
    Address,
}

impl Limit {
    fn as_str(self) -> &'static str {
        match self {
            Self::Account => "account",
            Self::Address => "address",
        }
    }

    /// What the person is told.
    pub fn message(self) -> &'static str {
        match self {
            Self::Account => "Too many sign-in attempts for this account. Please wait a few minutes and try again.",
            Self::Address => "Too many failed sign-ins from your network. Please wait a few minutes and try again.",
        }
    }
}

/// An attempt refused without a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub limit: Limit,
    /// When the lock ends (Unix seconds).
    pub until: i64,
}

impl Refusal {
    /// Seconds until the lock ends, for `Retry-After`.
    pub fn retry_after(&self, now: i64) -> u64 {
        (self.until - now).max(1) as u64
    }
}

/// One password attempt, from the limits' point of view.
pub struct Attempt<'a> {
    ctx: &'a SignIn<'a>,
    /// The username as typed (for the audit log).
    username: &'a str,
    ip: IpAddr,
    /// Who the audit log names as the actor.
    actor: String,
    client_id: Option<&'a str>,
    account: Option<String>,
    address: Option<String>,
    /// The account had a count when the attempt was let through: a correct
    /// password then clears it (and only then, to spare a write).
    account_counted: bool,
}

impl<'a> Attempt<'a> {
    pub fn new(ctx: &'a SignIn<'a>, username: &'a str, ip: IpAddr, client_id: Option<&'a str>) -> Self {
        let policy = ctx.limits;
        Self {
            ctx,
            username,
            ip,
            actor: "anonymous".into(),
            client_id,
            account: (policy.max_failures > 0 && !username.is_empty()).then(|| account_key(username)),
            address: (policy.max_failures_per_address > 0).then(|| address_key(ip)),
            account_counted: false,
        }
    }

    /// The same, for a signed-in person (the password change).
    pub fn of_user(mut self, user_id: &str) -> Self {
        self.actor = format!("user:{user_id}");
        self
    }

    /// Lets the attempt through the limits and to an Argon2 slot, or records
    /// the refusal and returns it.
    pub async fn admit(&mut self) -> Result<Result<PasswordTurn, Refusal>, StoreError> {
        let refusal = match self.gate().await? {
            Some(refusal) => refusal,
            None => match self.permit().await? {
                Ok(permit) => return Ok(Ok(permit)),
                Err(refusal) => refusal,
            },
        };
        Ok(Err(self.refused(refusal).await?))
    }

    /// Lets an attempt that checks no password (a second-factor code) through
    /// the limits, or records the refusal and returns it. It needs no
    /// Argon2 slot.
    pub async fn admit_without_password(&mut self) -> Result<Result<(), Refusal>, StoreError> {
        match self.gate().await? {
            None => Ok(Ok(())),
            Some(refusal) => Ok(Err(self.refused(refusal).await?)),
        }
    }

    /// Whether the attempt may have its password checked: `Some` if its
    /// address or its account is locked. Reads only what the username as
    /// typed names, so an unknown account looks exactly like a real one.
    async fn gate(&mut self) -> Result<Option<Refusal>, StoreError> {
        let now = self.ctx.clock.now();
        let failures = self.ctx.failures;
        // The address first: a refused sprayer must not lengthen the locks
        // of the accounts it tries.
        if let Some(key) = &self.address
            && let Some(f) = failures.get_failures(key, now).await?
            && f.locked_at(now)
        {
            return Ok(Some(Refusal { limit: Limit::Address, until: f.locked_until }));
        }
        if let Some(key) = &self.account {
            let count = failures.get_failures(key, now).await?;
            self.account_counted = count.is_some();
            if let Some(f) = count.filter(|f| f.locked_at(now)) {
                return Ok(Some(Refusal { limit: Limit::Account, until: f.locked_until }));
            }
        }
        Ok(None)
    }

    /// Waits for an Argon2 slot. An attempt that had to queue is let
    /// through the limits again, since failures ahead of it may have locked
    /// its account meanwhile: a burst of guesses cannot all pass the gate
    /// before the first of them fails.
    async fn permit(&mut self) -> Result<Result<PasswordTurn, Refusal>, StoreError> {
        let wanted = match PasswordTurn::try_now(latchkey_core::password::demand()) {
            Ok(turn) => return Ok(Ok(turn)),
            Err(wanted) => wanted,
        };
        let turn = PasswordTurn::wait(wanted)
            .await
            .ok_or_else(|| StoreError::Backend("the password checks are closed".into()))?;
        match self.gate().await? {
            Some(refusal) => Ok(Err(refusal)),
            None => Ok(Ok(turn)),
        }
    }

    /// Records an attempt the limits refused, and returns the refusal as it
    /// stands after it. An attempt on a locked account counts as one more
    /// failure (it lengthens the lock, and counts against its address).
    async fn refused(&self, refusal: Refusal) -> Result<Refusal, StoreError> {
        tracing::warn!(
            event = "login_throttled",
            limit = refusal.limit.as_str(),
            client_id = %self.client_id.unwrap_or("-"),
            "sign-in refused: too many failures"
        );
        metrics::counter!("latchkey_logins_total", "outcome" => "throttled").increment(1);
        metrics::counter!("latchkey_login_throttled_total", "limit" => refusal.limit.as_str()).increment(1);
        let mut until = refusal.until;
        if refusal.limit == Limit::Account {
            until = until.max(self.count_account().await?.unwrap_or(until));
            self.count_address().await?;
        }
        let event = self.event("login.throttled").detail("limit", refusal.limit.as_str()).detail("until", until);
        record_audit(self.ctx.audit, event).await;
        Ok(Refusal { until, ..refusal })
    }

    /// Records a failed check: wrong password, unknown username, disabled account.
    pub async fn failed(&self) -> Result<(), StoreError> {
        self.count_account().await?;
        self.count_address().await
    }

    /// Records a correct password: the account's failures are forgotten.
    pub async fn succeeded(&self) -> Result<(), StoreError> {
        if let (Some(key), true) = (&self.account, self.account_counted) {
            self.ctx.failures.clear_failures(key, self.ctx.clock.now()).await?;
        }
        Ok(())
    }

    /// One more failure on the account; locks it (longer) at the limit.
    /// Returns when the lock it set ends.
    async fn count_account(&self) -> Result<Option<i64>, StoreError> {
        let Some(key) = &self.account else {
            return Ok(None);
        };
        let policy = &self.ctx.limits;
        let now = self.ctx.clock.now();
        let count = self.ctx.failures.add_failure(key, now, policy.window_seconds).await?;
        let Some(seconds) = policy.account_lock_seconds(count.count) else {
            return Ok(None);
        };
        let until = now + seconds;
        self.ctx.failures.lock_failures(key, until).await?;
        if !count.locked_at(now) {
            self.locked(Limit::Account, count.count, until).await;
        }
        Ok(Some(until))
    }

    /// One more failure from the address; at its limit, the address is
    /// refused until its count ends.
    async fn count_address(&self) -> Result<(), StoreError> {
        let Some(key) = &self.address else {
            return Ok(());
        };
        let policy = &self.ctx.limits;
        let now = self.ctx.clock.now();
        let count = self.ctx.failures.add_failure(key, now, policy.window_seconds).await?;
        if policy.address_limited(count.count) && !count.locked_at(now) {
            self.ctx.failures.lock_failures(key, count.expires_at).await?;
            self.locked(Limit::Address, count.count, count.expires_at).await;
        }
        Ok(())
    }

    async fn locked(&self, limit: Limit, failures: u64, until: i64) {
        tracing::warn!(event = "login_locked", limit = limit.as_str(), failures, until, "sign-ins locked");
        metrics::counter!("latchkey_login_locks_total", "limit" => limit.as_str()).increment(1);
        let event = self
            .event("login.locked")
            .detail("limit", limit.as_str())
            .detail("failures", failures)
            .detail("until", until);
        record_audit(self.ctx.audit, event).await;
    }

    /// An audit event about this attempt: the username as typed (never the
    /// password), the address, the app.
    fn event(&self, kind: &str) -> AuditEvent {
        let event = AuditEvent::new(self.ctx.clock.now(), kind, self.actor.as_str())
            .subject(self.username.chars().take(256).collect::<String>())
            .ip(self.ip);
        match self.client_id {
            Some(id) => event.client(id),
            None => event,
        }
    }
}

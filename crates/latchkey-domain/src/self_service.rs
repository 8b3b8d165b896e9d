//! Self-service by email (docs/self-service.md): verifying an address and
//! resetting a forgotten password. Links carry a random token of which only
//! the SHA-256 is stored; each works once (`EmailTokenStore::take_email_token`)
//! before it expires, and a new link of the same purpose replaces the old.
//! Emails are queued, never sent inline, so a request takes the same time
//! whether or not it names an account.

use std::net::IpAddr;

use latchkey_core::audit::AuditEvent;
use latchkey_core::lockout::address_key;
use latchkey_core::secret::hash_token;
use latchkey_core::{Clock, User, password};
use latchkey_email::Outbox;
use latchkey_email::messages::{AddressChanged, PasswordChanged, PasswordReset, Rendered, VerifyAddress};
use latchkey_store::{EmailToken, Store, StoreError, record_audit};

/// The purpose of a verification link.
pub const VERIFY: &str = "verify";
/// The purpose of a password reset link.
pub const RESET: &str = "reset";
/// Where the links lead, under the issuer.
pub const VERIFY_PATH: &str = "/verify-email";
pub const RESET_PATH: &str = "/reset-password";

/// What the operations need: the store, the outbox, and where links point
/// (the configured issuer, never a request's Host header).
pub struct Mail<'a> {
    pub store: &'a dyn Store,
    pub outbox: &'a Outbox,
    pub clock: &'a dyn Clock,
    pub settings: &'a latchkey_config::Email,
    pub issuer: &'a str,
    pub product: &'a str,
    /// The language of the request that sends the email, for recipients
    /// whose account names no shipped language (`locale`).
    pub lang: latchkey_i18n::Language,
    /// The operator's email templates (`ui.templates_dir`), if any.
    pub overrides: Option<&'a latchkey_email::Overrides>,
}

/// Whether a link was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    Sent,
    /// The account has no address to send to.
    NoAddress,
    /// Too many emails for this account in the window.
    Throttled,
}

impl Mail<'_> {
    /// The language of an email to `user`: the account's `locale`, else the request's.
    pub(crate) fn language_for(&self, user: &User) -> latchkey_i18n::Language {
        user.claims.locale.as_deref().and_then(latchkey_i18n::Language::from_tag).unwrap_or(self.lang)
    }

    fn link(&self, path: &str, token: &str) -> String {
        format!("{}{path}?token={token}", self.issuer.trim_end_matches('/'))
    }

    fn window(&self) -> u32 {
        u32::try_from(self.settings.rate_window_seconds.get()).unwrap_or(u32::MAX)
    }

    /// Counts an email for this account; false beyond `email.max_per_account`.
    async fn account_allows(&self, user_id: &str) -> Result<bool, StoreError> {
        let hits = self.store.hit(&format!("email:account:{user_id}"), self.window(), self.clock.now()).await?;
        Ok(hits <= self.settings.max_per_account)
    }

    /// A new link of `purpose` for `user_id` at `email`: stored hashed,
    /// replacing the person's previous one. Returns the link.
    async fn new_link(
        &self,
        user_id: &str,
        email: &str,
        purpose: &str,
        ttl: i64,
        path: &str,
    ) -> Result<String, StoreError> {
        let token = latchkey_core::random::token(32);
        let now = self.clock.now();
        let record = EmailToken {
            token_hash: hash_token(&token),
            purpose: purpose.to_string(),
            user_id: user_id.to_string(),
            email: email.to_string(),
            created_at: now,
            expires_at: now + ttl,
        };
        self.store.put_email_token(&record).await?;
        Ok(self.link(path, &token))
    }

    async fn queue(&self, to: &str, message: Result<Rendered, askama::Error>) -> Result<(), StoreError> {
        match message {
            Ok(message) => self.outbox.enqueue(to, message).await,
            // A template is part of the binary: this is a bug, not bad input.
            Err(e) => Err(StoreError::Backend(format!("cannot render an email: {e}"))),
        }
    }

    async fn audit(&self, kind: &str, user: &User, detail: Option<(&str, serde_json::Value)>) {
        let mut event = AuditEvent::new(self.clock.now(), kind, format!("user:{}", user.id)).subject(&user.id);
        if let Some((key, value)) = detail {
            event = event.detail(key, value);
        }
        record_audit(self.store, event).await;
    }
}

/// Sends a link that verifies the person's current address, within the
/// per-account limit. Nothing for an address already verified.
pub async fn send_verification(m: &Mail<'_>, user: &User) -> Result<Sent, StoreError> {
    let Some(address) = user.claims.email.as_deref() else { return Ok(Sent::NoAddress) };
    if !m.account_allows(&user.id).await? {
        return Ok(Sent::Throttled);
    }
    let ttl = m.settings.verification_ttl_seconds.secs();
    let link = m.new_link(&user.id, address, VERIFY, ttl, VERIFY_PATH).await?;
    let message = VerifyAddress {
        lang: m.language_for(user),
        product: m.product,
        username: &user.username,
        address,
        link,
        hours: (ttl + 3_599) / 3_600,
    };
    m.queue(address, message.render(m.overrides)).await?;
    m.audit("email.verification_sent", user, Some(("email", address.into()))).await;
    Ok(Sent::Sent)
}

/// Spends a verification link: the person's address is verified if it is
/// still the one the link was sent to. Returns the person, or `None` for an
/// unknown, used or expired link.
pub async fn verify(m: &Mail<'_>, token: &str) -> Result<Option<User>, StoreError> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    let Some(link) = m.store.take_email_token(&hash_token(token), VERIFY, m.clock.now()).await? else {
        return Ok(None);
    };
    let Some(mut user) = m.store.get_user(&link.user_id).await? else { return Ok(None) };
    if user.claims.email.as_deref() != Some(link.email.as_str()) {
        // The address changed since: this link verifies nothing.
        return Ok(None);
    }
    if !user.claims.email_verified {
        user.claims.email_verified = true;
        user.updated_at = m.clock.now();
        if !m.store.update_user(&user).await? {
            return Ok(None);
        }
    }
    // An account of open sign-up may now have tokens.
    m.store.clear_unverified_signup(&user.id).await?;
    m.audit("email.verified", &user, Some(("email", link.email.clone().into()))).await;
    Ok(Some(user))
}

/// Why an address change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeEmailError {
    /// Why, as a page says it.
    #[error("the address is not accepted")]
    Invalid(latchkey_i18n::Text),
    #[error("that is already your address")]
    Unchanged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// "The address is not accepted: <why>", with why as the message `why`.
fn refused(why: &'static str) -> latchkey_i18n::Text {
    latchkey_i18n::Text::with_message("account-error-address-refused", "reason", why)
}

/// Changes the person's address (the caller has checked their password or
/// a recent sign-in): it is unverified until its link is used, a link goes
/// to it, and the old address is told.
pub async fn change_email(m: &Mail<'_>, user: &mut User, new: &str) -> Result<(), ChangeEmailError> {
    let new = new.trim();
    if new.is_empty() {
        return Err(ChangeEmailError::Invalid(refused("claim-refused-email-missing")));
    }
    let old = user.claims.email.clone();
    if old.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(new)) {
        return Err(ChangeEmailError::Unchanged);
    }
    user.claims.set("email", new).map_err(|e| ChangeEmailError::Invalid(refused(e.refusal.message_id())))?;
    user.claims.email_verified = false;
    let now = m.clock.now();
    match crate::users::save_user(m.store, user, now).await {
        Ok(()) => {}
        Err(crate::users::UserError::Store(e)) => return Err(e.into()),
        Err(e) => {
            return Err(ChangeEmailError::Invalid(latchkey_i18n::Text::with(
                "account-error-address-refused",
                "reason",
                e.to_string(),
            )));
        }
    }
    let detail = serde_json::json!({"from": old, "to": new});
    m.audit("email.changed", user, Some(("email", detail))).await;
    if let Some(old) = old.as_deref() {
        let message = AddressChanged {
            lang: m.language_for(user),
            product: m.product,
            username: &user.username,
            new_address: new,
        };
        m.queue(old, message.render(m.overrides)).await?;
    }
    send_verification(m, user).await?;
    Ok(())
}

/// What a reset request is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetRequest {
    /// "If an account matches, we sent a link" (whether or not one does).
    Answered,
    /// Too many requests from this address: retry after this many seconds.
    Throttled(u64),
}

/// Someone asks for a reset link for `identifier` (a username or an email
/// address). Limited per source address (answered 429, which says nothing
/// about the account) and per account (beyond it, the same answer and no
/// email). The work done is the same whether or not an account matches:
/// the look-ups, the counters, a link's token and a rendered email; only
/// the final writes differ, and the email is queued, not sent inline.
pub async fn request_reset(m: &Mail<'_>, identifier: &str, ip: IpAddr) -> Result<ResetRequest, StoreError> {
    let now = m.clock.now();
    let window = m.window();
    let hits = m.store.hit(&format!("email:reset:{}", address_key(ip)), window, now).await?;
    if hits > m.settings.max_per_address {
        let retry = i64::from(window) - now.rem_euclid(i64::from(window).max(1));
        return Ok(ResetRequest::Throttled(retry.max(1) as u64));
    }
    let identifier = identifier.trim();
    let user = find_account(m.store, identifier).await?;
    let account = match &user {
        Some(u) => u.id.clone(),
        None => format!("unknown:{}", hash_token(&identifier.to_lowercase())),
    };
    let allowed = m.account_allows(&account).await?;
    let ttl = m.settings.password_reset_ttl_seconds.secs();
    let minutes = (ttl + 59) / 60;
    let to = match &user {
        Some(u) if allowed && !u.disabled && u.password_hash.is_some() => u.claims.email.clone(),
        _ => None,
    };
    match (user, to) {
        (Some(user), Some(to)) => {
            let actor = format!("user:{}", user.id);
            send_reset(m, &user, &to, &actor).await?;
        }
        _ => {
            // The same work as for a real account, sent nowhere: a link
            // stored for the name asked about (it matches no account, and
            // expires like any link) and an email rendered.
            // Never under the account's own id: that would replace a real link.
            let decoy = format!("none:{}", hash_token(&identifier.to_lowercase()));
            let link = m.new_link(&decoy, "", RESET, ttl, RESET_PATH).await?;
            let message = PasswordReset { lang: m.lang, product: m.product, username: identifier, link, minutes }
                .render(m.overrides);
            // An outbox row to no one, which the sender drops unsent, and
            // the audit event: the same writes as for a real account.
            m.queue(latchkey_email::DECOY, message).await?;
            let event = AuditEvent::new(m.clock.now(), "password.reset_requested", "anonymous")
                .ip(ip)
                .detail("account", "none or not served");
            record_audit(m.store, event).await;
        }
    }
    Ok(ResetRequest::Answered)
}

/// A reset link for `user` to `to`, stored hashed (replacing the person's
/// previous one), queued, and audited as `password.reset_requested` by
/// `actor`.
async fn send_reset(m: &Mail<'_>, user: &User, to: &str, actor: &str) -> Result<(), StoreError> {
    let ttl = m.settings.password_reset_ttl_seconds.secs();
    let link = m.new_link(&user.id, to, RESET, ttl, RESET_PATH).await?;
    let minutes = (ttl + 59) / 60;
    let message =
        PasswordReset { lang: m.language_for(user), product: m.product, username: &user.username, link, minutes };
    m.queue(to, message.render(m.overrides)).await?;
    let event = AuditEvent::new(m.clock.now(), "password.reset_requested", actor).subject(&user.id).detail("email", to);
    record_audit(m.store, event).await;
    Ok(())
}

/// An operator sends `user` a reset link (the admin console), as if the
/// person had asked for one, audited with the operator (`actor`) as the
/// actor. Not for a disabled account (its link would not work), nor one
/// without an address; counted against `email.max_per_account` as the
/// person's own requests are, so a person's inbox is not flooded.
pub async fn send_reset_link(m: &Mail<'_>, user: &User, actor: &str) -> Result<Sent, SendResetError> {
    if user.disabled {
        return Err(SendResetError::Disabled);
    }
    let Some(to) = user.claims.email.clone() else { return Ok(Sent::NoAddress) };
    if !m.account_allows(&user.id).await? {
        return Ok(Sent::Throttled);
    }
    send_reset(m, user, &to, actor).await?;
    Ok(Sent::Sent)
}

/// Why an operator's reset link was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendResetError {
    /// A reset link does not work for a disabled account: enable it first.
    #[error("the account is disabled; enable it first")]
    Disabled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The account a reset request names: by username, else (for something
/// that looks like an address) the one account with that address.
async fn find_account(store: &dyn Store, identifier: &str) -> Result<Option<User>, StoreError> {
    if identifier.is_empty() || identifier.len() > 320 {
        return Ok(None);
    }
    if let Some(user) = store.find_user_by_username(identifier).await? {
        return Ok(Some(user));
    }
    if !identifier.contains('@') {
        return Ok(None);
    }
    // Addresses are not indexed; a scan is fine for the few thousand
    // accounts this serves, and it runs only for address-shaped input.
    let mut matches = store
        .list_users()
        .await?
        .into_iter()
        .filter(|u| u.claims.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(identifier)));
    let first = matches.next();
    // An address two accounts share names neither.
    Ok(if matches.next().is_some() { None } else { first })
}

/// The person a reset link is for, if it is still good (not spent).
pub async fn reset_link_user(m: &Mail<'_>, token: &str) -> Result<Option<User>, StoreError> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    let Some(link) = m.store.get_email_token(&hash_token(token), RESET, m.clock.now()).await? else {
        return Ok(None);
    };
    Ok(m.store.get_user(&link.user_id).await?.filter(|u| !u.disabled))
}

/// Why a new password was not set.
#[derive(Debug, thiserror::Error)]
pub enum ResetError {
    /// Unknown, used or expired link (or the account went away).
    #[error("the link is not valid")]
    Link,
    #[error("the passwords do not match")]
    Mismatch,
    #[error("{0}")]
    Policy(password::PolicyRefusal),
    #[error("cannot hash the password")]
    Hash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Sets a new password through a reset link, spending it (one caller
/// wins). The caller ends the person's sessions; the person is told by
/// email, and the address the link went to counts as verified.
pub async fn reset_password(m: &Mail<'_>, token: &str, new: &str, confirm: &str) -> Result<User, ResetError> {
    if reset_link_user(m, token).await?.is_none() {
        return Err(ResetError::Link);
    }
    if new != confirm {
        return Err(ResetError::Mismatch);
    }
    password::check_policy(new).map_err(ResetError::Policy)?;
    let hash = crate::sign_in::hash_new_password(new.to_string()).await.ok_or(ResetError::Hash)?;
    let now = m.clock.now();
    let link = m.store.take_email_token(&hash_token(token), RESET, now).await?.ok_or(ResetError::Link)?;
    let mut user = m.store.get_user(&link.user_id).await?.filter(|u| !u.disabled).ok_or(ResetError::Link)?;
    user.password_hash = Some(hash);
    // Following the link proved the person reads that address.
    if user.claims.email.as_deref() == Some(link.email.as_str()) {
        user.claims.email_verified = true;
    }
    user.updated_at = now;
    if !m.store.update_user(&user).await? {
        return Err(ResetError::Link);
    }
    notify_password_changed(m, &user, true).await?;
    Ok(user)
}

/// Tells the person by email that their password changed.
pub async fn notify_password_changed(m: &Mail<'_>, user: &User, reset: bool) -> Result<(), StoreError> {
    let Some(to) = user.claims.email.as_deref() else { return Ok(()) };
    let when = latchkey_core::calendar::readable(m.clock.now());
    let message =
        PasswordChanged { lang: m.language_for(user), product: m.product, username: &user.username, when, reset };
    m.queue(to, message.render(m.overrides)).await
}

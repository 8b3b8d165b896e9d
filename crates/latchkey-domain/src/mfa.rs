//! Second factors: enrolling a TOTP authenticator (pending until the person
//! proves it works with a code), checking a code at sign-in (a TOTP code or a
//! recovery code, within the same limits as passwords), regenerating
//! recovery codes and removing factors. Every change is audited.
//!
//! The RFC 6238 arithmetic is `latchkey_core::totp`; single use across
//! replicas is the store's (`FactorStore::use_totp_step`,
//! `use_recovery_code`). The secret is sealed with `keys.encryption_key`
//! when one is configured, bound to the person's id so that a sealed secret
//! copied to another row does not open.

use std::net::IpAddr;

use latchkey_core::acr::Level;
use latchkey_core::audit::AuditEvent;
use latchkey_core::totp::{self, TotpSecret};
use latchkey_core::{Clock, User, recovery};
use latchkey_keys::{EncryptionKey, KeyError};
use latchkey_store::{FactorStore, Store, StoreError, TotpFactor, record_audit};

use crate::limits::{Attempt, Refusal};
use crate::sign_in::SignIn;

/// What the factor operations need.
#[derive(Clone, Copy)]
pub struct Factors<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    /// Seals TOTP secrets at rest; without it they are stored as base32.
    pub encryption_key: Option<&'a EncryptionKey>,
    /// The name authenticator apps show beside the account (the issuer
    /// part of the `otpauth://` label).
    pub issuer_name: &'a str,
}

impl<'a> Factors<'a> {
    fn audit(&self) -> &'a dyn latchkey_store::AuditStore {
        self.store
    }
}

/// What the person needs to add the factor to an authenticator app. Shown
/// once, while enrollment is pending.
#[derive(Debug, Clone)]
pub struct Enrollment {
    /// The secret as base32, for typing it in by hand.
    pub secret: String,
    /// The `otpauth://totp/...` URI (a link that opens the app on a phone).
    pub uri: String,
    /// The URI as a QR code, an SVG document rendered here.
    pub qr_svg: String,
}

/// Why an enrollment could not start.
#[derive(Debug, thiserror::Error)]
pub enum BeginError {
    #[error("an authenticator is already set up; remove it first")]
    AlreadyEnrolled,
    #[error("the secret could not be sealed: {0}")]
    Seal(KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Starts (or restarts) TOTP enrollment for `user`: a fresh secret, stored
/// pending, and what the enrollment page shows. A pending factor asks for
/// nothing at sign-in; an active one is never replaced this way.
pub async fn begin_enrollment(ctx: &Factors<'_>, user: &User, actor: &str) -> Result<Enrollment, BeginError> {
    let secret = TotpSecret::generate();
    let stored = seal(ctx, &user.id, &secret).map_err(BeginError::Seal)?;
    if !ctx.store.put_pending_totp(&user.id, &stored, ctx.clock.now()).await? {
        return Err(BeginError::AlreadyEnrolled);
    }
    record_audit(ctx.audit(), event(ctx, "mfa.enrollment_started", actor, &user.id).detail("factor", "totp")).await;
    let uri = secret.uri(ctx.issuer_name, &user.username);
    Ok(Enrollment { secret: secret.to_base32(), qr_svg: totp::qr_svg(&uri), uri })
}

/// The pending enrollment of `user`, to show its QR code again (after a
/// wrong code, or a reload); `None` when none is pending.
pub async fn pending_enrollment(ctx: &Factors<'_>, user: &User) -> Result<Option<Enrollment>, ConfirmError> {
    let Some(factor) = ctx.store.get_totp(&user.id).await?.filter(|f| f.confirmed_at.is_none()) else {
        return Ok(None);
    };
    let secret = open(ctx, &user.id, &factor.secret).map_err(ConfirmError::Open)?;
    let uri = secret.uri(ctx.issuer_name, &user.username);
    Ok(Some(Enrollment { secret: secret.to_base32(), qr_svg: totp::qr_svg(&uri), uri }))
}

/// Why an enrollment could not be confirmed.
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// No enrollment pending (never begun, already confirmed, or removed).
    #[error("no authenticator setup is in progress; start again")]
    NotStarted,
    #[error("that code is not right; check the time on your device and try the current code")]
    WrongCode,
    /// Another enrollment began meanwhile (another tab): this code was for
    /// a secret that is gone.
    #[error("the setup was restarted elsewhere; use the newest QR code")]
    Restarted,
    #[error("the stored secret could not be opened: {0}")]
    Open(KeyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Activates `user_id`'s pending factor if `code` is valid for it, and
/// issues the first recovery codes, both in one unit of work. Returns the
/// recovery codes, to be shown once. The code's time step counts as used.
pub async fn confirm_enrollment(
    ctx: &Factors<'_>,
    user_id: &str,
    code: &str,
    actor: &str,
) -> Result<Vec<String>, ConfirmError> {
    let Some(factor) = ctx.store.get_totp(user_id).await?.filter(|f| f.confirmed_at.is_none()) else {
        return Err(ConfirmError::NotStarted);
    };
    let secret = open(ctx, user_id, &factor.secret).map_err(ConfirmError::Open)?;
    let now = ctx.clock.now();
    let step = secret.verify(code, now, None).ok_or(ConfirmError::WrongCode)?;
    let codes = recovery::generate();
    let hashes: Vec<String> = codes.iter().map(|c| recovery::hash(c).expect("a generated code hashes")).collect();
    let tx = ctx.store.begin_writing().await?;
    if !tx.confirm_totp(user_id, &factor.secret, step, now).await? {
        return Err(ConfirmError::Restarted);
    }
    tx.replace_recovery_codes(user_id, &hashes, now).await?;
    tx.commit().await?;
    let event =
        event(ctx, "mfa.enrolled", actor, user_id).detail("factor", "totp").detail("recovery_codes", codes.len());
    record_audit(ctx.audit(), event).await;
    Ok(codes)
}

/// What checking a second-factor code came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeCheck {
    /// A valid TOTP code, now used.
    Totp,
    /// A recovery code, now spent; `left` are still unused (the person is
    /// told, and asked to regenerate when few remain).
    Recovery { left: u64 },
    /// Wrong, already used, or the person has no factor (indistinguishable
    /// to the caller; counted as a failure).
    Refused,
    /// Too many failures on this account or from this address: refused
    /// without a check.
    Throttled(Refusal),
}

/// Checks the code typed on the second sign-in page: a TOTP code (six
/// digits) or a recovery code, for `user` who already gave their password.
/// A failure counts against the account and the address exactly as a wrong
/// password does (`limits`), so guessing codes locks the account; a locked
/// account or address is refused before any check.
pub async fn verify_code(
    ctx: &Factors<'_>,
    sign_in: &SignIn<'_>,
    user: &User,
    code: &str,
    ip: IpAddr,
    client_id: Option<&str>,
) -> Result<CodeCheck, StoreError> {
    let mut attempt = Attempt::new(sign_in, &user.username, ip, client_id).of_user(&user.id);
    if let Err(refusal) = attempt.admit_without_password().await? {
        return Ok(CodeCheck::Throttled(refusal));
    }
    let actor = format!("user:{}", user.id);
    let outcome = if totp::looks_like_code(code) {
        check_totp(ctx, &user.id, code).await?
    } else {
        check_recovery_code(ctx, &user.id, code).await?
    };
    match outcome {
        CodeCheck::Refused => {
            let factor = if totp::looks_like_code(code) { "totp" } else { "recovery_code" };
            record_audit(
                ctx.audit(),
                with_client(event(ctx, "mfa.failure", &actor, &user.id), client_id, ip).detail("factor", factor),
            )
            .await;
            attempt.failed().await?;
        }
        CodeCheck::Recovery { left } => {
            let event = event(ctx, "mfa.recovery_code_used", &actor, &user.id).detail("left", left);
            record_audit(ctx.audit(), with_client(event, client_id, ip)).await;
            attempt.succeeded().await?;
        }
        CodeCheck::Totp => attempt.succeeded().await?,
        CodeCheck::Throttled(_) => {}
    }
    Ok(outcome)
}

async fn check_totp(ctx: &Factors<'_>, user_id: &str, code: &str) -> Result<CodeCheck, StoreError> {
    let Some(factor) = ctx.store.get_totp(user_id).await?.filter(|f| f.confirmed_at.is_some()) else {
        return Ok(CodeCheck::Refused);
    };
    let secret = match open(ctx, user_id, &factor.secret) {
        Ok(secret) => secret,
        // A secret sealed with a key the server no longer has: the person
        // cannot use it, but must not get a 500; an operator resets it.
        Err(e) => {
            tracing::error!(error = %e, "a TOTP secret could not be opened (keys.encryption_key changed?)");
            return Ok(CodeCheck::Refused);
        }
    };
    let now = ctx.clock.now();
    let Some(step) = secret.verify(code, now, factor.last_step) else {
        return Ok(CodeCheck::Refused);
    };
    // The same code sent twice at once: one request wins here, the other is refused.
    Ok(if ctx.store.use_totp_step(user_id, step, now).await? { CodeCheck::Totp } else { CodeCheck::Refused })
}

async fn check_recovery_code(ctx: &Factors<'_>, user_id: &str, code: &str) -> Result<CodeCheck, StoreError> {
    let Some(hash) = recovery::hash(code) else {
        return Ok(CodeCheck::Refused);
    };
    if !ctx.store.use_recovery_code(user_id, &hash).await? {
        return Ok(CodeCheck::Refused);
    }
    Ok(CodeCheck::Recovery { left: ctx.store.get_recovery_codes_left(user_id).await? })
}

/// A person's second factors, for `/account`, `latchkey user mfa list` and
/// the admin API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorStatus {
    /// The active TOTP factor's dates, if any (a pending one is not listed).
    pub totp: Option<TotpStatus>,
    pub recovery_codes_left: u64,
    pub passkeys: Vec<crate::passkeys::PasskeyInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpStatus {
    pub confirmed_at: i64,
    pub last_used_at: Option<i64>,
}

impl FactorStatus {
    /// As `latchkey user mfa list --json` and the admin API show it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "totp": self.totp.as_ref().map(|t| serde_json::json!({
                "confirmed_at": t.confirmed_at,
                "last_used_at": t.last_used_at,
            })),
            "recovery_codes_left": self.recovery_codes_left,
            "passkeys": self.passkeys.iter().map(|p| serde_json::json!({
                "credential_id": p.credential_id,
                "name": p.name,
                "created_at": p.created_at,
                "last_used_at": p.last_used_at,
            })).collect::<Vec<_>>(),
        })
    }

    /// Whether sign-in asks this person for a second factor.
    pub fn has_second_factor(&self) -> bool {
        self.totp.is_some()
    }
}

/// Whether sign-in asks `user_id` for a second factor.
pub async fn has_second_factor(ctx: &Factors<'_>, user_id: &str) -> Result<bool, StoreError> {
    Ok(strongest(ctx, user_id).await? > Level::Single)
}

/// The strongest sign-in `user_id` can give with the factors they have:
/// phishing-resistant with a passkey, two factors with an active
/// authenticator app, else one.
pub async fn strongest(ctx: &Factors<'_>, user_id: &str) -> Result<Level, StoreError> {
    strongest_in(ctx.store, user_id).await
}

/// [`strongest`] from the factor store alone (the password check has no
/// more): one read, two for a person without a passkey.
pub async fn strongest_in(factors: &dyn FactorStore, user_id: &str) -> Result<Level, StoreError> {
    if !factors.list_passkeys(user_id).await?.is_empty() {
        return Ok(Level::PhishingResistant);
    }
    let totp = factors.get_totp(user_id).await?.is_some_and(|f| f.confirmed_at.is_some());
    Ok(if totp { Level::Mfa } else { Level::Single })
}

pub async fn status(ctx: &Factors<'_>, user_id: &str) -> Result<FactorStatus, StoreError> {
    let totp = ctx.store.get_totp(user_id).await?.and_then(|f: TotpFactor| {
        f.confirmed_at.map(|confirmed_at| TotpStatus { confirmed_at, last_used_at: f.last_used_at })
    });
    Ok(FactorStatus {
        totp,
        recovery_codes_left: ctx.store.get_recovery_codes_left(user_id).await?,
        passkeys: crate::passkeys::list(ctx.store, user_id).await?,
    })
}

/// Why recovery codes could not be regenerated.
#[derive(Debug, thiserror::Error)]
pub enum RegenerateError {
    /// Recovery codes back up a factor; without one they would be a factor
    /// of their own.
    #[error("set up an authenticator first")]
    NotEnrolled,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces all of `user_id`'s recovery codes with ten new ones, returned to
/// be shown once; the old ones stop working at once.
pub async fn regenerate_recovery_codes(
    ctx: &Factors<'_>,
    user_id: &str,
    actor: &str,
) -> Result<Vec<String>, RegenerateError> {
    if !status(ctx, user_id).await?.has_second_factor() {
        return Err(RegenerateError::NotEnrolled);
    }
    let codes = recovery::generate();
    let hashes: Vec<String> = codes.iter().map(|c| recovery::hash(c).expect("a generated code hashes")).collect();
    ctx.store.replace_recovery_codes(user_id, &hashes, ctx.clock.now()).await?;
    record_audit(ctx.audit(), event(ctx, "mfa.recovery_codes_generated", actor, user_id).detail("count", codes.len()))
        .await;
    Ok(codes)
}

/// What removing a person's factors removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub totp: bool,
    pub recovery_codes: u64,
    pub passkeys: u64,
}

impl Removed {
    /// Whether the person had anything to remove.
    pub fn anything(&self) -> bool {
        self.totp || self.recovery_codes > 0 || self.passkeys > 0
    }

    /// As `latchkey user mfa reset --json` and the admin API show it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "totp_removed": self.totp,
            "recovery_codes_removed": self.recovery_codes,
            "passkeys_removed": self.passkeys,
        })
    }
}

/// Removes all of `user_id`'s second factors (the TOTP factor, pending or
/// active, and the recovery codes) in one unit of work: the person at
/// `/account`, or an operator resetting a person who lost their device.
/// Audited only when something was removed.
pub async fn remove_factors(ctx: &Factors<'_>, user_id: &str, actor: &str) -> Result<Removed, StoreError> {
    let tx = ctx.store.begin_writing().await?;
    let totp = tx.delete_totp(user_id).await?;
    let recovery_codes = tx.delete_recovery_codes(user_id).await?;
    tx.commit().await?;
    let removed = Removed { totp, recovery_codes, passkeys: 0 };
    if removed.anything() {
        let event =
            event(ctx, "mfa.removed", actor, user_id).detail("totp", totp).detail("recovery_codes", recovery_codes);
        record_audit(ctx.audit(), event).await;
    }
    Ok(removed)
}

/// Removes everything `user_id` has set up (the authenticator app, the
/// recovery codes and the passkeys), for a person who lost their devices:
/// `latchkey user mfa reset` and the admin API. Audited per kind removed.
pub async fn reset(ctx: &Factors<'_>, user_id: &str, actor: &str) -> Result<Removed, StoreError> {
    let removed = remove_factors(ctx, user_id, actor).await?;
    let passkeys = crate::passkeys::remove_all(ctx.store, ctx.clock, user_id, actor).await?;
    Ok(Removed { passkeys, ..removed })
}

/// The associated data that binds a sealed secret to its person.
fn binding(user_id: &str) -> String {
    format!("latchkey/totp/v1:{user_id}")
}

fn seal(ctx: &Factors<'_>, user_id: &str, secret: &TotpSecret) -> Result<String, KeyError> {
    // The private-key envelope is a generic AES-256-GCM text envelope;
    // without a key it passes the text through (base32, as apps show it).
    latchkey_keys::seal_private_key(&secret.to_base32(), &binding(user_id), ctx.encryption_key)
}

fn open(ctx: &Factors<'_>, user_id: &str, stored: &str) -> Result<TotpSecret, KeyError> {
    let text = latchkey_keys::open_private_key(stored, &binding(user_id), ctx.encryption_key)?;
    TotpSecret::from_base32(&text).ok_or(KeyError::Decrypt)
}

fn event(ctx: &Factors<'_>, kind: &str, actor: &str, user_id: &str) -> AuditEvent {
    AuditEvent::new(ctx.clock.now(), kind, actor).subject(user_id)
}

fn with_client(event: AuditEvent, client_id: Option<&str>, ip: IpAddr) -> AuditEvent {
    let event = event.ip(ip);
    match client_id {
        Some(id) => event.client(id),
        None => event,
    }
}

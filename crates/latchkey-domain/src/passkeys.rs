//! Passkeys (WebAuthn): registering one (named) for a signed-in person, and
//! signing in with one, either as the second factor after a password or
//! alone with a discoverable credential (passwordless). The ceremonies are
//! `webauthn-rs`'s; their state (the challenge) is kept in the store, bound
//! to what started it, taken once and short-lived, so that a ceremony begun
//! on one replica finishes on any other and a challenge answers once.
//!
//! The relying party is the issuer: RP ID its host, origin its origin.
//! Browsers refuse WebAuthn on IP-address origins, so an issuer at an IP
//! address has no relying party ([`relying_party`] is `None`) and the pages
//! offer no passkeys.

use std::net::IpAddr;

use latchkey_core::audit::AuditEvent;
use latchkey_core::secret::hash_token;
use latchkey_core::{Clock, User, random};
use latchkey_store::{PasskeyCeremony, Store, StoreError, StoredPasskey, record_audit};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, WebauthnBuilder,
};

pub use webauthn_rs::prelude::Webauthn;

use crate::limits::{Attempt, Refusal};
use crate::sign_in::SignIn;

/// How long a ceremony may take (the browser's prompt, the person finding
/// their key): what the options ask of the browser too.
pub const CEREMONY_SECONDS: i64 = 300;

/// The longest name a person may give a passkey.
pub const MAX_NAME_CHARS: usize = 64;

/// The relying party for `issuer`, or `None` when its host is not a domain
/// name (an IP address: browsers refuse WebAuthn there).
pub fn relying_party(issuer: &str, name: &str) -> Option<Webauthn> {
    let url = Url::parse(issuer).ok()?;
    let host = url.domain()?.to_string();
    let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(&host, &origin)
        .ok()?
        .rp_name(name)
        .timeout(std::time::Duration::from_secs(CEREMONY_SECONDS as u64))
        .build()
        .ok()
}

/// What the passkey operations need.
#[derive(Clone, Copy)]
pub struct Passkeys<'a> {
    pub store: &'a dyn Store,
    pub clock: &'a dyn Clock,
    pub webauthn: &'a Webauthn,
}

/// What the browser needs to run a ceremony: the options for
/// `navigator.credentials.create/get` (`{"publicKey": …}`, binary fields
/// base64url) and the ceremony's id to send back with the answer.
#[derive(Debug, Clone, Serialize)]
pub struct Challenge {
    pub ceremony: String,
    pub options: serde_json::Value,
}

/// Why a ceremony could not be begun or finished.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// Unknown, used, expired, or begun for someone or something else.
    #[error("this passkey request expired; try again")]
    Expired,
    /// The browser's answer does not verify (or is not one).
    #[error("the passkey could not be verified; try again")]
    Invalid,
    #[error("this passkey is registered already")]
    AlreadyRegistered,
    #[error("give the passkey a name (at most {MAX_NAME_CHARS} characters)")]
    BadName,
    #[error("no passkey to sign in with")]
    NoPasskeys,
    #[error("the passkey operation failed: {0}")]
    Webauthn(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The WebAuthn user handle of a person: derived from their id (stable, so
/// every passkey of theirs carries the same; a hash, so the id is not shown
/// to authenticators).
pub fn user_handle(user_id: &str) -> Uuid {
    let digest = Sha256::digest(format!("latchkey/webauthn-user/v1:{user_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

/// A credential id as stored and shown (`data-passkey-id`): base64url
/// without padding.
pub fn credential_id(raw: &[u8]) -> String {
    data_encoding::BASE64URL_NOPAD.encode(raw)
}

/// Begins registering a passkey for `user`: a discoverable credential
/// (`residentKey: "required"`) with user verification, none of theirs again.
/// `binding` names what may finish it (the person's session).
pub async fn begin_registration(ctx: &Passkeys<'_>, user: &User, binding: &str) -> Result<Challenge, PasskeyError> {
    let existing = load(ctx, &user.id).await?;
    let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect::<Vec<_>>();
    let display = user.claims.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&user.username);
    let (options, state) = ctx
        .webauthn
        .start_passkey_registration(user_handle(&user.id), &user.username, display, Some(exclude))
        .map_err(|e| PasskeyError::Webauthn(e.to_string()))?;
    let mut options = serde_json::to_value(options).map_err(|e| PasskeyError::Webauthn(e.to_string()))?;
    // webauthn-rs asks for a discoverable credential only where the
    // authenticator likes; passwordless sign-in needs one, so it is required.
    if let Some(selection) = options.pointer_mut("/publicKey/authenticatorSelection").and_then(|s| s.as_object_mut()) {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
        selection.insert("userVerification".into(), "required".into());
    }
    let ceremony = begin(ctx, binding, &CeremonyState::Registration(state)).await?;
    Ok(Challenge { ceremony, options })
}

/// Finishes a registration begun by [`begin_registration`] for the same
/// `user` and `binding`: verifies the browser's answer and saves the passkey
/// under `name`. Audited as `mfa.passkey_registered`.
pub async fn finish_registration(
    ctx: &Passkeys<'_>,
    user: &User,
    binding: &str,
    ceremony: &str,
    credential: &str,
    name: &str,
    actor: &str,
) -> Result<StoredPasskey, PasskeyError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(PasskeyError::BadName);
    }
    let Some(CeremonyState::Registration(state)) = take(ctx, binding, ceremony).await? else {
        return Err(PasskeyError::Expired);
    };
    let answer: RegisterPublicKeyCredential = serde_json::from_str(credential).map_err(|_| PasskeyError::Invalid)?;
    let passkey = ctx.webauthn.finish_passkey_registration(&answer, &state).map_err(|e| {
        tracing::info!(error = %e, "passkey registration refused");
        PasskeyError::Invalid
    })?;
    let now = ctx.clock.now();
    let stored = StoredPasskey {
        credential_id: credential_id(passkey.cred_id()),
        user_id: user.id.clone(),
        name: name.to_string(),
        data: serde_json::to_string(&passkey).map_err(|e| PasskeyError::Webauthn(e.to_string()))?,
        sign_count: 0,
        created_at: now,
        last_used_at: None,
    };
    match ctx.store.add_passkey(&stored).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(PasskeyError::AlreadyRegistered),
        Err(e) => return Err(e.into()),
    }
    let event = event(ctx, "mfa.passkey_registered", actor, &user.id)
        .detail("factor", "passkey")
        .detail("credential_id", stored.credential_id.as_str())
        .detail("name", stored.name.as_str());
    record_audit(ctx.store, event).await;
    Ok(stored)
}

/// Begins a sign-in with a passkey: `user`'s passkeys as the second factor
/// after their password, or (no `user`) any discoverable credential for
/// passwordless sign-in (empty `allowCredentials`). User verification is
/// required either way.
pub async fn begin_sign_in(ctx: &Passkeys<'_>, user: Option<&User>, binding: &str) -> Result<Challenge, PasskeyError> {
    let (options, state) = match user {
        Some(user) => {
            let keys: Vec<Passkey> = load(ctx, &user.id).await?.into_iter().map(|(_, p)| p).collect();
            if keys.is_empty() {
                return Err(PasskeyError::NoPasskeys);
            }
            let (options, state) =
                ctx.webauthn.start_passkey_authentication(&keys).map_err(|e| PasskeyError::Webauthn(e.to_string()))?;
            (options, CeremonyState::SecondFactor(state))
        }
        None => {
            let (options, state) =
                ctx.webauthn.start_discoverable_authentication().map_err(|e| PasskeyError::Webauthn(e.to_string()))?;
            (options, CeremonyState::Passwordless(state))
        }
    };
    let mut options = serde_json::to_value(options).map_err(|e| PasskeyError::Webauthn(e.to_string()))?;
    // Started by a button, not conditional mediation (autofill).
    if let Some(o) = options.as_object_mut() {
        o.remove("mediation");
    }
    let ceremony = begin(ctx, binding, &state).await?;
    Ok(Challenge { ceremony, options })
}

/// How a passkey was used, for the session's `amr` (RFC 8176).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasskeyUse {
    /// Bound to one device (not backup-eligible): a hardware-secured key,
    /// `hwk`; a synced passkey is `swk`.
    pub hardware: bool,
    /// The authenticator verified the person (PIN, biometrics): `user`.
    pub user_verified: bool,
}

impl PasskeyUse {
    /// The RFC 8176 methods this use stands for.
    pub fn amr(&self) -> Vec<String> {
        let mut amr = vec![if self.hardware { "hwk" } else { "swk" }.to_string()];
        if self.user_verified {
            amr.push("user".into());
        }
        amr
    }
}

/// What checking a passkey came to.
#[derive(Debug)]
pub enum PasskeyCheck {
    /// The person, and how their passkey was used.
    Accepted(Box<User>, PasskeyUse),
    /// Expired or foreign ceremony, unknown credential, bad signature, a
    /// counter that did not rise, a disabled account (indistinguishable to
    /// the caller; counted as a failure).
    Refused,
    /// Too many failures on this account or from this address.
    Throttled(Refusal),
}

/// Finishes a passkey sign-in begun by [`begin_sign_in`] with the same
/// `binding`. `expected` is the person who gave their password (second
/// factor); `None` for passwordless, where the credential names the person.
/// Failures count against the person (when known) and the address exactly
/// as wrong passwords and codes do; a locked account or address is refused
/// before any check.
#[allow(clippy::too_many_arguments)]
pub async fn finish_sign_in(
    ctx: &Passkeys<'_>,
    sign_in: &SignIn<'_>,
    expected: Option<&User>,
    binding: &str,
    ceremony: &str,
    credential: &str,
    ip: IpAddr,
    client_id: Option<&str>,
) -> Result<PasskeyCheck, StoreError> {
    let answer: Option<PublicKeyCredential> = serde_json::from_str(credential).ok();
    let stored = match &answer {
        Some(a) => ctx.store.get_passkey(&credential_id(a.get_credential_id())).await?,
        None => None,
    };
    // Whose attempt this is: the person who gave their password, else the
    // credential's owner; unknown, only the address counts.
    let owner = match (expected, &stored) {
        (Some(user), _) => Some(user.clone()),
        (None, Some(p)) => ctx.store.get_user(&p.user_id).await?,
        (None, None) => None,
    };
    let username = owner.as_ref().map(|u| u.username.clone()).unwrap_or_default();
    let mut attempt = Attempt::new(sign_in, &username, ip, client_id);
    if let Some(user) = &owner {
        attempt = attempt.of_user(&user.id);
    }
    // The ceremony is spent whatever comes next: a challenge answers once.
    let state = take(ctx, binding, ceremony).await?;
    if let Err(refusal) = attempt.admit_without_password().await? {
        return Ok(PasskeyCheck::Throttled(refusal));
    }
    let checked = match (answer, stored, &owner, state) {
        (Some(answer), Some(stored), Some(user), Some(state)) if stored.user_id == user.id && !user.disabled => {
            verify(ctx, &answer, &stored, user, state).await?
        }
        _ => None,
    };
    let actor = owner.as_ref().map(|u| format!("user:{}", u.id)).unwrap_or_else(|| "anonymous".into());
    match (checked, owner) {
        (Some((use_, credential_id)), Some(user)) => {
            attempt.succeeded().await?;
            let event = event(ctx, "mfa.passkey_used", &actor, &user.id)
                .detail("factor", "passkey")
                .detail("credential_id", credential_id)
                .detail("passwordless", expected.is_none());
            record_audit(ctx.store, with_client(event, client_id, ip)).await;
            Ok(PasskeyCheck::Accepted(Box::new(user), use_))
        }
        (_, owner) => {
            let mut event = AuditEvent::new(ctx.clock.now(), "mfa.failure", &actor).detail("factor", "passkey");
            if let Some(user) = &owner {
                event = event.subject(&user.id);
            }
            record_audit(ctx.store, with_client(event, client_id, ip)).await;
            attempt.failed().await?;
            Ok(PasskeyCheck::Refused)
        }
    }
}

/// Verifies `answer` against the ceremony's state and the stored passkey,
/// and records the use (counter, flags, time). `None` when it does not hold.
async fn verify(
    ctx: &Passkeys<'_>,
    answer: &PublicKeyCredential,
    stored: &StoredPasskey,
    user: &User,
    state: CeremonyState,
) -> Result<Option<(PasskeyUse, String)>, StoreError> {
    let Ok(mut passkey) = serde_json::from_str::<Passkey>(&stored.data) else {
        tracing::error!(credential_id = %stored.credential_id, "a stored passkey does not parse");
        return Ok(None);
    };
    let result = match state {
        CeremonyState::SecondFactor(state) => ctx.webauthn.finish_passkey_authentication(answer, &state),
        CeremonyState::Passwordless(state) => {
            // The user handle the authenticator returned must be this person's.
            let handle = ctx.webauthn.identify_discoverable_authentication(answer).ok().map(|(handle, _)| handle);
            if handle != Some(user_handle(&user.id)) {
                return Ok(None);
            }
            ctx.webauthn.finish_discoverable_authentication_v2(answer, state, &passkey)
        }
        CeremonyState::Registration(_) => return Ok(None),
    };
    let result = match result {
        Ok(result) if result.user_verified() => result,
        Ok(_) => return Ok(None),
        Err(e) => {
            tracing::info!(error = %e, "passkey assertion refused");
            return Ok(None);
        }
    };
    if passkey.update_credential(&result).is_none() {
        return Ok(None);
    }
    let data = serde_json::to_string(&passkey).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // One conditional UPDATE: a counter that did not rise (a cloned
    // authenticator, or the same answer twice at once) is refused here.
    if !ctx.store.use_passkey(&stored.credential_id, &data, i64::from(result.counter()), ctx.clock.now()).await? {
        return Ok(None);
    }
    let use_ = PasskeyUse { hardware: !result.backup_eligible(), user_verified: result.user_verified() };
    Ok(Some((use_, stored.credential_id.clone())))
}

/// A person's passkey as `/account` and the CLI list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    pub credential_id: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub async fn list(store: &dyn Store, user_id: &str) -> Result<Vec<PasskeyInfo>, StoreError> {
    Ok(store
        .list_passkeys(user_id)
        .await?
        .into_iter()
        .map(|p| PasskeyInfo {
            credential_id: p.credential_id,
            name: p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
        })
        .collect())
}

/// Whether `user_id` has a passkey (a second factor to ask for).
pub async fn has_passkey(store: &dyn Store, user_id: &str) -> Result<bool, StoreError> {
    Ok(!store.list_passkeys(user_id).await?.is_empty())
}

/// Removes one of `user_id`'s passkeys; false if they have none by that id.
/// Audited as `mfa.passkey_removed`.
pub async fn remove(
    store: &dyn Store,
    clock: &dyn Clock,
    user_id: &str,
    credential_id: &str,
    actor: &str,
) -> Result<bool, StoreError> {
    let removed = store.delete_passkey(user_id, credential_id).await?;
    if removed {
        let event = AuditEvent::new(clock.now(), "mfa.passkey_removed", actor)
            .subject(user_id)
            .detail("factor", "passkey")
            .detail("credential_id", credential_id);
        record_audit(store, event).await;
    }
    Ok(removed)
}

/// Removes all of `user_id`'s passkeys (an operator's reset); how many.
/// Audited as `mfa.passkey_removed` with the count.
pub async fn remove_all(store: &dyn Store, clock: &dyn Clock, user_id: &str, actor: &str) -> Result<u64, StoreError> {
    let removed = store.delete_passkeys(user_id).await?;
    if removed > 0 {
        let event = AuditEvent::new(clock.now(), "mfa.passkey_removed", actor)
            .subject(user_id)
            .detail("factor", "passkey")
            .detail("count", removed);
        record_audit(store, event).await;
    }
    Ok(removed)
}

/// A ceremony's server-side state, as stored.
#[derive(Serialize, Deserialize)]
enum CeremonyState {
    Registration(PasskeyRegistration),
    SecondFactor(PasskeyAuthentication),
    Passwordless(DiscoverableAuthentication),
}

async fn begin(ctx: &Passkeys<'_>, binding: &str, state: &CeremonyState) -> Result<String, PasskeyError> {
    let id = random::token(32);
    let ceremony = PasskeyCeremony {
        id_hash: hash_token(&id),
        binding: binding.to_string(),
        state: serde_json::to_string(state).map_err(|e| PasskeyError::Webauthn(e.to_string()))?,
        expires_at: ctx.clock.now() + CEREMONY_SECONDS,
    };
    ctx.store.put_passkey_ceremony(&ceremony).await?;
    Ok(id)
}

/// Takes the ceremony `id` if it was begun for `binding`; `None` otherwise
/// (taken anyway: a ceremony named by the wrong request is spent too).
async fn take(ctx: &Passkeys<'_>, binding: &str, id: &str) -> Result<Option<CeremonyState>, StoreError> {
    if id.is_empty() || id.len() > 128 {
        return Ok(None);
    }
    let Some(ceremony) = ctx.store.take_passkey_ceremony(&hash_token(id), ctx.clock.now()).await? else {
        return Ok(None);
    };
    if !latchkey_core::secret::constant_time_eq(ceremony.binding.as_bytes(), binding.as_bytes()) {
        return Ok(None);
    }
    Ok(serde_json::from_str(&ceremony.state).ok())
}

async fn load(ctx: &Passkeys<'_>, user_id: &str) -> Result<Vec<(StoredPasskey, Passkey)>, StoreError> {
    let mut keys = Vec::new();
    for stored in ctx.store.list_passkeys(user_id).await? {
        match serde_json::from_str::<Passkey>(&stored.data) {
            Ok(passkey) => keys.push((stored, passkey)),
            Err(e) => {
                tracing::error!(error = %e, credential_id = %stored.credential_id, "a stored passkey does not parse")
            }
        }
    }
    Ok(keys)
}

fn event(ctx: &Passkeys<'_>, kind: &str, actor: &str, user_id: &str) -> AuditEvent {
    AuditEvent::new(ctx.clock.now(), kind, actor).subject(user_id)
}

fn with_client(event: AuditEvent, client_id: Option<&str>, ip: IpAddr) -> AuditEvent {
    let event = event.ip(ip);
    match client_id {
        Some(id) => event.client(id),
        None => event,
    }
}

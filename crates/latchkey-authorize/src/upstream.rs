//! Signing in through an upstream identity provider (docs/federation.md):
//! the login page's buttons and home-realm discovery lead here, the
//! provider's answer comes back to the callback, and the person is then
//! recognised by (upstream issuer, upstream subject), provisioned on first
//! sign-in if the provider allows it, or linked to the signed-in account.
//!
//! What is kept while the person is away is an interaction record of stage
//! `Upstream`, keyed by the hash of the `state` sent upstream and bound to
//! the browser's CSRF cookie: an unknown, replayed or foreign callback finds
//! nothing and fails closed.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::audit::AuditEvent;
use latchkey_core::grant::{Interaction, InteractionStage};
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::user::UserClaims;
use latchkey_core::{User, random};
use latchkey_domain::accounts::{self, Linked, ProvisionError, Provisioned, UnlinkError};
use latchkey_federation::{ClaimUpdate, FederationError, Upstream, UpstreamIdentity};
use latchkey_http::{Form, FormRejection, Params, cookies};
use latchkey_store::{FederatedIdentity, StoreError};
use serde::{Deserialize, Serialize};

use crate::account::{AccountError, SignedInForm, see_other, signed_in_form};
use crate::failure::{Failure, InteractionError};
use crate::pages::Text;
use crate::request::FirstFactor;
use crate::step_up::{self, Needs};
use crate::{
    ACR_MFA, AuthorizeState, CSRF_COOKIE, FlowError, InteractionForm, SignInMethod, after_first_factor, csrf_token,
    current_session, load_interaction, proceed_after_login, request_of, start_session,
};
use latchkey_core::acr::Level;

/// `acr` of a sign-in at an upstream provider whose second factor is not
/// trusted (or that showed none).
pub use latchkey_core::acr::ACR_FEDERATED;
/// `amr` of a sign-in at an upstream provider that sent none.
pub const AMR_FEDERATED: &str = "fed";

/// What the callback needs, kept server-side while the person is upstream.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    provider: String,
    nonce: String,
    pkce_verifier: String,
    purpose: Purpose,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Purpose {
    /// Signing in for an authorization request (its interaction's hash).
    Login { interaction: String },
    /// Linking the upstream account to this signed-in account.
    Link { user_id: String },
}

/// How the upstream sign-in routes fail (`/upstream/{id}/start`, its
/// callback, `/account/link/{id}`, `/account/unlink`). Details of a failed
/// exchange with the provider go to the log only.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("no such provider")]
    UnknownProvider,
    #[error("unreadable form")]
    Form(FormRejection),
    #[error(transparent)]
    Interaction(#[from] InteractionError),
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The callback's `state` is unknown, used, or another provider's.
    #[error("unknown or used state")]
    Expired,
    /// The callback came to another browser than the one that left.
    #[error("callback from another browser")]
    OtherBrowser,
    /// The callback names another issuer (RFC 9207).
    #[error("callback names another issuer")]
    WrongIssuer { provider: String },
    /// The provider answered with an error code.
    #[error("the provider returned {error}")]
    Refused { provider: String, error: String },
    /// A callback with neither an error nor a code.
    #[error("no code")]
    Incomplete { provider: String },
    #[error("the provider is unreachable")]
    Unreachable { provider: String },
    /// Its answer (token response, ID token) did not verify.
    #[error("the provider's answer did not verify")]
    Unverifiable { provider: String },
    #[error("the linked account is gone")]
    LinkedAccountGone,
    #[error("the account is disabled")]
    Disabled,
    /// The authorization request the person left from expired meanwhile.
    #[error("the interaction expired")]
    LoginExpired,
    /// Just-in-time provisioning is not allowed for this person.
    #[error("provisioning refused")]
    NotProvisioned(Provisioning),
    /// Provisioning lost a race with another first sign-in.
    #[error("provisioning raced")]
    TryAgain,
    #[error("no longer signed in to the account to link")]
    NotSignedIn,
    #[error("the upstream account is linked to another account")]
    LinkedElsewhere { provider: String },
    #[error("no such link")]
    NotLinked,
    #[error("the only way to sign in")]
    LastSignInMethod,
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why no account was provisioned for an upstream sign-in.
#[derive(Debug)]
pub enum Provisioning {
    /// The provider does not provision: the person must link an account.
    Off {
        provider: String,
    },
    EmailUnverified {
        provider: String,
    },
    DomainNotAllowed,
    NoUsername {
        provider: String,
        claim: String,
    },
    UsernameTaken {
        provider: String,
        username: String,
    },
}

impl From<UpstreamError> for Failure {
    fn from(e: UpstreamError) -> Self {
        use StatusCode as S;
        match e {
            UpstreamError::UnknownProvider => Failure::says(S::NOT_FOUND, Text::new("upstream-unknown")),
            UpstreamError::Form(rejection) => Failure::form(&rejection),
            UpstreamError::Interaction(e) => e.into(),
            UpstreamError::Account(e) => e.into(),
            UpstreamError::Expired => Failure::says(S::BAD_REQUEST, Text::new("upstream-expired")),
            UpstreamError::OtherBrowser => Failure::says(S::FORBIDDEN, Text::new("upstream-other-browser")),
            UpstreamError::WrongIssuer { provider } => {
                Failure::says(S::BAD_REQUEST, Text::with("upstream-wrong-issuer", "provider", provider))
            }
            UpstreamError::Refused { provider, error } => {
                let id = match error.as_str() {
                    "access_denied" => "upstream-refused",
                    "login_required" | "interaction_required" | "consent_required" => "upstream-sign-in-again",
                    _ => "upstream-failed",
                };
                Failure::says(S::FORBIDDEN, Text::with(id, "provider", provider))
            }
            UpstreamError::Incomplete { provider } => {
                Failure::says(S::BAD_REQUEST, Text::with("upstream-incomplete", "provider", provider))
            }
            UpstreamError::Unreachable { provider } => {
                Failure::says(S::SERVICE_UNAVAILABLE, Text::with("upstream-unreachable", "provider", provider))
            }
            UpstreamError::Unverifiable { provider } => {
                Failure::says(S::BAD_GATEWAY, Text::with("upstream-unverifiable", "provider", provider))
            }
            UpstreamError::LinkedAccountGone => Failure::says(S::FORBIDDEN, Text::new("upstream-linked-gone")),
            UpstreamError::Disabled => Failure::says(S::FORBIDDEN, Text::new("upstream-disabled")),
            UpstreamError::LoginExpired => Failure::says(S::BAD_REQUEST, Text::new("upstream-login-expired")),
            UpstreamError::NotProvisioned(why) => match why {
                Provisioning::Off { provider } => {
                    Failure::says(S::FORBIDDEN, Text::with("upstream-not-linked-here", "provider", provider))
                }
                Provisioning::EmailUnverified { provider } => {
                    Failure::says(S::FORBIDDEN, Text::with("upstream-email-unverified", "provider", provider))
                }
                Provisioning::DomainNotAllowed => Failure::says(S::FORBIDDEN, Text::new("upstream-domain-not-allowed")),
                Provisioning::NoUsername { provider, claim } => Failure::says(
                    S::FORBIDDEN,
                    Text::with("upstream-no-username", "provider", provider).and("claim", claim),
                ),
                Provisioning::UsernameTaken { provider, username } => Failure::says(
                    S::CONFLICT,
                    Text::with("upstream-username-taken", "username", username).and("provider", provider),
                ),
            },
            UpstreamError::TryAgain => Failure::says(S::CONFLICT, Text::new("upstream-try-again")),
            UpstreamError::NotSignedIn => Failure::says(S::FORBIDDEN, Text::new("upstream-not-signed-in")),
            UpstreamError::LinkedElsewhere { provider } => {
                Failure::says(S::CONFLICT, Text::with("upstream-linked-elsewhere", "provider", provider))
            }
            UpstreamError::NotLinked => Failure::says(S::BAD_REQUEST, Text::new("upstream-not-linked")),
            UpstreamError::LastSignInMethod => Failure::says(S::BAD_REQUEST, Text::new("upstream-last-method")),
            UpstreamError::Flow(e) => e.into(),
            UpstreamError::Store(e) => Failure::store(&e),
        }
    }
}

impl IntoResponse for UpstreamError {
    fn into_response(self) -> Response {
        Failure::from(self).into_response()
    }
}

fn upstream_of<'a>(state: &'a AuthorizeState, id: &str) -> Result<&'a Arc<Upstream>, UpstreamError> {
    state.upstreams.get(id).ok_or(UpstreamError::UnknownProvider)
}

/// `POST /upstream/{id}/start`: a button on the login page.
pub async fn start(
    State(state): State<AuthorizeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<InteractionForm>, FormRejection>,
) -> Result<Response, UpstreamError> {
    let upstream = upstream_of(&state, &id)?;
    let Form(form) = form.map_err(UpstreamError::Form)?;
    let (interaction, req, _) = load_interaction(&state, &headers, &form, InteractionStage::Login).await?;
    let purpose = Purpose::Login { interaction: interaction.id_hash.clone() };
    go_upstream(&state, upstream, purpose, &interaction.csrf, req.login_hint.as_deref()).await
}

/// Home-realm discovery from the login form: the address's domain belongs to
/// `upstream`.
pub(crate) async fn discovered(
    state: &AuthorizeState,
    upstream: &Upstream,
    interaction: &Interaction,
    address: &str,
) -> Result<Response, UpstreamError> {
    let purpose = Purpose::Login { interaction: interaction.id_hash.clone() };
    go_upstream(state, upstream, purpose, &interaction.csrf, Some(address)).await
}

/// `POST /account/link/{id}`: link an upstream account to the signed-in one.
pub async fn link_start(
    State(state): State<AuthorizeState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<()>>, FormRejection>,
) -> Result<Response, UpstreamError> {
    let upstream = upstream_of(&state, &id)?;
    let Some((_, user, ())) = signed_in_form(&state, &headers, form).await? else {
        return Ok(see_other(&state.path(crate::account::PATH)));
    };
    // The browser's CSRF cookie binds the callback to this browser.
    let (csrf, new_csrf) = csrf_token(&headers);
    let mut res = go_upstream(&state, upstream, Purpose::Link { user_id: user.id.clone() }, &csrf, None).await?;
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, &csrf, state.settings.secure_cookies, None));
    }
    Ok(res)
}

/// Sends the browser upstream, keeping what its return needs.
async fn go_upstream(
    state: &AuthorizeState,
    upstream: &Upstream,
    purpose: Purpose,
    csrf: &str,
    login_hint: Option<&str>,
) -> Result<Response, UpstreamError> {
    let started = upstream.start(login_hint).await.map_err(|e| federation_failure(upstream, e))?;
    let now = state.clock.now();
    let pending = Pending {
        provider: upstream.settings.id.clone(),
        nonce: started.nonce,
        pkce_verifier: started.pkce_verifier,
        purpose,
    };
    let record = Interaction {
        id_hash: hash_token(&started.state),
        csrf: csrf.to_string(),
        stage: InteractionStage::Upstream,
        user_id: None,
        request: serde_json::to_string(&pending).expect("pending serializes"),
        created_at: now,
        expires_at: now + state.settings.login.interaction_ttl_seconds.secs(),
    };
    state.interactions.insert_interaction(&record).await?;
    tracing::info!(event = "upstream_redirect", upstream = %upstream.settings.id, "sent to the upstream provider");
    Ok(see_other(&started.url))
}

/// The provider's answer (RFC 6749 §4.1.2, RFC 9207), parsed leniently: a
/// repeated parameter keeps its first value, and a forged answer fails on
/// its `state`.
#[derive(Debug, Deserialize)]
struct CallbackParams {
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    code: Option<String>,
}

/// `GET /upstream/{id}/callback`: where the provider sends the person back.
pub async fn callback(
    State(state): State<AuthorizeState>,
    Path(id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, UpstreamError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let state = &state;
    let upstream = upstream_of(state, &id)?;
    let (params, _) = Params::parse_lenient(query.as_deref().unwrap_or("").as_bytes());
    let params: CallbackParams = params.deserialize().map_err(|_| UpstreamError::Expired)?;
    let returned_state =
        params.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 512).ok_or(UpstreamError::Expired)?;
    let key = hash_token(returned_state);
    let record = state.interactions.get_interaction(&key, state.clock.now()).await?.ok_or(UpstreamError::Expired)?;
    if record.stage != InteractionStage::Upstream {
        return Err(UpstreamError::Expired);
    }
    let cookie = cookies::get(&headers, CSRF_COOKIE).unwrap_or("");
    if !constant_time_eq(cookie.as_bytes(), record.csrf.as_bytes()) {
        tracing::warn!(event = "upstream_callback_refused", upstream = %id, "callback from another browser");
        return Err(UpstreamError::OtherBrowser);
    }
    // Single use: of two returns with one state, one finds nothing.
    if !state.interactions.delete_interaction(&key).await? {
        return Err(UpstreamError::Expired);
    }
    let pending: Pending =
        serde_json::from_str(&record.request).map_err(|e| StoreError::Corrupt(format!("upstream interaction: {e}")))?;
    if pending.provider != upstream.settings.id {
        return Err(UpstreamError::Expired);
    }
    let provider = || upstream.settings.display_name.clone();
    // RFC 9207: a provider that names itself must be the one we sent the
    // person to (each provider also has its own callback URL).
    if params.iss.as_ref().is_some_and(|iss| *iss != upstream.settings.issuer) {
        tracing::warn!(event = "upstream_rejected", upstream = %id, "callback names another issuer");
        return Err(UpstreamError::WrongIssuer { provider: provider() });
    }
    if let Some(error) = params.error {
        tracing::info!(event = "upstream_error", upstream = %id, error = %error.chars().take(64).collect::<String>(), "the upstream provider returned an error");
        return Err(UpstreamError::Refused { provider: provider(), error });
    }
    let code = params
        .code
        .as_deref()
        .filter(|c| !c.is_empty() && c.len() <= 4096)
        .ok_or_else(|| UpstreamError::Incomplete { provider: provider() })?;
    let identity = upstream
        .finish(code, &pending.pkce_verifier, &pending.nonce)
        .await
        .map_err(|e| federation_failure(upstream, e))?;
    match pending.purpose {
        Purpose::Login { interaction } => {
            finish_login(state, &headers, upstream, identity, &interaction, address).await
        }
        Purpose::Link { user_id } => finish_link(state, &headers, upstream, identity, &user_id).await,
    }
}

/// A failed exchange with the provider; details go to the log only.
fn federation_failure(upstream: &Upstream, error: FederationError) -> UpstreamError {
    let provider = upstream.settings.display_name.clone();
    match error {
        FederationError::Unreachable(detail) => {
            tracing::warn!(event = "upstream_unreachable", upstream = %upstream.settings.id, detail = %detail, "upstream provider unreachable");
            UpstreamError::Unreachable { provider }
        }
        FederationError::Invalid(detail) => {
            tracing::warn!(event = "upstream_rejected", upstream = %upstream.settings.id, detail = %detail, "upstream answer rejected");
            UpstreamError::Unverifiable { provider }
        }
    }
}

async fn finish_login(
    state: &AuthorizeState,
    headers: &HeaderMap,
    upstream: &Upstream,
    identity: UpstreamIdentity,
    interaction_hash: &str,
    address: std::net::IpAddr,
) -> Result<Response, UpstreamError> {
    let user = match state.identities.find_identity(&identity.issuer, &identity.subject).await? {
        Some(link) => {
            let user = state.users.get_user(&link.user_id).await?.ok_or(UpstreamError::LinkedAccountGone)?;
            let refresh = match upstream.settings.update_claims {
                ClaimUpdate::Provisioned => link.provisioned,
                ClaimUpdate::Always => true,
                ClaimUpdate::Never => false,
            };
            if refresh && !user.disabled { refresh_claims(state, upstream, &identity, user).await? } else { user }
        }
        None => provision(state, upstream, &identity).await?,
    };
    if user.disabled {
        return Err(UpstreamError::Disabled);
    }
    let mut interaction = state
        .interactions
        .get_interaction(interaction_hash, state.clock.now())
        .await?
        .ok_or(UpstreamError::LoginExpired)?;
    if interaction.stage != InteractionStage::Login {
        return Err(UpstreamError::LoginExpired);
    }
    let (mut req, client) = request_of(state, &interaction).await?;
    let method = federated_method(upstream, &identity);
    // The interaction's id went into a page of another origin's flow; the
    // next form (the second factor's, the consent's) gets a fresh one.
    let fresh = random::token(32);
    if !state.interactions.delete_interaction(interaction_hash).await? {
        return Err(UpstreamError::LoginExpired);
    }
    interaction.id_hash = hash_token(&fresh);
    // Kept for a second factor asked here: the session's amr starts with the provider's.
    req.first_factor = FirstFactor::Upstream { upstream: upstream.settings.id.clone(), amr: method.amr.clone() };
    interaction.request = serde_json::to_string(&req).expect("request serializes");
    state.interactions.insert_interaction(&interaction).await?;
    let have = Level::of_session(&method.acr);
    let capability = latchkey_domain::mfa::strongest(&state.factors(), &user.id).await?;
    let next = step_up::next(Needs::of(&state.settings, &client, &req, &user), capability, have);
    let step = after_first_factor(state, &client, &req, &user, &mut interaction, &fresh, next, capability, have);
    match step.await {
        Ok(Some(page)) => return Ok(page),
        Ok(None) => {}
        Err(e) => return Ok(e.into_response()),
    }
    let (session, cookie) = start_session(state, headers, &user, Some(&client.client_id), address, method).await?;
    // Signed in whatever comes next: the cookie goes with an error page too.
    let mut res = proceed_after_login(state, &client, req, (session, user), &mut interaction, &fresh)
        .await
        .unwrap_or_else(|e| UpstreamError::from(e).into_response());
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// The session's `amr` and `acr` after an upstream sign-in. The provider's
/// `amr` is kept as it said (but `mfa`); its second factor counts as ours only where
/// the operator trusts it (`trust_upstream_mfa`): then the `acr` says two
/// factors (phishing-resistant if the provider said `phr`/`phrh`), else
/// [`ACR_FEDERATED`], one factor, whatever the provider claimed.
fn federated_method(upstream: &Upstream, identity: &UpstreamIdentity) -> SignInMethod {
    let mut amr = if identity.amr.is_empty() { vec![AMR_FEDERATED.to_string()] } else { identity.amr.clone() };
    let level = if !upstream.settings.trust_upstream_mfa {
        Level::Single
    } else {
        match identity.acr.as_deref() {
            Some("phr" | "phrh") => Level::PhishingResistant,
            Some(ACR_MFA) => Level::Mfa,
            _ if identity.amr.iter().any(|m| m == "mfa") => Level::Mfa,
            _ => Level::Single,
        }
    };
    if level >= Level::Mfa && !amr.iter().any(|m| m == "mfa") {
        amr.push("mfa".into());
    }
    // Not trusted: the provider's word that it used two factors is not
    // passed on as ours (apps check amr for mfa too).
    if level == Level::Single {
        amr.retain(|m| m != "mfa");
    }
    let acr = if level == Level::Single { ACR_FEDERATED.to_string() } else { level.acr().to_string() };
    SignInMethod { amr, acr, upstream: Some(upstream.settings.id.clone()) }
}

/// Just-in-time provisioning: a local account for an upstream account seen
/// for the first time, if the provider's policy allows it. Never joined to
/// an existing account by email or username.
async fn provision(
    state: &AuthorizeState,
    upstream: &Upstream,
    identity: &UpstreamIdentity,
) -> Result<User, UpstreamError> {
    let s = &upstream.settings;
    let provider = || s.display_name.clone();
    let refuse = |why: Provisioning| UpstreamError::NotProvisioned(why);
    if !s.provisioning {
        return Err(refuse(Provisioning::Off { provider: provider() }));
    }
    if s.require_email_verified && (identity.email.is_none() || !identity.email_verified) {
        return Err(refuse(Provisioning::EmailUnverified { provider: provider() }));
    }
    if !s.allowed_email_domains.is_empty() {
        let domain = identity.email_domain().unwrap_or_default();
        if !s.allowed_email_domains.contains(&domain) {
            return Err(refuse(Provisioning::DomainNotAllowed));
        }
    }
    let username = match s.username_claim.as_str() {
        "sub" => Some(identity.subject.clone()),
        _ => identity.username.clone(),
    }
    .filter(|u| latchkey_core::user::validate_username(u).is_ok())
    .ok_or_else(|| refuse(Provisioning::NoUsername { provider: provider(), claim: s.username_claim.clone() }))?;
    let now = state.clock.now();
    let user = User {
        id: random::subject(),
        username: username.clone(),
        password_hash: None,
        disabled: false,
        claims: mapped_claims(upstream, identity, None),
        created_at: now,
        updated_at: now,
    };
    let link = FederatedIdentity {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        user_id: user.id.clone(),
        provider: s.id.clone(),
        linked_at: now,
        provisioned: true,
    };
    let user = match accounts::provision(&*state.store, user, &link).await {
        Ok(Provisioned::Created(user)) => user,
        // A concurrent first sign-in of the same person won: its account.
        Ok(Provisioned::Existing(user)) => return Ok(user),
        Err(ProvisionError::UsernameTaken) => {
            return Err(refuse(Provisioning::UsernameTaken { provider: provider(), username }));
        }
        Err(ProvisionError::TryAgain) => return Err(UpstreamError::TryAgain),
        Err(ProvisionError::Store(e)) => return Err(e.into()),
    };
    tracing::info!(event = "user_provisioned", upstream = %s.id, user_id = %user.id, "account created from an upstream sign-in");
    let event = AuditEvent::new(now, "user.provisioned", format!("upstream:{}", s.id))
        .subject(&user.id)
        .detail("issuer", identity.issuer.as_str())
        .detail("upstream_subject", identity.subject.as_str());
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(user)
}

/// An account's claims (`existing`, or a new account's) with every claim
/// the upstream's claim map fills replaced by the upstream's value (absent
/// upstream: unset). Groups, when mapped, become `default_groups` plus the
/// upstream's valid groups; when not mapped, a new account gets
/// `default_groups` and an existing one keeps its own.
fn mapped_claims(upstream: &Upstream, identity: &UpstreamIdentity, existing: Option<UserClaims>) -> UserClaims {
    let s = &upstream.settings;
    let mapped = |claim: &str| s.claims.source(claim).is_some();
    let is_new = existing.is_none();
    let mut claims = existing.unwrap_or_default();
    let (old_email, old_phone) = (claims.email.clone(), claims.phone_number.clone());
    for (claim, slot, value) in [
        ("email", &mut claims.email, &identity.email),
        ("name", &mut claims.name, &identity.name),
        ("given_name", &mut claims.given_name, &identity.given_name),
        ("family_name", &mut claims.family_name, &identity.family_name),
        ("phone_number", &mut claims.phone_number, &identity.phone_number),
    ] {
        if mapped(claim) {
            slot.clone_from(value);
        }
    }
    // A flag belongs to its value: the upstream's flag counts for the
    // upstream's value only, and a value that changed without a mapped flag
    // is not verified.
    let flag = |slot: &mut bool, value: &Option<String>, old: &Option<String>, theirs: (&Option<String>, bool), f| {
        if mapped(f) {
            *slot = value.is_some() && value == theirs.0 && theirs.1;
        } else if value != old {
            *slot = false;
        }
    };
    flag(
        &mut claims.email_verified,
        &claims.email,
        &old_email,
        (&identity.email, identity.email_verified),
        "email_verified",
    );
    flag(
        &mut claims.phone_number_verified,
        &claims.phone_number,
        &old_phone,
        (&identity.phone_number, identity.phone_number_verified),
        "phone_number_verified",
    );
    for &name in latchkey_federation::PROFILE_CLAIMS {
        if mapped(name) {
            let value = identity.profile.iter().find(|(n, _)| *n == name).map(|(_, v)| v.clone());
            *claims.slot_mut(name).expect("a profile claim has a slot") = value;
        }
    }
    if mapped("address") {
        claims.address.clone_from(&identity.address);
    }
    if mapped("groups") {
        let (groups, dropped) = latchkey_core::user::merge_groups([&s.default_groups[..], &identity.groups[..]]);
        if dropped > 0 {
            tracing::warn!(event = "upstream_groups_dropped", upstream = %s.id, dropped, "groups that are not valid names (or too many) were left out");
        }
        claims.groups = groups;
    } else if is_new {
        claims.groups = s.default_groups.clone();
    }
    claims
}

/// The upstream stays the source of truth of what it maps: its current
/// claims replace the account's (the username is never changed: apps and
/// people know the account by it).
async fn refresh_claims(
    state: &AuthorizeState,
    upstream: &Upstream,
    identity: &UpstreamIdentity,
    mut user: User,
) -> Result<User, UpstreamError> {
    let claims = mapped_claims(upstream, identity, Some(user.claims.clone()));
    if claims == user.claims {
        return Ok(user);
    }
    let changed: Vec<&str> = latchkey_federation::MAPPABLE_CLAIMS
        .iter()
        .copied()
        .filter(|c| match *c {
            "email_verified" => user.claims.email_verified != claims.email_verified,
            "phone_number_verified" => user.claims.phone_number_verified != claims.phone_number_verified,
            "address" => user.claims.address != claims.address,
            "groups" => user.claims.groups != claims.groups,
            name => user.claims.get(name) != claims.get(name),
        })
        .collect();
    user.claims = claims;
    user.updated_at = state.clock.now();
    // A deleted account (raced with an admin) simply signs in as it was read.
    state.users.update_user(&user).await?;
    let event = AuditEvent::new(user.updated_at, "user.updated", format!("upstream:{}", upstream.settings.id))
        .subject(&user.id)
        .detail("changed", changed);
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(user)
}

async fn finish_link(
    state: &AuthorizeState,
    headers: &HeaderMap,
    upstream: &Upstream,
    identity: UpstreamIdentity,
    user_id: &str,
) -> Result<Response, UpstreamError> {
    // Both identities proven: the session (password) and the upstream sign-in.
    let signed_in = current_session(state, headers).await?.filter(|(_, u)| u.id == user_id);
    let Some((_, user)) = signed_in else {
        return Err(UpstreamError::NotSignedIn);
    };
    let now = state.clock.now();
    let link = FederatedIdentity {
        issuer: identity.issuer.clone(),
        subject: identity.subject.clone(),
        user_id: user.id.clone(),
        provider: upstream.settings.id.clone(),
        linked_at: now,
        provisioned: false,
    };
    match accounts::link(&*state.store, &link).await? {
        Linked::AlreadyLinked => {}
        Linked::LinkedElsewhere => {
            return Err(UpstreamError::LinkedElsewhere { provider: upstream.settings.display_name.clone() });
        }
        Linked::Linked => {
            let event = AuditEvent::new(now, "identity.linked", format!("user:{}", user.id))
                .subject(&user.id)
                .detail("upstream", upstream.settings.id.as_str())
                .detail("issuer", identity.issuer.as_str())
                .detail("upstream_subject", identity.subject.as_str());
            latchkey_http::audit(state.audit.as_ref(), event).await;
        }
    }
    Ok(see_other(&state.path("/account?done=linked")))
}

/// `POST /account/unlink`'s form: the link, by upstream issuer and subject.
#[derive(Debug, Deserialize)]
pub struct UnlinkForm {
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    subject: String,
}

/// `POST /account/unlink`: remove a link (never the last way to sign in).
pub async fn unlink(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<UnlinkForm>>, FormRejection>,
) -> Result<Response, UpstreamError> {
    let Some((_, user, form)) = signed_in_form(&state, &headers, form).await? else {
        return Ok(see_other(&state.path(crate::account::PATH)));
    };
    let (issuer, subject) = (form.issuer.as_str(), form.subject.as_str());
    match accounts::unlink(&*state.identities, &user, issuer, subject).await {
        Ok(()) => {}
        Err(UnlinkError::NotLinked) => return Err(UpstreamError::NotLinked),
        Err(UnlinkError::LastSignInMethod) => return Err(UpstreamError::LastSignInMethod),
        Err(UnlinkError::Store(e)) => return Err(e.into()),
    }
    let event = AuditEvent::new(state.clock.now(), "identity.unlinked", format!("user:{}", user.id))
        .subject(&user.id)
        .detail("issuer", issuer)
        .detail("upstream_subject", subject);
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(see_other(&state.path("/account?done=unlinked")))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use latchkey_federation::{ClaimMap, UpstreamSettings};

    use super::*;

    fn upstream(map: &[(&str, Option<&str>)], default_groups: &[&str]) -> Upstream {
        let mut claims = ClaimMap::default();
        for (claim, source) in map {
            claims.set(claim, source.map(str::to_string)).unwrap();
        }
        let settings = UpstreamSettings {
            id: "corp".into(),
            display_name: "Corp".into(),
            button_label: "Corp".into(),
            issuer: "https://idp.example".into(),
            client_id: "c".into(),
            client_secret: None,
            private_key: None,
            scopes: vec!["openid".into()],
            email_domains: Vec::new(),
            allowed_email_domains: Vec::new(),
            require_email_verified: true,
            provisioning: true,
            username_claim: "email".into(),
            claims,
            default_groups: default_groups.iter().map(|g| g.to_string()).collect(),
            update_claims: ClaimUpdate::Provisioned,
            userinfo: false,
            trust_upstream_mfa: false,
            metadata_refresh: Duration::from_secs(3600),
            timeout: Duration::from_secs(5),
        };
        Upstream::new(settings, "http://127.0.0.1/upstream/corp/callback").unwrap()
    }

    fn ann(groups: &[&str]) -> UpstreamIdentity {
        UpstreamIdentity {
            email: Some("ann@corp.example".into()),
            email_verified: true,
            name: Some("Ann".into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..UpstreamIdentity::default()
        }
    }

    /// The provider's second factor counts only where the operator trusts
    /// it; its own claims never raise the session's acr otherwise.
    #[test]
    fn an_upstreams_mfa_counts_only_when_trusted() {
        let id = |amr: &[&str], acr: Option<&str>| UpstreamIdentity {
            amr: amr.iter().map(|m| m.to_string()).collect(),
            acr: acr.map(str::to_string),
            ..ann(&[])
        };
        let untrusted = upstream(&[], &[]);
        let mut trusted = upstream(&[], &[]);
        trusted.settings.trust_upstream_mfa = true;
        for (up, identity, amr, acr) in [
            (&untrusted, id(&["pwd", "otp", "mfa"], Some(ACR_MFA)), vec!["pwd", "otp"], ACR_FEDERATED),
            (&untrusted, id(&[], Some("phr")), vec!["fed"], ACR_FEDERATED),
            (&trusted, id(&["pwd", "mfa"], None), vec!["pwd", "mfa"], ACR_MFA),
            (&trusted, id(&["hwk"], Some("phr")), vec!["hwk", "mfa"], "phr"),
            (&trusted, id(&[], Some(ACR_MFA)), vec!["fed", "mfa"], ACR_MFA),
            (&trusted, id(&["pwd"], Some("urn:corp:gold")), vec!["pwd"], ACR_FEDERATED),
        ] {
            let method = federated_method(up, &identity);
            assert_eq!((method.amr, method.acr.as_str()), (amr.iter().map(|m| m.to_string()).collect(), acr));
            assert_eq!(method.upstream.as_deref(), Some("corp"));
        }
    }

    #[test]
    fn new_accounts_get_default_groups_plus_mapped_ones() {
        let up = upstream(&[("groups", Some("roles"))], &["sso"]);
        let c = mapped_claims(&up, &ann(&["eng", "sso", "bad name"]), None);
        assert_eq!(c.groups, ["sso", "eng"], "defaults first, no duplicates, invalid names dropped");
        assert_eq!(
            (c.email.as_deref(), c.email_verified, c.name.as_deref()),
            (Some("ann@corp.example"), true, Some("Ann"))
        );

        let unmapped = upstream(&[], &["sso"]);
        assert_eq!(mapped_claims(&unmapped, &ann(&["eng"]), None).groups, ["sso"], "groups not mapped: defaults only");
    }

    #[test]
    fn a_refresh_replaces_mapped_claims_and_keeps_the_rest() {
        let local = UserClaims {
            email: Some("ann@corp.example".into()),
            email_verified: true,
            name: Some("Old".into()),
            phone_number: Some("+1 555 0100".into()),
            groups: vec!["sso".into(), "eng".into(), "local".into()],
            ..UserClaims::default()
        };
        // Groups mapped: defaults plus the upstream's now (eng is gone).
        let up = upstream(&[("groups", Some("roles")), ("phone_number", None)], &["sso"]);
        let c = mapped_claims(&up, &ann(&["ops"]), Some(local.clone()));
        assert_eq!(c.groups, ["sso", "ops"]);
        assert_eq!(c.name.as_deref(), Some("Ann"));
        assert_eq!(c.phone_number.as_deref(), Some("+1 555 0100"), "not mapped: kept");

        // Groups not mapped: the account's own groups stay.
        let c = mapped_claims(&upstream(&[], &["sso"]), &ann(&["ops"]), Some(local.clone()));
        assert_eq!(c.groups, local.groups);
        assert_eq!(c.phone_number, None, "mapped and absent upstream: cleared");

        // A new address without a mapped flag is not verified; the same one keeps its flag.
        let no_flag = upstream(&[("email_verified", None)], &[]);
        let moved = UpstreamIdentity { email: Some("ann@new.example".into()), ..ann(&[]) };
        assert!(!mapped_claims(&no_flag, &moved, Some(local.clone())).email_verified);
        assert!(mapped_claims(&no_flag, &ann(&[]), Some(local.clone())).email_verified);
        let unverified = UpstreamIdentity { email_verified: false, ..ann(&[]) };
        assert!(!mapped_claims(&upstream(&[], &[]), &unverified, Some(local)).email_verified);
    }
}

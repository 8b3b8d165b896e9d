//! `/account`: where a person sees the apps they have allowed (with scopes
//! and dates) and cuts any of them off, sees and ends their sessions, and
//! changes their password.
//!
//! Forms of a signed-in person carry a CSRF token derived from the session
//! cookie (which scripts cannot read); the sign-in form uses the browser's
//! double-submit CSRF cookie, like the authorization flow's forms.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::audit::AuditEvent;
use latchkey_core::calendar::readable;
use latchkey_core::grant::{Interaction, InteractionStage, Session};
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::{User, password};
use latchkey_domain::mfa::CodeCheck;
use latchkey_http::{Form, FormRejection, cookies};
use latchkey_store::StoreError;
use serde::Deserialize;

use crate::failure::Failure;
use crate::pages::{
    AccountApp, AccountIdentity, AccountLoginPage, AccountPage, AccountSession, Language, ProfileField,
    SecondFactorPage, Text, UpstreamButton, html_with_passkeys, scope_lines,
};
use crate::{AuthorizeState, CSRF_COOKIE, SignInMethod, csrf_token, current_session, logout, start_session};
use latchkey_domain::limits::Attempt;
use latchkey_domain::sign_in::{PasswordCheck, check_password, hash_new_password, verify_password};

pub const PATH: &str = "/account";

/// Messages shown after a change (their catalog ids); the query names
/// one, so nothing the request carries is ever echoed.
const NOTICES: [(&str, &str); 14] = [
    ("email-changed", "notice-email-changed"),
    ("welcome", "notice-welcome"),
    ("verification-sent", "notice-verification-sent"),
    ("verification-throttled", "notice-verification-throttled"),
    ("recovery-code-used", "notice-recovery-code-used"),
    // Passkeys, if any, stay: still a second step after the password.
    ("mfa-removed", "notice-mfa-removed"),
    ("passkey-added", "notice-passkey-added"),
    ("passkey-removed", "notice-passkey-removed"),
    ("app-revoked", "notice-app-revoked"),
    ("linked", "notice-linked"),
    ("unlinked", "notice-unlinked"),
    ("session-ended", "notice-session-ended"),
    ("password-changed", "notice-password-changed"),
    ("profile-saved", "notice-profile-saved"),
];

/// Where the profile form posts.
pub const PROFILE_PATH: &str = "/account/profile";

/// How `/account` and its forms fail.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("unreadable form")]
    Form(FormRejection),
    /// The form's CSRF token does not match.
    #[error("CSRF token mismatch")]
    Forged,
    #[error("no app chosen")]
    NoAppChosen,
    /// Unknown, ended, or another person's session.
    #[error("no such session")]
    SessionAlreadyEnded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for Failure {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Form(rejection) => Failure::form(&rejection),
            AccountError::Forged => {
                Failure::says(StatusCode::FORBIDDEN, crate::pages::Text::new("error-account-forged"))
            }
            AccountError::NoAppChosen => {
                Failure::says(StatusCode::BAD_REQUEST, crate::pages::Text::new("account-error-no-app"))
            }
            AccountError::SessionAlreadyEnded => {
                Failure::says(StatusCode::BAD_REQUEST, crate::pages::Text::new("account-error-session-gone"))
            }
            AccountError::Store(e) => Failure::store(&e),
        }
    }
}

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        Failure::from(self).into_response()
    }
}

/// `GET /account`: the account page, or the sign-in form.
pub async fn show(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((session, user)) = current_session(state, &headers).await? else {
        return Ok(sign_in_page(state, &headers, "", None, StatusCode::OK));
    };
    let done = query.as_deref().and_then(|q| q.strip_prefix("done="));
    let notice = NOTICES.iter().find(|(key, _)| Some(*key) == done).map(|(_, message)| *message);
    Ok(account_page(state, &headers, &session, &user, notice, None, StatusCode::OK).await?)
}

/// The sign-in form of `/account` (`account_login.html`).
#[derive(Debug, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /account/login`.
pub async fn login(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignInForm>, FormRejection>,
) -> Result<Response, AccountError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let Form(form) = form.map_err(AccountError::Form)?;
    let state = &state;
    if !crate::matches_csrf_cookie(&headers, &form.csrf) {
        return Err(csrf_refused());
    }
    let username = form.username.as_str();
    let (user, factors) = match check_password(&state.sign_in(), username, &form.password, None, address).await? {
        PasswordCheck::Accepted(user, factors) => (*user, factors),
        PasswordCheck::Refused => {
            let message = crate::pages::request_language(&headers, None).message("login-incorrect");
            return Ok(sign_in_page(state, &headers, username, Some(&message), StatusCode::UNAUTHORIZED));
        }
        PasswordCheck::Throttled(refusal) => {
            let message = Some(refusal.limit.message());
            let mut page = sign_in_page(state, &headers, username, message, StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut().insert(header::RETRY_AFTER, refusal.retry_after(state.clock.now()).into());
            return Ok(page);
        }
    };
    if factors > latchkey_core::acr::Level::Single {
        return Ok(second_factor_step(state, &user, &form.csrf).await?);
    }
    let (_, cookie) = start_session(state, &headers, &user, None, address, SignInMethod::password()).await?;
    let mut res = see_other(&state.path(PATH));
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// Where `/account`'s code page posts.
pub const SECOND_FACTOR_PATH: &str = "/account/login/code";

/// After a right password, for a person with a second factor: no session
/// yet, but a short-lived record (an interaction without an authorization
/// request) naming them, bound to the browser's CSRF cookie, and the code page.
async fn second_factor_step(state: &AuthorizeState, user: &User, csrf: &str) -> Result<Response, StoreError> {
    let passkey = latchkey_domain::passkeys::has_passkey(&*state.store, &user.id).await?;
    let now = state.clock.now();
    let id = latchkey_core::random::token(32);
    let interaction = Interaction {
        id_hash: hash_token(&id),
        csrf: csrf.to_string(),
        stage: InteractionStage::SecondFactor,
        user_id: Some(user.id.clone()),
        request: String::new(),
        created_at: now,
        expires_at: now + state.settings.login.interaction_ttl_seconds.secs(),
    };
    state.interactions.insert_interaction(&interaction).await?;
    Ok(code_page(state, &id, csrf, None, StatusCode::OK, passkey))
}

/// `/account`'s second sign-in page; `passkey` offers the passkey button.
pub(crate) fn code_page(
    state: &AuthorizeState,
    interaction: &str,
    csrf: &str,
    error: Option<&str>,
    status: StatusCode,
    passkey: bool,
) -> Response {
    let action = state.path(SECOND_FACTOR_PATH);
    let passkey = if passkey { passkey_form(state) } else { None };
    let with_passkeys = passkey.is_some();
    let page = SecondFactorPage {
        ui: &state.settings.ui,
        action: &action,
        client_name: "your account",
        interaction,
        csrf,
        error,
        passkey,
    };
    html_with_passkeys(status, &page, &[], with_passkeys)
}

/// The passkey button of `/account`'s sign-in pages.
fn passkey_form(state: &AuthorizeState) -> Option<crate::pages::PasskeyForm> {
    state.passkey_form(crate::passkey_sign_in::PATH, crate::passkey_sign_in::OPTIONS_PATH)
}

/// `/account`'s code form.
#[derive(Debug, Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    interaction: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    code: String,
}

/// `POST /account/login/code`: the code after the password; a right one
/// starts a session with both factors (`amr` `pwd otp mfa`).
pub async fn login_code(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, AccountError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let Form(form) = form.map_err(AccountError::Form)?;
    let state = &state;
    if !crate::matches_csrf_cookie(&headers, &form.csrf) {
        return Err(csrf_refused());
    }
    let now = state.clock.now();
    let interaction = match form.interaction.len() {
        1..=64 => state.interactions.get_interaction(&hash_token(&form.interaction), now).await?,
        _ => None,
    };
    // Expired, another stage, or another browser's: sign in again.
    let Some(interaction) = interaction.filter(|i| {
        i.stage == InteractionStage::SecondFactor
            && i.request.is_empty()
            && constant_time_eq(i.csrf.as_bytes(), form.csrf.as_bytes())
    }) else {
        return Ok(see_other(&state.path(PATH)));
    };
    let user = match interaction.user_id.as_deref() {
        Some(id) => state.users.get_user(id).await?.filter(|u| !u.disabled),
        None => None,
    };
    let Some(user) = user else {
        return Ok(see_other(&state.path(PATH)));
    };
    let passkey = latchkey_domain::passkeys::has_passkey(&*state.store, &user.id).await?;
    let again = |message: &str, status| code_page(state, &form.interaction, &form.csrf, Some(message), status, passkey);
    let code = form.code.trim();
    let check = if code.is_empty() || code.len() > 64 {
        CodeCheck::Refused
    } else {
        latchkey_domain::mfa::verify_code(&state.factors(), &state.sign_in(), &user, code, address, None).await?
    };
    match check {
        CodeCheck::Totp | CodeCheck::Recovery { .. } => {}
        CodeCheck::Refused => return Ok(again(crate::WRONG_CODE, StatusCode::UNAUTHORIZED)),
        CodeCheck::Throttled(refusal) => {
            let mut page = again(refusal.limit.message(), StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut().insert(header::RETRY_AFTER, refusal.retry_after(now).into());
            return Ok(page);
        }
    }
    // One session per right password and code, however many tabs submit.
    if !state.interactions.delete_interaction(&interaction.id_hash).await? {
        return Ok(see_other(&state.path(PATH)));
    }
    let method = SignInMethod::password_and_code();
    let (_, cookie) = start_session(state, &headers, &user, None, address, method).await?;
    let to = if matches!(check, CodeCheck::Recovery { .. }) { "/account?done=recovery-code-used" } else { PATH };
    let mut res = see_other(&state.path(to));
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// `POST /account/apps/revoke`'s form.
#[derive(Debug, Deserialize)]
pub struct RevokeAppForm {
    #[serde(default)]
    client_id: String,
}

/// `POST /account/apps/revoke`: the app loses its consent, every refresh
/// token it holds for this person, and every access token it was issued
/// for them that has not expired.
pub async fn revoke_app(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<RevokeAppForm>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((_, user, form)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let client_id = form.client_id.as_str();
    if client_id.is_empty() || client_id.len() > 256 {
        return Err(AccountError::NoAppChosen);
    }
    let now = state.clock.now();
    let revoked = latchkey_domain::consents::revoke_consent(&*state.store, &user.id, client_id, now).await?;
    let families = revoked.families;
    if revoked.found_anything() {
        tracing::info!(event = "consent_revoked", user_id = %user.id, client_id, families, "app access revoked");
        let event = AuditEvent::new(now, "consent.revoked", format!("user:{}", user.id))
            .subject(&user.id)
            .client(client_id)
            .detail("families_revoked", families);
        latchkey_http::audit(state.audit.as_ref(), event).await;
    }
    Ok(see_other(&state.path("/account?done=app-revoked")))
}

/// `POST /account/sessions/end`'s form.
#[derive(Debug, Deserialize)]
pub struct EndSessionForm {
    #[serde(default)]
    sid: String,
}

/// `POST /account/sessions/end`: ends one of the person's sessions (this
/// one included), with everything ending a session implies.
pub async fn end_session(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<EndSessionForm>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((current, user, form)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let sid = form.sid.as_str();
    let now = state.clock.now();
    // Another person's session is treated like an unknown one.
    let target = match sid.len() {
        1..=64 => state.sessions.find_session_by_sid(sid, now).await?.filter(|s| s.auth.user_id == user.id),
        _ => None,
    };
    let Some(target) = target else {
        return Err(AccountError::SessionAlreadyEnded);
    };
    logout::end_session(state, &target.id_hash).await?;
    let event = AuditEvent::new(now, "session.revoked", format!("user:{}", user.id))
        .subject(&user.id)
        .detail("sid", target.auth.sid.as_str());
    latchkey_http::audit(state.audit.as_ref(), event).await;
    if target.id_hash == current.id_hash {
        let mut res = see_other(&state.path(PATH));
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(state.settings.session_cookie(), "", state.settings.secure_cookies, Some(0)),
        );
        return Ok(res);
    }
    Ok(see_other(&state.path("/account?done=session-ended")))
}

/// `POST /account/password`'s form.
#[derive(Debug, Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /account/password`: needs the current password (checked within
/// the sign-in limits, like a sign-in); the other sessions end.
pub async fn change_password(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<PasswordForm>>, FormRejection>,
) -> Result<Response, AccountError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let state = &state;
    let Some((session, mut user, form)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let lang = crate::pages::request_language(&headers, user.claims.locale.as_deref());
    let hash = match new_password_hash(state, &user, &form, address, lang).await? {
        Ok(hash) => hash,
        Err((status, message)) => {
            let message = lang.text(&message);
            return Ok(account_page(state, &headers, &session, &user, None, Some(&message), status).await?);
        }
    };
    let now = state.clock.now();
    user.password_hash = Some(hash);
    user.updated_at = now;
    if !state.users.update_user(&user).await? {
        return Ok(see_other(&state.path(PATH)));
    }
    // Whoever knew the old password is signed out everywhere else.
    let mut ended = 0u64;
    for other in state.sessions.list_user_sessions(&user.id, now).await? {
        if other.id_hash != session.id_hash && logout::end_session(state, &other.id_hash).await?.is_some() {
            ended += 1;
        }
    }
    tracing::info!(event = "password_changed", user_id = %user.id, sessions_ended = ended, "password changed");
    let event = AuditEvent::new(now, "password.changed", format!("user:{}", user.id))
        .subject(&user.id)
        .detail("sessions_ended", ended);
    latchkey_http::audit(state.audit.as_ref(), event).await;
    if let Some(mail) = state.mail(crate::pages::request_language(&headers, None))
        && let Err(e) = latchkey_domain::self_service::notify_password_changed(&mail, &user, false).await
    {
        tracing::warn!(error = %e, "cannot queue the password-changed email");
    }
    Ok(see_other(&state.path("/account?done=password-changed")))
}

/// `POST /account/profile`: the claims `account.editable_claims` lets
/// people change, each checked by its rule (`latchkey_core::profile`). The
/// form is the whole profile: an editable field left empty unsets its claim,
/// a field the operator did not make editable is ignored, and one invalid
/// value saves nothing and shows the form again with what was typed.
pub async fn update_profile(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<BTreeMap<String, String>>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((session, mut user, typed)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let before = user.claims.clone();
    for &claim in &state.settings.editable_claims {
        // The form carries every editable field; an empty one arrives absent
        // (the form parser drops empty values) and unsets the claim.
        let value = typed.get(claim).map_or("", String::as_str);
        if let Err(e) = user.claims.set(claim, value) {
            // The field's label and what is wrong, in the page's language.
            let lang = crate::pages::request_language(&headers, before.get("locale"));
            let label = lang.message(ProfileField::of(claim, None).label);
            let message = format!("{label}: {}", lang.message(e.refusal.message_id()));
            let page =
                AccountView { error: Some(&message), typed: Some(&typed), ..AccountView::new(StatusCode::BAD_REQUEST) };
            return Ok(account_page_with(state, &headers, &session, &user, page).await?);
        }
    }
    let changed: Vec<&str> =
        state.settings.editable_claims.iter().copied().filter(|c| before.get(c) != user.claims.get(c)).collect();
    if changed.is_empty() {
        return Ok(see_other(&state.path("/account?done=profile-saved")));
    }
    let now = state.clock.now();
    match latchkey_domain::users::save_user(&*state.store, &mut user, now).await {
        Ok(()) => {}
        Err(latchkey_domain::users::UserError::Store(e)) => return Err(e.into()),
        // Deleted meanwhile (or renamed into a clash, which a profile edit cannot do).
        Err(_) => return Ok(see_other(&state.path(PATH))),
    }
    let event = AuditEvent::new(now, "user.updated", format!("user:{}", user.id))
        .subject(&user.id)
        .detail("changed", changed)
        .detail("via", "account page");
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(see_other(&state.path("/account?done=profile-saved")))
}

/// Checks a password change form: the current password (within the
/// account's and the address's sign-in limits, like a sign-in), the
/// confirmation, the policy. Returns the new password's hash, or the status
/// and message to show.
async fn new_password_hash(
    state: &AuthorizeState,
    user: &User,
    form: &PasswordForm,
    address: IpAddr,
    lang: Language,
) -> Result<Result<String, (StatusCode, Text)>, StoreError> {
    let refuse = |status: StatusCode, message: Text| Ok(Err((status, message)));
    let new = form.new_password.as_str();
    if user.password_hash.is_none() {
        return refuse(StatusCode::BAD_REQUEST, Text::new("account-error-no-password"));
    }
    if let Err(refused) = confirm_password(state, user, &form.current_password, address).await? {
        return Ok(Err(refused));
    }
    if new != form.confirm_password {
        return refuse(StatusCode::BAD_REQUEST, Text::new("password-mismatch"));
    }
    if let Err(refusal) = password::check_policy(new) {
        let reason = crate::pages::password_refusal(lang, &refusal);
        return refuse(StatusCode::BAD_REQUEST, Text::with("password-not-accepted", "reason", reason));
    }
    match hash_new_password(new.to_string()).await {
        Some(hash) => Ok(Ok(hash)),
        None => {
            tracing::error!("password hashing failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, Text::new("password-not-changed"))
        }
    }
}

/// Checks the person's current password within the account's and the
/// address's sign-in limits, like a sign-in; a wrong one is audited. Returns
/// the status and message to show when it is refused.
pub(crate) async fn confirm_password(
    state: &AuthorizeState,
    user: &User,
    current: &str,
    address: IpAddr,
) -> Result<Result<(), (StatusCode, Text)>, StoreError> {
    let refuse = |status: StatusCode, message: Text| Ok(Err((status, message)));
    let sign_in = state.sign_in();
    let mut attempt = Attempt::new(&sign_in, &user.username, address, None).of_user(&user.id);
    let permit = match attempt.admit().await? {
        Ok(permit) => permit,
        Err(refusal) => return refuse(StatusCode::TOO_MANY_REQUESTS, Text::verbatim(refusal.limit.message())),
    };
    if current.len() > password::MAX_LEN || !verify_password(permit, current, user.password_hash.as_deref()).await {
        let event = AuditEvent::new(state.clock.now(), "password.change_failed", format!("user:{}", user.id))
            .subject(&user.id)
            .ip(address);
        latchkey_http::audit(state.audit.as_ref(), event).await;
        attempt.failed().await?;
        return refuse(StatusCode::BAD_REQUEST, Text::new("account-error-wrong-password"));
    }
    attempt.succeeded().await?;
    Ok(Ok(()))
}

/// A form of a signed-in person: its CSRF token (bound to the session) and
/// the form's own fields.
#[derive(Debug, Deserialize)]
pub struct SignedInForm<T> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: T,
}

/// The form of a signed-in person, its CSRF token checked; `None` when no
/// one is signed in (the caller sends the browser to the sign-in form).
pub(crate) async fn signed_in_form<T>(
    state: &AuthorizeState,
    headers: &HeaderMap,
    form: Result<Form<SignedInForm<T>>, FormRejection>,
) -> Result<Option<(Session, User, T)>, AccountError> {
    let Form(form) = form.map_err(AccountError::Form)?;
    let Some((session, user)) = current_session(state, headers).await? else {
        return Ok(None);
    };
    let expected = session_csrf(state, headers);
    if form.csrf.is_empty() || !constant_time_eq(form.csrf.as_bytes(), expected.as_bytes()) {
        return Err(csrf_refused());
    }
    Ok(Some((session, user, form.fields)))
}

/// The CSRF token of a signed-in browser: bound to its session cookie, which
/// no script and no other site can read.
pub(crate) fn session_csrf(state: &AuthorizeState, headers: &HeaderMap) -> String {
    let cookie = cookies::get(headers, state.settings.session_cookie()).unwrap_or("");
    hash_token(&format!("account-csrf:{cookie}"))
}

fn csrf_refused() -> AccountError {
    tracing::info!("account form refused: CSRF token mismatch");
    AccountError::Forged
}

pub(crate) fn sign_in_page(
    state: &AuthorizeState,
    headers: &HeaderMap,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, new_csrf) = csrf_token(headers);
    let action = state.path("/account/login");
    let passkey = passkey_form(state);
    let with_passkeys = passkey.is_some();
    let forgot_password = state.forgot_password_link();
    let ui = state.settings.ui.for_request(headers, None);
    let page = AccountLoginPage {
        ui: &ui,
        action: &action,
        csrf: &csrf,
        username,
        error,
        passkey,
        forgot_password,
        signup: state.signup_link(None),
    };
    let mut res = html_with_passkeys(status, &page, &[], with_passkeys);
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, &csrf, state.settings.secure_cookies, None));
    }
    res
}

pub(crate) async fn account_page(
    state: &AuthorizeState,
    headers: &HeaderMap,
    session: &Session,
    user: &User,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, StoreError> {
    account_page_with(state, headers, session, user, AccountView { notice, error, ..AccountView::new(status) }).await
}

/// What the account page shows besides the account: a message, and the
/// profile form's values as typed when they were refused.
struct AccountView<'a> {
    /// The id of a message (`NOTICES`).
    notice: Option<&'a str>,
    error: Option<&'a str>,
    status: StatusCode,
    typed: Option<&'a BTreeMap<String, String>>,
}

impl AccountView<'_> {
    fn new(status: StatusCode) -> Self {
        Self { notice: None, error: None, status, typed: None }
    }
}

async fn account_page_with(
    state: &AuthorizeState,
    headers: &HeaderMap,
    session: &Session,
    user: &User,
    view: AccountView<'_>,
) -> Result<Response, StoreError> {
    let AccountView { notice, error, status, typed } = view;
    let ui = state.settings.ui.for_request(headers, user.claims.locale.as_deref());
    let notice = notice.map(|id| ui.t(id));
    let now = state.clock.now();
    let mut apps = Vec::new();
    for consent in state.consents.list_user_consents(&user.id).await? {
        let name = match state.clients.get_client(&consent.client_id).await? {
            Some(c) if !c.settings.client_name.is_empty() => c.settings.client_name,
            _ => consent.client_id.clone(),
        };
        apps.push(AccountApp {
            name,
            scopes: scope_lines(&consent.scope),
            granted: readable(consent.granted_at),
            updated: readable(consent.updated_at),
            client_id: consent.client_id,
        });
    }
    let sessions = state
        .sessions
        .list_user_sessions(&user.id, now)
        .await?
        .into_iter()
        .map(|s| AccountSession {
            current: s.id_hash == session.id_hash,
            created: readable(s.created_at),
            last_seen: readable(s.last_seen_at),
            sid: s.auth.sid,
        })
        .collect();
    let identities = state
        .identities
        .list_user_identities(&user.id)
        .await?
        .into_iter()
        .map(|l| AccountIdentity {
            provider: state
                .upstreams
                .get(&l.provider)
                .map_or_else(|| l.provider.clone(), |u| u.settings.display_name.clone()),
            linked: readable(l.linked_at),
            issuer: l.issuer,
            subject: l.subject,
        })
        .collect();
    let link_buttons = state
        .upstreams
        .iter()
        .map(|u| UpstreamButton {
            action: state.path(&format!("/account/link/{}", u.settings.id)),
            label: ui.t_with("account-link-provider", "provider", &u.settings.display_name),
        })
        .collect();
    let unlink = state.path("/account/unlink");
    let csrf = session_csrf(state, headers);
    let (revoke, end, password) =
        (state.path("/account/apps/revoke"), state.path("/account/sessions/end"), state.path("/account/password"));
    let page = AccountPage {
        ui: &ui,
        username: &user.username,
        csrf: &csrf,
        notice: notice.as_deref(),
        error,
        apps,
        sessions,
        has_password: user.password_hash.is_some(),
        identities,
        link_buttons,
        unlink_action: &unlink,
        revoke_action: &revoke,
        end_session_action: &end,
        password_action: &password,
        mfa: crate::account_mfa::section(state, session, user).await?,
        passkeys: crate::account_passkeys::section(state, user).await?,
        profile_fields: state
            .settings
            .editable_claims
            .iter()
            .map(|&claim| match typed.and_then(|t| t.get(claim)) {
                Some(value) => ProfileField::of(claim, Some(value)),
                None => ProfileField::of(claim, user.claims.get(claim)),
            })
            .collect(),
        profile_action: &state.path(PROFILE_PATH),
        email: crate::pages::AccountEmail {
            address: user.claims.email.clone(),
            verified: user.claims.email_verified,
            enabled: state.outbox.is_some(),
            password_field: !crate::self_service::recent_sign_in(state, session) && user.password_hash.is_some(),
            stale: !crate::self_service::recent_sign_in(state, session) && user.password_hash.is_none(),
            change_action: state.path(crate::self_service::CHANGE_EMAIL_PATH),
            resend_action: state.path(crate::self_service::RESEND_PATH),
        },
    };
    // The link buttons' answers redirect to the providers.
    let targets: Vec<&str> = state.upstreams.iter().map(|u| u.settings.issuer.as_str()).collect();
    let with_passkeys = page.passkeys.is_some();
    Ok(html_with_passkeys(status, &page, &targets, with_passkeys))
}

pub(crate) fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

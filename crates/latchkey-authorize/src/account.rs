//! `/account`: where a person sees the apps they have allowed (with scopes
//! and dates) and cuts any of them off, sees and ends their sessions, and
//! changes their password.
//!
//! Forms of a signed-in person carry a CSRF token derived from the session
//! cookie (which scripts cannot read); the sign-in form uses the browser's
//! double-submit CSRF cookie, like the authorization flow's forms.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::audit::AuditEvent;
use latchkey_core::calendar::readable;
use latchkey_core::grant::Session;
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::{User, password};
use latchkey_http::{Params, cookies};
use latchkey_store::StoreError;

use crate::pages::{
    AccountApp, AccountIdentity, AccountLoginPage, AccountPage, AccountSession, UpstreamButton, html, html_with,
    scope_lines,
};
use crate::{
    AuthorizeError, AuthorizeState, CSRF_COOKIE, SignInMethod, csrf_token, current_session, logout, read_form,
    start_session,
};
use latchkey_domain::limits::Attempt;
use latchkey_domain::sign_in::{PasswordCheck, check_password, hash_new_password, verify_password};

pub const PATH: &str = "/account";

/// Messages shown after a change; the query names one, so nothing the
/// request carries is ever echoed.
const NOTICES: [(&str, &str); 5] = [
    ("app-revoked", "The app no longer has access to your account."),
    ("linked", "You can now sign in with that account too."),
    ("unlinked", "That sign-in method was removed."),
    ("session-ended", "The session has ended."),
    ("password-changed", "Your password has been changed, and your other sessions have ended."),
];

/// `GET /account`: the account page, or the sign-in form.
pub async fn show(State(state): State<AuthorizeState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let result = show_inner(&state, &headers, query.as_deref()).await;
    state.respond(result)
}

async fn show_inner(
    state: &AuthorizeState,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<Response, AuthorizeError> {
    let Some((session, user)) = current_session(state, headers).await? else {
        return Ok(sign_in_page(state, headers, "", None, StatusCode::OK));
    };
    let done = query.and_then(|q| q.strip_prefix("done="));
    let notice = NOTICES.iter().find(|(key, _)| Some(*key) == done).map(|(_, message)| *message);
    account_page(state, headers, &session, &user, notice, None, StatusCode::OK).await
}

/// `POST /account/login`.
pub async fn login(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let result = login_inner(&state, &headers, body, address).await;
    state.respond(result)
}

async fn login_inner(
    state: &AuthorizeState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    address: IpAddr,
) -> Result<Response, AuthorizeError> {
    let form = read_form(headers, body).await?;
    let cookie = cookies::get(headers, CSRF_COOKIE).unwrap_or("");
    let submitted = form.get("csrf").unwrap_or("");
    if submitted.is_empty() || !constant_time_eq(submitted.as_bytes(), cookie.as_bytes()) {
        return Err(csrf_refused());
    }
    let username = form.get("username").unwrap_or("");
    let password = form.get("password").unwrap_or("");
    let user = match check_password(&state.sign_in(), username, password, None, address).await? {
        PasswordCheck::Accepted(user) => *user,
        PasswordCheck::Refused => {
            let message = Some("Incorrect username or password.");
            return Ok(sign_in_page(state, headers, username, message, StatusCode::UNAUTHORIZED));
        }
        PasswordCheck::Throttled(refusal) => {
            let message = Some(refusal.limit.message());
            let mut page = sign_in_page(state, headers, username, message, StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut().insert(header::RETRY_AFTER, refusal.retry_after(state.clock.now()).into());
            return Ok(page);
        }
    };
    let (_, cookie) = start_session(state, headers, &user, None, address, SignInMethod::password()).await?;
    let mut res = see_other(&state.path(PATH));
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// `POST /account/apps/revoke`: the app loses its consent, every refresh
/// token it holds for this person, and every access token it was issued
/// for them that has not expired.
pub async fn revoke_app(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = revoke_app_inner(&state, &headers, body).await;
    state.respond(result)
}

async fn revoke_app_inner(
    state: &AuthorizeState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AuthorizeError> {
    let Some((_, user, form)) = signed_in_form(state, headers, body).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let client_id = form.get("client_id").unwrap_or("");
    if client_id.is_empty() || client_id.len() > 256 {
        return Err(AuthorizeError::page(StatusCode::BAD_REQUEST, "No app was chosen."));
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

/// `POST /account/sessions/end`: ends one of the person's sessions (this
/// one included), with everything ending a session implies.
pub async fn end_session(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let result = end_session_inner(&state, &headers, body).await;
    state.respond(result)
}

async fn end_session_inner(
    state: &AuthorizeState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AuthorizeError> {
    let Some((current, user, form)) = signed_in_form(state, headers, body).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let sid = form.get("sid").unwrap_or("");
    let now = state.clock.now();
    // Another person's session is treated like an unknown one.
    let target = match sid.len() {
        1..=64 => state.sessions.find_session_by_sid(sid, now).await?.filter(|s| s.auth.user_id == user.id),
        _ => None,
    };
    let Some(target) = target else {
        return Err(AuthorizeError::page(StatusCode::BAD_REQUEST, "That session has already ended."));
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

/// `POST /account/password`: needs the current password (checked within
/// the sign-in limits, like a sign-in); the other sessions end.
pub async fn change_password(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let result = change_password_inner(&state, &headers, body, address).await;
    state.respond(result)
}

async fn change_password_inner(
    state: &AuthorizeState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    address: IpAddr,
) -> Result<Response, AuthorizeError> {
    let Some((session, mut user, form)) = signed_in_form(state, headers, body).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let hash = match new_password_hash(state, &user, &form, address).await? {
        Ok(hash) => hash,
        Err((status, message)) => {
            return account_page(state, headers, &session, &user, None, Some(&message), status).await;
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
    Ok(see_other(&state.path("/account?done=password-changed")))
}

/// Checks a password change form: the current password (within the
/// account's and the address's sign-in limits, like a sign-in), the
/// confirmation, the policy. Returns the new password's hash, or the status
/// and message to show.
async fn new_password_hash(
    state: &AuthorizeState,
    user: &User,
    form: &Params,
    address: IpAddr,
) -> Result<Result<String, (StatusCode, String)>, StoreError> {
    let refuse = |status: StatusCode, message: &str| Ok(Err((status, message.to_string())));
    let current = form.get("current_password").unwrap_or("");
    let new = form.get("new_password").unwrap_or("");
    if user.password_hash.is_none() {
        return refuse(StatusCode::BAD_REQUEST, "This account has no password to change.");
    }
    let sign_in = state.sign_in();
    let mut attempt = Attempt::new(&sign_in, &user.username, address, None).of_user(&user.id);
    let permit = match attempt.admit().await? {
        Ok(permit) => permit,
        Err(refusal) => return refuse(StatusCode::TOO_MANY_REQUESTS, refusal.limit.message()),
    };
    if current.len() > password::MAX_LEN || !verify_password(permit, current, user.password_hash.as_deref()).await {
        let event = AuditEvent::new(state.clock.now(), "password.change_failed", format!("user:{}", user.id))
            .subject(&user.id)
            .ip(address);
        latchkey_http::audit(state.audit.as_ref(), event).await;
        attempt.failed().await?;
        return refuse(StatusCode::BAD_REQUEST, "Your current password is not correct.");
    }
    attempt.succeeded().await?;
    if new != form.get("confirm_password").unwrap_or("") {
        return refuse(StatusCode::BAD_REQUEST, "The new passwords do not match.");
    }
    if let Err(reason) = password::check_policy(new) {
        return refuse(StatusCode::BAD_REQUEST, &format!("The new password is not accepted: {reason}."));
    }
    match hash_new_password(new.to_string()).await {
        Some(hash) => Ok(Ok(hash)),
        None => {
            tracing::error!("password hashing failed");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "Your password could not be changed. Please try again.")
        }
    }
}

/// The form of a signed-in person, its CSRF token checked; `None` when no
/// one is signed in (the caller sends the browser to the sign-in form).
pub(crate) async fn signed_in_form(
    state: &AuthorizeState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Option<(Session, User, Params)>, AuthorizeError> {
    let form = read_form(headers, body).await?;
    let Some((session, user)) = current_session(state, headers).await? else {
        return Ok(None);
    };
    let expected = session_csrf(state, headers);
    let submitted = form.get("csrf").unwrap_or("");
    if submitted.is_empty() || !constant_time_eq(submitted.as_bytes(), expected.as_bytes()) {
        return Err(csrf_refused());
    }
    Ok(Some((session, user, form)))
}

/// The CSRF token of a signed-in browser: bound to its session cookie, which
/// no script and no other site can read.
fn session_csrf(state: &AuthorizeState, headers: &HeaderMap) -> String {
    let cookie = cookies::get(headers, state.settings.session_cookie()).unwrap_or("");
    hash_token(&format!("account-csrf:{cookie}"))
}

fn csrf_refused() -> AuthorizeError {
    tracing::info!("account form refused: CSRF token mismatch");
    AuthorizeError::page(
        StatusCode::FORBIDDEN,
        "This form could not be verified. Make sure cookies are enabled, reload the page and try again.",
    )
}

fn sign_in_page(
    state: &AuthorizeState,
    headers: &HeaderMap,
    username: &str,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let (csrf, new_csrf) = csrf_token(headers);
    let action = state.path("/account/login");
    let page = AccountLoginPage { ui: &state.settings.ui, action: &action, csrf: &csrf, username, error };
    let mut res = html(status, &page, None, false);
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, &csrf, state.settings.secure_cookies, None));
    }
    res
}

async fn account_page(
    state: &AuthorizeState,
    headers: &HeaderMap,
    session: &Session,
    user: &User,
    notice: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Result<Response, AuthorizeError> {
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
            label: format!("Link your {} account", u.settings.display_name),
        })
        .collect();
    let unlink = state.path("/account/unlink");
    let csrf = session_csrf(state, headers);
    let (revoke, end, password) =
        (state.path("/account/apps/revoke"), state.path("/account/sessions/end"), state.path("/account/password"));
    let page = AccountPage {
        ui: &state.settings.ui,
        username: &user.username,
        csrf: &csrf,
        notice,
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
    };
    // The link buttons' answers redirect to the providers.
    let targets: Vec<&str> = state.upstreams.iter().map(|u| u.settings.issuer.as_str()).collect();
    Ok(html_with(status, &page, &targets, false))
}

pub(crate) fn see_other(location: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

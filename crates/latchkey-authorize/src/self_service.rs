//! The pages of self-service by email (docs/self-service.md): "Forgot your
//! password?" → a reset link by email → a new password; confirming an
//! address; changing one's address on `/account`. The rules (links, limits,
//! emails) are `latchkey_domain::self_service`'s. Without email configured
//! the pages say so and nothing is sent.
//!
//! The anonymous forms carry the browser's double-submit CSRF token, like
//! the sign-in forms; `/account`'s carry the session-bound one. Links in
//! emails open a page with a button, never a change on GET (mail scanners
//! fetch links).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use latchkey_core::audit::AuditEvent;
use latchkey_core::grant::Session;
use latchkey_domain::self_service::{self as ops, ChangeEmailError, ResetError, ResetRequest, Sent};
use latchkey_http::{Form, FormRejection, cookies};
use serde::Deserialize;

use crate::account::{AccountError, SignedInForm, account_page, see_other, signed_in_form};
use crate::pages::{ForgotPasswordPage, ResetPasswordPage, Text, VerifyEmailPage, html};
use crate::{AuthorizeState, CSRF_COOKIE, csrf_token, logout};

pub const FORGOT_PATH: &str = "/forgot-password";
pub const RESET_PATH: &str = ops::RESET_PATH;
pub const VERIFY_PATH: &str = ops::VERIFY_PATH;
pub const CHANGE_EMAIL_PATH: &str = "/account/email";
pub const RESEND_PATH: &str = "/account/email/verify";

/// A sign-in this recent lets the person change their address without
/// typing their password again.
const RECENT_SIGN_IN_SECONDS: i64 = 600;

/// Whether the session's sign-in is recent enough to stand for the password.
pub(crate) fn recent_sign_in(state: &AuthorizeState, session: &Session) -> bool {
    state.clock.now() - session.auth.auth_time <= RECENT_SIGN_IN_SECONDS
}

/// A page with the browser's CSRF cookie set when it had none.
fn with_csrf(state: &AuthorizeState, mut res: Response, csrf: &str, new_csrf: bool) -> Response {
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, csrf, state.settings.secure_cookies, None));
    }
    res
}

fn forgot_page(state: &AuthorizeState, headers: &HeaderMap, view: &str, csrf: &str, status: StatusCode) -> Response {
    let action = state.path(FORGOT_PATH);
    let minutes = (state.settings.email.password_reset_ttl_seconds.secs() + 59) / 60;
    html(
        status,
        &ForgotPasswordPage { ui: &state.settings.ui.for_request(headers, None), view, action: &action, csrf, minutes },
        None,
        false,
    )
}

/// `GET /forgot-password`: the form, or why there is none.
pub async fn forgot_show(State(state): State<AuthorizeState>, headers: HeaderMap) -> Response {
    if state.outbox.is_none() {
        return forgot_page(&state, &headers, "unavailable", "", StatusCode::NOT_FOUND);
    }
    let (csrf, new_csrf) = csrf_token(&headers);
    with_csrf(&state, forgot_page(&state, &headers, "form", &csrf, StatusCode::OK), &csrf, new_csrf)
}

#[derive(Debug, Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    identifier: String,
}

/// `POST /forgot-password`: the same answer whether or not an account
/// matches (the email is queued, never sent inline); 429 when this address
/// asked too often.
pub async fn forgot_submit(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<ForgotForm>, FormRejection>,
) -> Result<Response, AccountError> {
    let Form(form) = form.map_err(AccountError::Form)?;
    let Some(mail) = state.mail(crate::pages::request_language(&headers, None)) else {
        return Ok(forgot_page(&state, &headers, "unavailable", "", StatusCode::NOT_FOUND));
    };
    if !crate::matches_csrf_cookie(&headers, &form.csrf) {
        return Err(AccountError::Forged);
    }
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    match ops::request_reset(&mail, &form.identifier, address).await? {
        ResetRequest::Answered => Ok(forgot_page(&state, &headers, "sent", "", StatusCode::OK)),
        ResetRequest::Throttled(retry_after) => {
            let mut page = forgot_page(&state, &headers, "throttled", "", StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut().insert(header::RETRY_AFTER, retry_after.into());
            Ok(page)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

struct ResetView<'a> {
    view: &'a str,
    csrf: &'a str,
    token: &'a str,
    username: &'a str,
    error: &'a str,
}

fn reset_page(state: &AuthorizeState, headers: &HeaderMap, v: ResetView<'_>, status: StatusCode) -> Response {
    let (action, forgot, account) = (state.path(RESET_PATH), state.path(FORGOT_PATH), state.path(crate::account::PATH));
    let ui = state.settings.ui.for_request(headers, None);
    let page = ResetPasswordPage {
        ui: &ui,
        view: v.view,
        action: &action,
        csrf: v.csrf,
        token: v.token,
        username: v.username,
        error: v.error,
        forgot: &forgot,
        account: &account,
    };
    html(status, &page, None, false)
}

fn invalid_link(state: &AuthorizeState, headers: &HeaderMap) -> Response {
    let v = ResetView { view: "invalid", csrf: "", token: "", username: "", error: "" };
    reset_page(state, headers, v, StatusCode::BAD_REQUEST)
}

/// `GET /reset-password?token=`: the new-password form while the link is
/// good (opening it does not spend it).
pub async fn reset_show(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Result<Response, AccountError> {
    let Some(mail) = state.mail(crate::pages::request_language(&headers, None)) else {
        return Ok(forgot_page(&state, &headers, "unavailable", "", StatusCode::NOT_FOUND));
    };
    let Some(user) = ops::reset_link_user(&mail, &query.token).await? else {
        return Ok(invalid_link(&state, &headers));
    };
    let (csrf, new_csrf) = csrf_token(&headers);
    let v = ResetView { view: "form", csrf: &csrf, token: &query.token, username: &user.username, error: "" };
    Ok(with_csrf(&state, reset_page(&state, &headers, v, StatusCode::OK), &csrf, new_csrf))
}

#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /reset-password`: sets the new password (spending the link), ends
/// every session of the person, and tells them by email.
pub async fn reset_submit(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Result<Response, AccountError> {
    let Form(form) = form.map_err(AccountError::Form)?;
    let Some(mail) = state.mail(crate::pages::request_language(&headers, None)) else {
        return Ok(forgot_page(&state, &headers, "unavailable", "", StatusCode::NOT_FOUND));
    };
    if !crate::matches_csrf_cookie(&headers, &form.csrf) {
        return Err(AccountError::Forged);
    }
    let user = match ops::reset_password(&mail, &form.token, &form.new_password, &form.confirm_password).await {
        Ok(user) => user,
        Err(ResetError::Link) => return Ok(invalid_link(&state, &headers)),
        Err(ResetError::Store(e)) => return Err(e.into()),
        Err(e) => {
            let username = ops::reset_link_user(&mail, &form.token).await?.map(|u| u.username).unwrap_or_default();
            let (error, status) = match &e {
                ResetError::Mismatch => ("mismatch".to_string(), StatusCode::BAD_REQUEST),
                ResetError::Policy(refusal) => {
                    (crate::pages::password_refusal(mail.lang, refusal), StatusCode::BAD_REQUEST)
                }
                _ => ("hash".to_string(), StatusCode::SERVICE_UNAVAILABLE),
            };
            let v =
                ResetView { view: "form", csrf: &form.csrf, token: &form.token, username: &username, error: &error };
            return Ok(reset_page(&state, &headers, v, status));
        }
    };
    // Whoever knew (or guessed) the old password is signed out everywhere,
    // with everything ending a session implies (refresh tokens as
    // `sessions.end_revokes` says, back-channel logout).
    let now = state.clock.now();
    let mut ended = 0u64;
    for session in state.sessions.list_user_sessions(&user.id, now).await? {
        if logout::end_session(&state, &session.id_hash).await?.is_some() {
            ended += 1;
        }
    }
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    tracing::info!(event = "password_reset", user_id = %user.id, sessions_ended = ended, "password reset");
    let event = AuditEvent::new(now, "password.reset", format!("user:{}", user.id))
        .subject(&user.id)
        .ip(address)
        .detail("sessions_ended", ended);
    latchkey_http::audit(state.audit.as_ref(), event).await;
    let v = ResetView { view: "done", csrf: "", token: "", username: &user.username, error: "" };
    let mut res = reset_page(&state, &headers, v, StatusCode::OK);
    // This browser's session (if any) ended too.
    res.headers_mut().append(
        header::SET_COOKIE,
        cookies::set(state.settings.session_cookie(), "", state.settings.secure_cookies, Some(0)),
    );
    Ok(res)
}

fn verify_page(
    state: &AuthorizeState,
    headers: &HeaderMap,
    view: &str,
    csrf: &str,
    token: &str,
    status: StatusCode,
) -> Response {
    let (action, account) = (state.path(VERIFY_PATH), state.path(crate::account::PATH));
    let page = VerifyEmailPage {
        ui: &state.settings.ui.for_request(headers, None),
        view,
        action: &action,
        csrf,
        token,
        account: &account,
    };
    html(status, &page, None, false)
}

/// `GET /verify-email?token=`: a button that confirms (the link itself
/// changes nothing).
pub async fn verify_show(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Response {
    if state.outbox.is_none() {
        return verify_page(&state, &headers, "unavailable", "", "", StatusCode::NOT_FOUND);
    }
    let (csrf, new_csrf) = csrf_token(&headers);
    let token = query.token.chars().take(64).collect::<String>();
    with_csrf(&state, verify_page(&state, &headers, "form", &csrf, &token, StatusCode::OK), &csrf, new_csrf)
}

/// `POST /verify-email`: spends the link; the address is verified if it is
/// still the account's.
pub async fn verify_submit(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Result<Response, AccountError> {
    let Form(form) = form.map_err(AccountError::Form)?;
    let Some(mail) = state.mail(crate::pages::request_language(&headers, None)) else {
        return Ok(verify_page(&state, &headers, "unavailable", "", "", StatusCode::NOT_FOUND));
    };
    if !crate::matches_csrf_cookie(&headers, &form.csrf) {
        return Err(AccountError::Forged);
    }
    Ok(match ops::verify(&mail, &form.token).await? {
        Some(_) => verify_page(&state, &headers, "done", "", "", StatusCode::OK),
        None => verify_page(&state, &headers, "invalid", "", "", StatusCode::BAD_REQUEST),
    })
}

#[derive(Debug, Deserialize)]
pub struct ChangeEmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /account/email`: needs the current password, or a sign-in in the
/// last ten minutes.
pub async fn change_email(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<ChangeEmailForm>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((session, mut user, form)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(crate::account::PATH)));
    };
    let (original, headers) = (user.clone(), &headers);
    let lang = crate::pages::request_language(headers, user.claims.locale.as_deref());
    let again = |status, message: Text| {
        let message = lang.text(&message);
        let (session, original) = (&session, &original);
        async move { account_page(state, headers, session, original, None, Some(&message), status).await }
    };
    let Some(mail) = state.mail(crate::pages::request_language(headers, None)) else {
        return Ok(again(StatusCode::NOT_FOUND, Text::new("account-error-no-email-server")).await?);
    };
    if !recent_sign_in(state, &session) {
        if user.password_hash.is_none() {
            return Ok(again(StatusCode::FORBIDDEN, Text::new("account-error-sign-in-again")).await?);
        }
        let address = latchkey_http::client_address(peer.ip(), headers, &state.settings.trusted_proxies);
        if let Err((status, message)) =
            crate::account::confirm_password(state, &user, &form.current_password, address).await?
        {
            return Ok(again(status, message).await?);
        }
    }
    match ops::change_email(&mail, &mut user, &form.email).await {
        Ok(()) => Ok(see_other(&state.path("/account?done=email-changed"))),
        Err(ChangeEmailError::Store(e)) => Err(e.into()),
        Err(ChangeEmailError::Unchanged) => {
            Ok(again(StatusCode::BAD_REQUEST, Text::new("account-error-same-address")).await?)
        }
        Err(ChangeEmailError::Invalid(why)) => Ok(again(StatusCode::BAD_REQUEST, why).await?),
    }
}

/// `POST /account/email/verify`: a new confirmation link, within the
/// per-account limit.
pub async fn resend_verification(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<serde::de::IgnoredAny>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((_, user, _)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(crate::account::PATH)));
    };
    let Some(mail) = state.mail(crate::pages::request_language(&headers, None)) else {
        return Ok(see_other(&state.path(crate::account::PATH)));
    };
    if user.claims.email_verified {
        return Ok(see_other(&state.path(crate::account::PATH)));
    }
    Ok(match ops::send_verification(&mail, &user).await? {
        Sent::Sent => see_other(&state.path("/account?done=verification-sent")),
        Sent::Throttled => see_other(&state.path("/account?done=verification-throttled")),
        Sent::NoAddress => see_other(&state.path(crate::account::PATH)),
    })
}

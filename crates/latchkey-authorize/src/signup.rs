//! The pages of sign-up (docs/self-service.md, "Sign-up and invitations"):
//! `/signup` (open sign-up, reached from "Create an account" on the sign-in
//! pages, carrying the sign-in in progress so that the person goes on to
//! the app afterwards), `/invitation` (an invitation's link), and the page
//! that holds back an account of open sign-up until its address is
//! confirmed. The rules are `latchkey_domain::signup`'s.
//!
//! The forms carry the browser's double-submit CSRF token, like the
//! sign-in forms (and, within a sign-in, the interaction's, which is the
//! same).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use latchkey_config::SignupMode;
use latchkey_core::acr::Level;
use latchkey_core::grant::{Interaction, InteractionStage};
use latchkey_core::secret::hash_token;
use latchkey_core::{Client, User};
use latchkey_domain::self_service::{self as mail_ops, Sent};
use latchkey_domain::signup::{self as ops, NewAccount, SignedUp, SignupError};
use latchkey_http::{Form, FormRejection, cookies};
use serde::Deserialize;

use crate::account::see_other;
use crate::pages::{ConfirmAddressPage, InvitationPage, SignupPage, Ui, html};
use crate::request::AuthorizationRequest;
use crate::step_up::Needs;
use crate::{
    AuthorizeState, CONTINUE_PATH, CSRF_COOKIE, FlowError, InteractionForm, LoginError, SignInMethod, client_name,
    csrf_token, matches_csrf_cookie,
};

pub const PATH: &str = "/signup";
pub const RESEND_PATH: &str = "/signup/resend";
pub const INVITATION_PATH: &str = ops::INVITATION_PATH;

/// What a sign-up page shows besides its view.
#[derive(Default)]
struct SignupView<'a> {
    csrf: &'a str,
    interaction: &'a str,
    client_name: &'a str,
    username: &'a str,
    email: &'a str,
    error: &'a str,
}

fn signup_page(
    state: &AuthorizeState,
    ui: &Ui,
    view: &str,
    v: SignupView<'_>,
    status: StatusCode,
    redirect_uri: Option<&str>,
) -> Response {
    let action = state.path(PATH);
    // "Already have an account?": within a sign-in, its login page; else
    // `/account`, which also ends "Check your email" outside a sign-in.
    let login = match (v.interaction.is_empty(), view) {
        (true, _) => state.path(crate::account::PATH),
        (false, "form") => format!("{}?interaction={}", state.path(crate::LOGIN_PATH), v.interaction),
        (false, _) => String::new(),
    };
    let domains = state.settings.signup.allowed_email_domains().join(", ");
    let page = SignupPage {
        ui,
        view,
        action: &action,
        csrf: v.csrf,
        interaction: v.interaction,
        client_name: v.client_name,
        username: v.username,
        email: v.email,
        error: v.error,
        domains: &domains,
        min_length: latchkey_core::password::policy().min_length,
        login: &login,
    };
    html(status, &page, redirect_uri, false)
}

/// The sign-up form in place of the login page, for `prompt=create`.
pub(crate) fn form_in_flow(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    interaction: &str,
    csrf: &str,
) -> Response {
    let ui = state.settings.ui.speaking(req.language(None));
    let v = SignupView { csrf, interaction, client_name: client_name(client), ..Default::default() };
    signup_page(state, &ui, "form", v, StatusCode::OK, Some(&req.target.redirect_uri))
}

/// The page for a sign-up that is not open here.
fn not_open(state: &AuthorizeState, ui: &Ui) -> Response {
    let view = match state.settings.signup.mode {
        SignupMode::Invite => "invite_only",
        _ => "closed",
    };
    signup_page(state, ui, view, SignupView::default(), StatusCode::NOT_FOUND, None)
}

fn with_csrf(state: &AuthorizeState, mut res: Response, csrf: &str, new_csrf: bool) -> Response {
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, csrf, state.settings.secure_cookies, None));
    }
    res
}

#[derive(Debug, Deserialize)]
pub struct SignupQuery {
    #[serde(default)]
    pub(crate) interaction: String,
}

/// The sign-in in progress a sign-up link carries, if it is still at its
/// login step and belongs to this browser (its CSRF cookie).
async fn pending_sign_in(
    state: &AuthorizeState,
    headers: &HeaderMap,
    interaction: &str,
) -> Result<Option<(Interaction, AuthorizationRequest, Client)>, LoginError> {
    if interaction.is_empty() || interaction.len() > 64 {
        return Ok(None);
    }
    let Some(found) = state.interactions.get_interaction(&hash_token(interaction), state.clock.now()).await? else {
        return Ok(None);
    };
    if found.stage != InteractionStage::Login || !matches_csrf_cookie(headers, &found.csrf) {
        return Ok(None);
    }
    let (req, client) = crate::request_of(state, &found).await?;
    Ok(Some((found, req, client)))
}

/// `GET /signup[?interaction=]`: the form, or why there is none.
pub async fn show(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    Query(query): Query<SignupQuery>,
) -> Result<Response, LoginError> {
    if state.settings.signup.mode != SignupMode::Open {
        return Ok(not_open(&state, &state.settings.ui.for_request(&headers, None)));
    }
    if let Some((interaction, req, client)) = pending_sign_in(&state, &headers, &query.interaction).await? {
        let ui = state.settings.ui.speaking(req.language(None));
        let v = SignupView {
            csrf: &interaction.csrf,
            interaction: &query.interaction,
            client_name: client_name(&client),
            ..Default::default()
        };
        return Ok(signup_page(&state, &ui, "form", v, StatusCode::OK, Some(&req.target.redirect_uri)));
    }
    let (csrf, new_csrf) = csrf_token(&headers);
    let ui = state.settings.ui.for_request(&headers, None);
    let v = SignupView { csrf: &csrf, ..Default::default() };
    let page = signup_page(&state, &ui, "form", v, StatusCode::OK, None);
    Ok(with_csrf(&state, page, &csrf, new_csrf))
}

#[derive(Debug, Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    interaction: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

/// A refused sign-up's words on the page, and its status.
fn refusal(ui: &Ui, e: &SignupError) -> (String, StatusCode) {
    let bad = StatusCode::BAD_REQUEST;
    match e {
        SignupError::EmailDomain(domains) => {
            (ui.t_with("signup-error-domain", "domains", domains.as_str()), StatusCode::FORBIDDEN)
        }
        SignupError::Invalid(_, text) => (ui.text(text), bad),
        SignupError::Password(refusal) => {
            (ui.t_with("signup-error-password", "reason", ui.password_refusal(refusal)), bad)
        }
        SignupError::UsernameTaken => (ui.t("signup-error-username-taken"), StatusCode::CONFLICT),
        SignupError::EmailTaken => (ui.t("signup-error-email-taken"), StatusCode::CONFLICT),
        _ => (ui.t("signup-error-failed"), StatusCode::SERVICE_UNAVAILABLE),
    }
}

/// `POST /signup`: creates the account (open sign-up), signs the person in
/// and goes on with the sign-in they came from, if any (its consent, a
/// required second factor, or the address to confirm first).
pub async fn submit(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<SignupForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    if state.settings.signup.mode != SignupMode::Open {
        return Ok(not_open(state, &state.settings.ui.for_request(&headers, None)));
    }
    if !matches_csrf_cookie(&headers, &form.csrf) {
        return Err(crate::InteractionError::Forged.into());
    }
    let mut flow = None;
    if !form.interaction.is_empty() {
        let bound = InteractionForm { interaction: Some(form.interaction.clone()), csrf: form.csrf.clone() };
        flow = Some(crate::load_interaction(state, &headers, &bound, InteractionStage::Login).await?);
    }
    // Within a sign-in, its language (`ui_locales`, then the browser's).
    let ui = match &flow {
        Some((_, req, _)) => state.settings.ui.speaking(req.language(None)),
        None => state.settings.ui.for_request(&headers, None),
    };
    let (name, redirect_uri) = match &flow {
        Some((_, req, client)) => (client_name(client), Some(req.target.redirect_uri.as_str())),
        None => ("", None),
    };
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let account = NewAccount {
        username: form.username.clone(),
        email: form.email.clone(),
        password: form.password.clone(),
        confirm: form.confirm_password.clone(),
    };
    fn filled<'a>(form: &'a SignupForm, client_name: &'a str, error: &'a str) -> SignupView<'a> {
        SignupView {
            csrf: &form.csrf,
            interaction: &form.interaction,
            client_name,
            username: &form.username,
            email: &form.email,
            error,
        }
    }
    let view = |error| filled(&form, name, error);
    let user = match ops::sign_up(&state.signups(ui.lang), account, address).await {
        // An account that must confirm its address, and an address that
        // has an account, get the same answer: no session yet, and the
        // page that waits for the link.
        Ok(SignedUp::Created { user, verify: true }) => {
            let email = user.claims.email.clone().unwrap_or_default();
            return hold(state, &ui, flow, Some(user.id.clone()), &email, &form).await;
        }
        Ok(SignedUp::CheckEmail { address }) if state.settings.signup.require_verified_email => {
            return hold(state, &ui, flow, None, &address, &form).await;
        }
        Ok(SignedUp::Created { user, .. }) => *user,
        Ok(SignedUp::CheckEmail { .. }) => {
            return Ok(signup_page(state, &ui, "check_email", view(""), StatusCode::OK, redirect_uri));
        }
        Err(SignupError::Closed) => return Ok(not_open(state, &ui)),
        Err(SignupError::Throttled(retry)) => {
            let mut page = signup_page(state, &ui, "throttled", view(""), StatusCode::TOO_MANY_REQUESTS, None);
            page.headers_mut().insert(header::RETRY_AFTER, retry.into());
            return Ok(page);
        }
        Err(SignupError::Store(e)) => return Err(e.into()),
        Err(e) => {
            let (message, status) = refusal(&ui, &e);
            return Ok(signup_page(state, &ui, "form", view(&message), status, redirect_uri));
        }
    };
    let Some((mut interaction, req, client)) = flow else {
        // No app waits: the account page.
        let (_, cookie) = crate::start_session(state, &headers, &user, None, address, SignInMethod::password()).await?;
        let mut res = see_other(&state.path(crate::account::PATH));
        res.headers_mut().append(header::SET_COOKIE, cookie);
        return Ok(res);
    };
    go_on(state, &headers, address, &client, req, user, (&mut interaction, &form.interaction)).await
}

/// Goes on with a sign-in for `user`, a new account that has just set its
/// password, as right after a password: a second factor to set up first
/// if the app needs one, then the session, consent and the code.
async fn go_on(
    state: &AuthorizeState,
    headers: &HeaderMap,
    address: std::net::IpAddr,
    client: &Client,
    req: AuthorizationRequest,
    user: User,
    (interaction, interaction_id): (&mut Interaction, &str),
) -> Result<Response, LoginError> {
    let next = crate::step_up::next(Needs::of(&state.settings, client, &req, &user), Level::Single, Level::Single);
    let step = crate::after_first_factor(
        state,
        client,
        &req,
        &user,
        interaction,
        interaction_id,
        next,
        Level::Single,
        Level::Single,
    );
    if let Some(page) = step.await? {
        return Ok(page);
    }
    let (session, cookie) =
        crate::start_session(state, headers, &user, Some(&client.client_id), address, SignInMethod::password()).await?;
    let mut res = crate::proceed_after_login(state, client, req, (session, user), interaction, interaction_id)
        .await
        .unwrap_or_else(|e| axum::response::IntoResponse::into_response(LoginError::from(e)));
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// Answers a sign-up that must wait for a confirmation link: `user_id` is
/// the new account, or `None` where the address already had one. Either
/// way no session starts yet. Within a sign-in, the interaction waits at
/// its continue step ([`FirstFactor::SignUp`](crate::request::FirstFactor))
/// on the confirm page; outside one, "Check your email".
async fn hold(
    state: &AuthorizeState,
    ui: &Ui,
    flow: Option<(Interaction, AuthorizationRequest, Client)>,
    user_id: Option<String>,
    email: &str,
    form: &SignupForm,
) -> Result<Response, LoginError> {
    let Some((mut interaction, mut req, client)) = flow else {
        let v = SignupView { csrf: &form.csrf, email, ..Default::default() };
        return Ok(signup_page(state, ui, "check_email", v, StatusCode::OK, None));
    };
    req.first_factor = crate::request::FirstFactor::SignUp { email: email.to_string() };
    interaction.stage = InteractionStage::Continue;
    interaction.user_id = user_id;
    store_request(state, &mut interaction, &req).await?;
    Ok(confirm_page_with(state, &client, &req, req.language(None), email, &form.interaction, &interaction.csrf, ""))
}

/// Stores `interaction` (same id) with `req` as its request: an update
/// keeps the request, so it is taken (once) and stored again.
async fn store_request(
    state: &AuthorizeState,
    interaction: &mut Interaction,
    req: &AuthorizationRequest,
) -> Result<(), LoginError> {
    interaction.request = serde_json::to_string(req).expect("request serializes");
    if !state.interactions.delete_interaction(&interaction.id_hash).await? {
        return Err(crate::InteractionError::Expired.into());
    }
    state.interactions.insert_interaction(interaction).await?;
    Ok(())
}

/// A sign-in held by [`hold`], and the address it waits for.
pub(crate) struct Held<'a> {
    pub interaction: &'a mut Interaction,
    pub interaction_id: &'a str,
    pub email: &'a str,
}

/// "Continue" (`resend` false) or "Send the link again" (`resend` true) on
/// a sign-in held by [`hold`]: once the new account's address is confirmed,
/// its session starts and the sign-in goes on (a second factor to set up if
/// the app needs one, consent, the code); until then the same page again.
/// A held sign-up whose address was taken never goes on, and answers alike.
pub(crate) async fn continue_held(
    state: &AuthorizeState,
    headers: &HeaderMap,
    address: std::net::IpAddr,
    client: &Client,
    mut req: AuthorizationRequest,
    held: Held<'_>,
    resend: bool,
) -> Result<Response, LoginError> {
    let user = match &held.interaction.user_id {
        Some(id) => state.users.get_user(id).await?.filter(|u| !u.disabled),
        None => None,
    };
    let waiting = match &user {
        Some(user) => ops::awaits_verification(&*state.store, &state.settings.signup, user).await?,
        None => true,
    };
    if waiting {
        let notice =
            if resend { resend_notice(state, req.language(None), user.as_ref(), held.interaction).await? } else { "" };
        let (lang, csrf) = (req.language(None), &held.interaction.csrf);
        return Ok(confirm_page_with(state, client, &req, lang, held.email, held.interaction_id, csrf, notice));
    }
    let user = user.expect("a confirmed account");
    // Confirmed: from here on as right after a password.
    req.first_factor = crate::request::FirstFactor::Password;
    store_request(state, held.interaction, &req).await?;
    go_on(state, headers, address, client, req, user, (held.interaction, held.interaction_id)).await
}

/// Sends the new account's link again within `email.max_per_account`, and
/// says so; a held sign-up without an account counts its asks the same way
/// (its first link being the one sign-up sent) and says the same.
async fn resend_notice(
    state: &AuthorizeState,
    lang: latchkey_i18n::Language,
    user: Option<&User>,
    interaction: &Interaction,
) -> Result<&'static str, LoginError> {
    let Some(mail) = state.mail(lang) else { return Ok("") };
    let sent = match user {
        Some(user) => mail_ops::send_verification(&mail, user).await?,
        None => {
            let window = u32::try_from(state.settings.email.rate_window_seconds.get()).unwrap_or(u32::MAX);
            let key = format!("email:held:{}", interaction.id_hash);
            let hits = state.store.hit(&key, window, state.clock.now()).await?;
            if hits < state.settings.email.max_per_account { Sent::Sent } else { Sent::Throttled }
        }
    };
    Ok(match sent {
        Sent::Sent => "confirm-address-resent",
        Sent::Throttled => "confirm-address-throttled",
        Sent::NoAddress => "",
    })
}

/// The page that holds an account of open sign-up back until its address
/// is confirmed, for a signed-in `user`: "continue" (which checks again)
/// and "send the link again". `notice`: the id of a message to show ("" for none).
pub(crate) fn confirm_page(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    interaction: &str,
    csrf: &str,
    notice: &str,
) -> Response {
    let (lang, email) = (req.language(Some(user)), user.claims.email.as_deref().unwrap_or(""));
    confirm_page_with(state, client, req, lang, email, interaction, csrf, notice)
}

/// [`confirm_page`] in `lang`, for `email`.
#[allow(clippy::too_many_arguments)]
fn confirm_page_with(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    lang: latchkey_i18n::Language,
    email: &str,
    interaction: &str,
    csrf: &str,
    notice: &str,
) -> Response {
    let (action, resend) = (state.path(CONTINUE_PATH), state.path(RESEND_PATH));
    let ui = state.settings.ui.speaking(lang);
    let notice = if notice.is_empty() { String::new() } else { ui.t(notice) };
    let page = ConfirmAddressPage {
        ui: &ui,
        client_name: client_name(client),
        email,
        notice: &notice,
        action: &action,
        resend: &resend,
        interaction,
        csrf,
    };
    // A device's request goes on to its own consent page, never to a redirect URI.
    let redirect_uri = req.device.is_none().then_some(req.target.redirect_uri.as_str());
    html(StatusCode::OK, &page, redirect_uri, false)
}

/// Before an app gets anything for `user`: the page to confirm the address
/// if they must (the interaction then waits at its continue step), else `None`.
pub(crate) async fn address_gate(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    interaction: &mut Interaction,
    interaction_id: &str,
) -> Result<Option<Response>, FlowError> {
    if !ops::awaits_verification(&*state.store, &state.settings.signup, user).await? {
        return Ok(None);
    }
    interaction.stage = InteractionStage::Continue;
    interaction.user_id = Some(user.id.clone());
    if !state.interactions.update_interaction(interaction).await? {
        return Err(FlowError::AlreadyCompleted);
    }
    Ok(Some(confirm_page(state, client, req, user, interaction_id, &interaction.csrf, "")))
}

/// `POST /signup/resend`: a new confirmation link for the person the
/// confirm page holds back (within the per-account email limit).
pub async fn resend(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<InteractionForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    let (mut interaction, req, client) =
        crate::load_interaction(state, &headers, &form, InteractionStage::Continue).await?;
    let interaction_id = form.interaction.as_deref().unwrap_or("");
    if let crate::request::FirstFactor::SignUp { email } = &req.first_factor {
        let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
        let email = email.clone();
        let held = Held { interaction: &mut interaction, interaction_id, email: &email };
        return continue_held(state, &headers, address, &client, req, held, true).await;
    }
    let session = crate::current_session(state, &headers).await?;
    let Some((session, user)) = session.filter(|(_, u)| Some(&u.id) == interaction.user_id.as_ref()) else {
        return Err(LoginError::SessionEnded);
    };
    if !ops::awaits_verification(&*state.store, &state.settings.signup, &user).await? {
        return Ok(
            crate::proceed_after_login(state, &client, req, (session, user), &mut interaction, interaction_id).await?
        );
    }
    let notice = match state.mail(req.language(Some(&user))) {
        Some(mail) => match mail_ops::send_verification(&mail, &user).await? {
            Sent::Sent => "confirm-address-resent",
            Sent::Throttled => "confirm-address-throttled",
            Sent::NoAddress => "",
        },
        None => "",
    };
    Ok(confirm_page(state, &client, &req, &user, interaction_id, &interaction.csrf, notice))
}

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

struct InvitationView<'a> {
    csrf: &'a str,
    token: &'a str,
    email: &'a str,
    username: &'a str,
    error: &'a str,
}

fn invitation_page(state: &AuthorizeState, ui: &Ui, view: &str, v: InvitationView<'_>, status: StatusCode) -> Response {
    let action = state.path(INVITATION_PATH);
    let page = InvitationPage {
        ui,
        view,
        action: &action,
        csrf: v.csrf,
        token: v.token,
        email: v.email,
        username: v.username,
        error: v.error,
        min_length: latchkey_core::password::policy().min_length,
    };
    html(status, &page, None, false)
}

fn invalid_invitation(state: &AuthorizeState, ui: &Ui) -> Response {
    let v = InvitationView { csrf: "", token: "", email: "", username: "", error: "" };
    invitation_page(state, ui, "invalid", v, StatusCode::BAD_REQUEST)
}

/// `GET /invitation?token=`: the form while the invitation is good
/// (opening it does not spend it).
pub async fn invitation_show(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    Query(query): Query<TokenQuery>,
) -> Result<Response, LoginError> {
    let ui = state.settings.ui.for_request(&headers, None);
    if state.settings.signup.mode == SignupMode::Closed {
        return Ok(not_open(&state, &ui));
    }
    let Some(invitation) = ops::invitation_for(&state.signups(ui.lang), &query.token).await? else {
        return Ok(invalid_invitation(&state, &ui));
    };
    // The language the operator chose for the person, else the browser's.
    let ui = ops::invitation_language(&invitation).map_or(ui, |lang| state.settings.ui.speaking(lang));
    let (csrf, new_csrf) = csrf_token(&headers);
    let v = InvitationView { csrf: &csrf, token: &query.token, email: &invitation.email, username: "", error: "" };
    Ok(with_csrf(&state, invitation_page(&state, &ui, "form", v, StatusCode::OK), &csrf, new_csrf))
}

#[derive(Debug, Deserialize)]
pub struct InvitationForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
}

/// `POST /invitation`: creates the account (spending the invitation), signs
/// the person in and shows their account.
pub async fn invitation_submit(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<InvitationForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    let mut ui = state.settings.ui.for_request(&headers, None);
    if state.settings.signup.mode == SignupMode::Closed {
        return Ok(not_open(state, &ui));
    }
    if !matches_csrf_cookie(&headers, &form.csrf) {
        return Err(crate::InteractionError::Forged.into());
    }
    let chosen = ops::invitation_for(&state.signups(ui.lang), &form.token).await?;
    if let Some(lang) = chosen.as_ref().and_then(ops::invitation_language) {
        ui = state.settings.ui.speaking(lang);
    }
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let account = NewAccount {
        username: form.username.clone(),
        email: String::new(),
        password: form.password.clone(),
        confirm: form.confirm_password.clone(),
    };
    let signups = state.signups(ui.lang);
    let user = match ops::accept_invitation(&signups, &form.token, account, address).await {
        Ok(user) => user,
        Err(SignupError::Invitation) => return Ok(invalid_invitation(state, &ui)),
        Err(SignupError::Closed) => return Ok(not_open(state, &ui)),
        Err(SignupError::Throttled(retry)) => {
            let v = InvitationView { csrf: "", token: "", email: "", username: "", error: "" };
            let mut page = invitation_page(state, &ui, "throttled", v, StatusCode::TOO_MANY_REQUESTS);
            page.headers_mut().insert(header::RETRY_AFTER, retry.into());
            return Ok(page);
        }
        Err(SignupError::Store(e)) => return Err(e.into()),
        Err(e) => {
            let email = chosen.map(|i| i.email).unwrap_or_default();
            let (message, status) = refusal(&ui, &e);
            let v = InvitationView {
                csrf: &form.csrf,
                token: &form.token,
                email: &email,
                username: &form.username,
                error: &message,
            };
            return Ok(invitation_page(state, &ui, "form", v, status));
        }
    };
    let (_, cookie) = crate::start_session(state, &headers, &user, None, address, SignInMethod::password()).await?;
    let mut res = see_other(&state.path("/account?done=welcome"));
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

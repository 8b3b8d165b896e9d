//! The verification page of the device authorization grant (RFC 8628 §3.3):
//! `/device` asks for the user code, the person signs in with the normal
//! login (password or upstream, one session), then approves or denies on a
//! page that shows the code and warns against remote phishing (§5.4).
//! What is approved becomes an authorization code keyed by the device
//! code's hash, which the device's next poll redeems.

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::audit::AuditEvent;
use latchkey_core::device::{DeviceStatus, display_user_code, normalize_user_code, user_code_hash};
use latchkey_core::grant::{AuthorizationCode, Interaction, InteractionStage};
use latchkey_core::secret::hash_token;
use latchkey_core::{Client, User, random};
use latchkey_domain::device::UserCodeLimit;
use latchkey_http::{Form, FormRejection, cookies};
use latchkey_store::StoreError;
use serde::Deserialize;

use crate::failure::{Failure, InteractionError};
use crate::pages::{DeviceConsentPage, DeviceDonePage, DevicePage, Text, html, scope_lines};
use crate::request::{AuthorizationRequest, DeviceRequest, ResponseMode, Target};
use crate::{
    AuthorizeState, CSRF_COOKIE, DecisionError, InteractionForm, account, client_name, csrf_token, current_session,
    load_interaction, login_page, take_decision,
};

pub const PATH: &str = "/device";
pub const CONSENT_PATH: &str = "/device/consent";

/// The code entry form, pre-filled from `verification_uri_complete`.
pub async fn show(State(state): State<AuthorizeState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let typed = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "user_code").map(|(_, v)| v);
    let typed: String = typed.unwrap_or_default().chars().take(32).collect();
    entry_page(&state, &headers, StatusCode::OK, &typed, None)
}

fn entry_page(
    state: &AuthorizeState,
    headers: &HeaderMap,
    status: StatusCode,
    user_code: &str,
    error: Option<&str>,
) -> Response {
    let (csrf, new_csrf) = csrf_token(headers);
    let action = state.path(PATH);
    let ui = state.settings.ui.for_request(headers, None);
    let page = DevicePage { ui: &ui, action: &action, csrf: &csrf, user_code, error };
    let mut res = html(status, &page, None, false);
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, &csrf, state.settings.secure_cookies, None));
    }
    res
}

/// The code entry form as posted.
#[derive(Debug, Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    csrf: String,
}

/// How `/device` and `/device/consent` fail.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("unreadable form")]
    Form(FormRejection),
    #[error(transparent)]
    Interaction(#[from] InteractionError),
    #[error("CSRF token mismatch")]
    Forged,
    #[error(transparent)]
    Decision(#[from] DecisionError),
    #[error("the device's request expired")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DeviceError> for Failure {
    fn from(e: DeviceError) -> Self {
        let bad = |id: &'static str| Failure::says(StatusCode::BAD_REQUEST, Text::new(id));
        match e {
            DeviceError::Form(rejection) => Failure::form(&rejection),
            DeviceError::Interaction(e) => e.into(),
            DeviceError::Forged => Failure::says(StatusCode::FORBIDDEN, Text::new("device-error-forged")),
            DeviceError::Decision(DecisionError::SessionEnded) => bad("device-error-session-ended"),
            DeviceError::Decision(DecisionError::NoDecision) => bad("device-error-no-decision"),
            DeviceError::Decision(DecisionError::AlreadyCompleted) => bad("device-error-already-completed"),
            DeviceError::Decision(DecisionError::Store(e)) => Failure::store(&e),
            DeviceError::Expired => bad("device-error-expired"),
            DeviceError::Store(e) => Failure::store(&e),
        }
    }
}

impl IntoResponse for DeviceError {
    fn into_response(self) -> Response {
        Failure::from(self).into_response()
    }
}

fn limit(state: &AuthorizeState) -> UserCodeLimit {
    let (max_failures, window_seconds) = state.settings.device.user_code_policy();
    UserCodeLimit { max_failures, window_seconds }
}

const WRONG_CODE: &str = "That code is not valid or has expired. Check the code on your device and try again.";
const TOO_MANY: &str = "Too many wrong codes from your network. Please wait a few minutes and try again.";

/// A code entered: if it names a pending request, the sign-in (or, already
/// signed in, the consent page) follows.
pub async fn enter(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<EntryForm>, FormRejection>,
) -> Result<Response, DeviceError> {
    let Form(form) = form.map_err(DeviceError::Form)?;
    let state = &state;
    if !crate::matches_csrf_cookie(&headers, &form.csrf) {
        tracing::info!("device form refused: CSRF token mismatch");
        return Err(DeviceError::Forged);
    }
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let now = state.clock.now();
    let typed: String = form.user_code.chars().take(32).collect();
    let too_many = |until: i64| {
        let mut page = entry_page(state, &headers, StatusCode::TOO_MANY_REQUESTS, &typed, Some(TOO_MANY));
        page.headers_mut().insert(header::RETRY_AFTER, (until - now).max(1).into());
        page
    };
    // The limit first: a refused address looks nothing up.
    if let Some(until) = latchkey_domain::device::refused_until(&*state.failures, limit(state), address, now).await? {
        return Ok(too_many(until));
    }
    // Something that cannot be a code (a vowel, a wrong length) is a typo,
    // not a guess: it is not counted.
    let Some(canonical) = normalize_user_code(&typed) else {
        return Ok(entry_page(state, &headers, StatusCode::BAD_REQUEST, &typed, Some(WRONG_CODE)));
    };
    let found = state.store.find_user_code(&user_code_hash(&canonical), now).await?;
    let client = match &found {
        Some(device) => state.clients.get_client(&device.client_id).await?,
        None => None,
    };
    let (Some(device), Some(client)) = (found, client) else {
        let counted = latchkey_domain::device::wrong_code(&*state.failures, &*state.audit, limit(state), address, now);
        if let Some(until) = counted.await? {
            return Ok(too_many(until));
        }
        return Ok(entry_page(state, &headers, StatusCode::BAD_REQUEST, &typed, Some(WRONG_CODE)));
    };
    let mut req = AuthorizationRequest {
        target: Target {
            client_id: client.client_id.clone(),
            // Errors of the sign-in that would go to a client come back here.
            redirect_uri: format!("{}{PATH}", state.settings.issuer),
            redirect_uri_sent: false,
            response_mode: ResponseMode::Query,
            state: None,
            response_signing_alg: None,
        },
        scope: device.scope.clone(),
        nonce: None,
        code_challenge: None,
        prompt: Default::default(),
        max_age: None,
        login_hint: None,
        hint_sub: None,
        device: Some(DeviceRequest {
            device_code_hash: device.device_code_hash.clone(),
            user_code: display_user_code(&canonical),
            expires_at: device.expires_at,
        }),
        acr_values: Vec::new(),
        claims: None,
        first_factor: Default::default(),
        dpop_jkt: None,
        ui_locales: None,
        browser_language: None,
    };
    req.remember_browser_language(&headers);
    // A session weaker than the client or the operator requires signs in
    // again, where the second factor (or its setup) follows the password.
    let session = match current_session(state, &headers).await? {
        Some((session, user)) if !crate::session_suffices(state, &client, &req, &session, &user).await? => None,
        session => session,
    };
    let id = random::token(32);
    let (csrf, _) = csrf_token(&headers);
    let mut interaction = Interaction {
        id_hash: hash_token(&id),
        csrf,
        stage: InteractionStage::Login,
        user_id: None,
        request: serde_json::to_string(&req).expect("request serializes"),
        created_at: now,
        // Never past the device's own expiry.
        expires_at: (now + state.settings.login.interaction_ttl_seconds.secs()).min(device.expires_at),
    };
    // An account of open sign-up confirms its address before a device gets tokens.
    let held = match &session {
        Some((_, user)) => {
            latchkey_domain::signup::awaits_verification(&*state.store, &state.settings.signup, user).await?
        }
        None => false,
    };
    if let Some((_, user)) = &session {
        interaction.stage = if held { InteractionStage::Continue } else { InteractionStage::Consent };
        interaction.user_id = Some(user.id.clone());
    }
    state.interactions.insert_interaction(&interaction).await?;
    Ok(match session {
        Some((_, user)) if held => crate::signup::confirm_page(state, &client, &req, &user, &id, &interaction.csrf, ""),
        Some((_, user)) => consent_page(state, &client, &req, &user, &id, &interaction.csrf),
        None => login_page(state, &client, &req, &id, &interaction.csrf, "", None),
    })
}

/// The device's consent page: the app, the code, the warning.
pub(crate) fn consent_page(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    interaction: &str,
    csrf: &str,
) -> Response {
    let action = state.path(CONSENT_PATH);
    let account = state.path(account::PATH);
    let user_code = req.device.as_ref().map(|d| d.user_code.as_str()).unwrap_or("");
    let ui = state.settings.ui.speaking(req.language(Some(user)));
    let page = DeviceConsentPage {
        ui: &ui,
        action: &action,
        client_name: client_name(client),
        client_logo: client.settings.logo_uri.as_deref(),
        username: &user.username,
        user_code,
        scopes: scope_lines(&req.scope),
        interaction,
        csrf,
        account: &account,
    };
    html(StatusCode::OK, &page, None, false)
}

/// The consent form as posted.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    #[serde(flatten)]
    interaction: InteractionForm,
    decision: Option<String>,
}

/// Approve or Deny.
pub async fn decide(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<DecisionForm>, FormRejection>,
) -> Result<Response, DeviceError> {
    let Form(form) = form.map_err(DeviceError::Form)?;
    let state = &state;
    let (interaction, req, client) =
        load_interaction(state, &headers, &form.interaction, InteractionStage::Consent).await?;
    let Some(device) = req.device.clone() else {
        return Err(InteractionError::Expired.into());
    };
    let (session, user, allow) = take_decision(state, &headers, &interaction, form.decision.as_deref()).await?;
    let now = state.clock.now();
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let name = client_name(&client).to_string();
    if !allow {
        if !state.store.decide_device_code(&device.device_code_hash, DeviceStatus::Denied, now).await? {
            return Err(DeviceError::Expired);
        }
        tracing::info!(event = "device_denied", user_id = %user.id, client_id = %client.client_id, "device denied");
        return Ok(done_page(state, &name, false));
    }
    if device.expires_at <= now {
        return Err(DeviceError::Expired);
    }
    let scope =
        latchkey_domain::consents::grant_consent(&*state.store, &user.id, &client.client_id, &req.scope, now).await?;
    // The grant first, then the approval that makes the device's poll
    // redeem it: a failure between them leaves nothing a device could use.
    let record = AuthorizationCode {
        code_hash: device.device_code_hash.clone(),
        client_id: client.client_id.clone(),
        grant_id: random::token(16),
        redirect_uri: String::new(),
        redirect_uri_sent: false,
        scope: req.scope.clone(),
        nonce: None,
        code_challenge: None,
        auth: session.auth.clone(),
        created_at: now,
        expires_at: device.expires_at,
        device: true,
        claims: Default::default(),
        dpop_jkt: None,
    };
    state.codes.insert_code(&record).await?;
    if !state.store.decide_device_code(&device.device_code_hash, DeviceStatus::Approved, now).await? {
        return Err(DeviceError::Expired);
    }
    state.sessions.add_session_client(&session.id_hash, &client.client_id).await?;
    let event = AuditEvent::new(now, "consent.granted", format!("user:{}", user.id))
        .subject(&user.id)
        .client(&client.client_id)
        .ip(address)
        .detail("scope", scope.to_string())
        .detail("grant", "device_code");
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(done_page(state, &name, true))
}

fn done_page(state: &AuthorizeState, client_name: &str, approved: bool) -> Response {
    html(StatusCode::OK, &DeviceDonePage { ui: &state.settings.ui, client_name, approved }, None, false)
}

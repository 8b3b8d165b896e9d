//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) with its
//! login and consent pages, the session cookie, and code issuance.

pub mod account;
pub mod device;
mod failure;
pub mod logout;
pub mod pages;
pub mod par;
pub mod request;
mod request_object;
pub mod upstream;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_core::audit::AuditEvent;
use latchkey_core::claims::IdTokenClaims;
use latchkey_core::grant::{AuthorizationCode, Interaction, InteractionStage, Session};
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::{Client, Clock, OAuthError, User, random};
use latchkey_domain::sessions::{self, NewSession, StartedSession};
use latchkey_domain::sign_in::{PasswordCheck, SignIn, check_password};
use latchkey_http::{Form, FormRejection, Params, cookies, form::is_form};
use latchkey_keys::KeyRing;
use latchkey_store::{
    AuditStore, ClientStore, CodeStore, ConsentStore, FailureStore, FederatedIdentityStore, InteractionStore,
    PushedRequestStore, SessionStore, Store, StoreError, UserStore,
};

use serde::Deserialize;

use crate::failure::{Failure, InteractionError};
use crate::pages::{
    ConsentPage, FormPostPage, LoginPage, Ui, UpstreamButton, error_page, html, html_with, scope_lines,
};
use crate::request::{AuthorizationRequest, PageError, ResponseMode, Target};

/// `acr` of a password sign-in.
pub const ACR_PASSWORD: &str = "urn:latchkey:acr:password";
pub const CSRF_COOKIE: &str = "latchkey_csrf";

/// Settings the authorization endpoint needs: the sections of the
/// configuration it reads, and what follows from the issuer.
#[derive(Debug, Clone)]
pub struct AuthorizeSettings {
    pub issuer: String,
    /// Path prefix of the issuer ("" or "/tenant"), for form actions.
    pub base_path: String,
    /// Issuer is https: cookies are `Secure` and the session cookie is `__Host-` prefixed.
    pub secure_cookies: bool,
    pub ui: Ui,
    /// Sign-in limits, the password form, the lifetime of a sign-in in progress.
    pub login: latchkey_config::Login,
    /// Session lifetimes, and which refresh tokens end with a session.
    pub sessions: latchkey_config::Sessions,
    pub pkce: latchkey_config::Pkce,
    /// Pushed authorization requests: their lifetime, and whether every
    /// client must use them.
    pub par: latchkey_config::Par,
    /// The lifetime of authorization codes.
    pub tokens: latchkey_config::Tokens,
    /// The device grant's limit on wrong user codes.
    pub device: latchkey_config::Device,
    /// The claims people may change on `/account` (`account.editable_claims`, address parts spelt out).
    pub editable_claims: Vec<&'static str>,
    /// Proxies whose `X-Forwarded-For` names the person's address (for the
    /// audit log and the per-address limit).
    pub trusted_proxies: Arc<[latchkey_http::IpRange]>,
}

impl AuthorizeSettings {
    pub fn from_config(config: &latchkey_config::Config) -> Self {
        let base_path = config.issuer_path();
        Self {
            issuer: config.issuer.clone(),
            secure_cookies: config.secure_cookies(),
            ui: Ui {
                product_name: config.ui.product_name.trim().to_string(),
                logo_uri: config.ui.logo_uri.clone(),
                css_href: format!("{base_path}/assets/latchkey.css"),
            },
            base_path,
            login: config.login.clone(),
            sessions: config.sessions.clone(),
            pkce: config.pkce.clone(),
            par: config.par.clone(),
            tokens: config.tokens.clone(),
            device: config.device.clone(),
            editable_claims: config.account.editable_string_claims(),
            trusted_proxies: config.http.trusted_proxies.clone().into(),
        }
    }

    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies { "__Host-latchkey_session" } else { "latchkey_session" }
    }
}

/// What the authorization endpoint needs.
#[derive(Clone)]
pub struct AuthorizeState {
    pub settings: Arc<AuthorizeSettings>,
    pub clients: Arc<dyn ClientStore>,
    pub users: Arc<dyn UserStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub consents: Arc<dyn ConsentStore>,
    pub interactions: Arc<dyn InteractionStore>,
    pub codes: Arc<dyn CodeStore>,
    pub pushed: Arc<dyn PushedRequestStore>,
    /// Client authentication at `/par`, as at the token endpoint.
    pub client_auth: latchkey_client_auth::ClientAuthenticator,
    /// The whole store, for the operations of `latchkey_domain` (their
    /// units of work span several of the traits above).
    pub store: Arc<dyn Store>,
    pub failures: Arc<dyn FailureStore>,
    pub audit: Arc<dyn AuditStore>,
    pub identities: Arc<dyn FederatedIdentityStore>,
    pub upstreams: latchkey_federation::Upstreams,
    pub notifier: Arc<latchkey_domain::BackchannelNotifier>,
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
}

/// Routes, relative to the issuer's path. Their failures are drawn with
/// `state`'s branding (`failure::render_failures`).
pub fn router<S>(state: AuthorizeState) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    Router::new()
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route(par::PATH, post(par::push))
        .route("/login", post(login))
        .route("/consent", post(consent))
        .route(device::PATH, get(device::show).post(device::enter))
        .route(device::CONSENT_PATH, post(device::decide))
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/logout/confirm", post(logout::confirm))
        .route(account::PATH, get(account::show))
        .route("/account/login", post(account::login))
        .route("/account/apps/revoke", post(account::revoke_app))
        .route("/account/sessions/end", post(account::end_session))
        .route("/account/password", post(account::change_password))
        .route(account::PROFILE_PATH, post(account::update_profile))
        .route("/account/link/{id}", post(upstream::link_start))
        .route("/account/unlink", post(upstream::unlink))
        .route("/upstream/{id}/start", post(upstream::start))
        .route("/upstream/{id}/callback", get(upstream::callback))
        .route("/assets/latchkey.css", get(pages::stylesheet))
        .route("/", get(home))
        .layer(DefaultBodyLimit::max(32 * 1024))
        .layer(axum::middleware::from_fn_with_state(state.clone(), failure::render_failures))
        .with_state(state)
}

/// How `/authorize` fails.
#[derive(Debug, thiserror::Error)]
pub enum AuthorizeError {
    /// A POST that is not a form.
    #[error("not a form submission")]
    NotForm,
    #[error("request too large")]
    TooLarge,
    /// The client or its redirect URI is not proven: shown to the person,
    /// never redirected.
    #[error("{0}")]
    Request(#[from] PageError),
    /// Sent back to the client.
    #[error("{1}")]
    Redirect(Target, OAuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AuthorizeError> for Failure {
    fn from(e: AuthorizeError) -> Self {
        match e {
            AuthorizeError::NotForm => Failure::page(StatusCode::BAD_REQUEST, "The request is not a form submission."),
            AuthorizeError::TooLarge => Failure::page(StatusCode::PAYLOAD_TOO_LARGE, "The request is too large."),
            AuthorizeError::Request(e) => Failure::page(StatusCode::BAD_REQUEST, e.to_string()),
            AuthorizeError::Redirect(target, error) => Failure::ToClient { target, error },
            AuthorizeError::Store(e) => Failure::store(&e),
        }
    }
}

impl IntoResponse for AuthorizeError {
    fn into_response(self) -> Response {
        Failure::from(self).into_response()
    }
}

/// How the flow steps shared by the sign-in routes (after a password or an
/// upstream provider proved who the person is) fail.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Another request completed the interaction meanwhile.
    #[error("the interaction was already completed")]
    AlreadyCompleted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<FlowError> for Failure {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::AlreadyCompleted => {
                Failure::page(StatusCode::BAD_REQUEST, "This sign-in request was already completed.")
            }
            FlowError::Store(e) => Failure::store(&e),
        }
    }
}

impl AuthorizeState {
    /// What checking a password needs, from this state.
    pub(crate) fn sign_in(&self) -> SignIn<'_> {
        SignIn {
            users: &*self.users,
            failures: &*self.failures,
            audit: &*self.audit,
            clock: &*self.clock,
            limits: self.settings.login.lock_policy(),
        }
    }

    /// Sends a response to the client's redirect URI, with `state` and `iss`.
    fn to_client<'a>(&'a self, target: &'a Target, mut fields: Vec<(&'a str, &'a str)>) -> Response {
        if let Some(state) = &target.state {
            fields.push(("state", state));
        }
        fields.push(("iss", &self.settings.issuer));
        match target.response_mode {
            ResponseMode::Query => {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &fields {
                    query.append_pair(k, v);
                }
                let query = query.finish();
                let uri = &target.redirect_uri;
                let sep = if !uri.contains('?') {
                    "?"
                } else if uri.ends_with('?') || uri.ends_with('&') {
                    ""
                } else {
                    "&"
                };
                let location = format!("{uri}{sep}{query}");
                match HeaderValue::from_str(&location) {
                    Ok(v) => {
                        let mut res = StatusCode::SEE_OTHER.into_response();
                        res.headers_mut().insert(header::LOCATION, v);
                        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                        res
                    }
                    Err(_) => error_page(
                        &self.settings.ui,
                        StatusCode::BAD_REQUEST,
                        "Invalid request",
                        "The return address is not valid.",
                    ),
                }
            }
            ResponseMode::FormPost => {
                let page = FormPostPage { ui: &self.settings.ui, action: &target.redirect_uri, fields };
                html(StatusCode::OK, &page, Some(&target.redirect_uri), true)
            }
        }
    }

    fn path(&self, p: &str) -> String {
        format!("{}{p}", self.settings.base_path)
    }
}

/// The issuer's root: the product name and where a person or a developer
/// goes from here.
async fn home(State(state): State<AuthorizeState>) -> Response {
    let account = state.path(account::PATH);
    let discovery = state.path("/.well-known/openid-configuration");
    html(
        StatusCode::OK,
        &pages::HomePage { ui: &state.settings.ui, account: &account, discovery: &discovery },
        None,
        false,
    )
}

/// Unknown paths: a page for browsers, the usual JSON error for programs.
pub async fn not_found(State(state): State<AuthorizeState>, headers: HeaderMap) -> Response {
    if !pages::wants_html(&headers) {
        return latchkey_http::not_found().await;
    }
    let home = format!("{}/", state.settings.base_path);
    html(StatusCode::NOT_FOUND, &pages::NotFoundPage { ui: &state.settings.ui, home: &home }, None, false)
}

async fn authorize_get(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, AuthorizeError> {
    authorize(&state, &headers, query.unwrap_or_default().as_bytes()).await
}

async fn authorize_post(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, AuthorizeError> {
    // Parsed leniently (`request::target` reports repeats where they can be reported), so not a `Form`.
    match body {
        Ok(body) if is_form(&headers) => authorize(&state, &headers, &body).await,
        Ok(_) => Err(AuthorizeError::NotForm),
        Err(_) => Err(AuthorizeError::TooLarge),
    }
}

async fn authorize(state: &AuthorizeState, headers: &HeaderMap, input: &[u8]) -> Result<Response, AuthorizeError> {
    let (mut params, mut repeated) = Params::parse_lenient(input);
    let client = match params.get("client_id") {
        Some(id) if id.len() <= 256 => state.clients.get_client(id).await?,
        _ => None,
    };
    // RFC 9126 §4: a request_uri from /par stands for the whole request; the
    // other parameters sent here are ignored. It is taken (used up) now: the
    // interaction keeps the request for the pages that follow. Other
    // request_uris (RFC 9101 references to the client's own URLs) are
    // refused by `request::validate` with request_uri_not_supported.
    let mut pushed = false;
    if let (Some(uri), Some(client)) = (params.get("request_uri"), client.as_ref())
        && uri.starts_with(par::REQUEST_URI_PREFIX)
    {
        if repeated.iter().any(|r| r == "client_id") {
            return Err(PageError::RepeatedClientId.into());
        }
        if repeated.iter().any(|r| r == "request_uri") {
            return Err(PageError::InvalidRequestUri.into());
        }
        let stored = par::take(state, client, uri).await?.ok_or(PageError::InvalidRequestUri)?;
        (params, repeated) = Params::parse_lenient(stored.params.as_bytes());
        pushed = true;
    }
    // RFC 9101: a signed request object's parameters replace the others.
    // A refused one goes back to the client if the unsigned parameters name
    // a registered redirect URI, else it is a page.
    let mut signed = false;
    if let (Some(jwt), Some(client)) = (params.get("request"), client.as_ref()) {
        match request_object::expand(state, client, jwt).await {
            Ok(expanded) if !repeated.iter().any(|r| r == "request") => {
                (params, repeated) = (expanded, Vec::new());
                signed = true;
            }
            Ok(_) => {
                let target = request::target(&params, &repeated, Some(client))?;
                return Err(AuthorizeError::Redirect(target, OAuthError::invalid_request("request is repeated")));
            }
            Err(e) => {
                let error = request_object::refusal(e)?;
                let target = request::target(&params, &repeated, Some(client))?;
                return Err(AuthorizeError::Redirect(target, error));
            }
        }
    }
    let target = request::target(&params, &repeated, client.as_ref())?;
    let client = client.expect("target() proved the client exists");
    let redirect = |e: OAuthError| AuthorizeError::Redirect(target.clone(), e);
    if !pushed && (state.settings.par.required || client.settings.require_pushed_authorization_requests) {
        return Err(redirect(OAuthError::invalid_request(
            "pushed authorization requests are required: push the request to the pushed_authorization_request_endpoint \
             and send only client_id and request_uri here",
        )));
    }
    // A pushed request was held to this at /par.
    if !pushed && !signed && client.settings.require_signed_request_object {
        return Err(redirect(request_object::required()));
    }
    let require_pkce = state.settings.pkce.require_for_confidential;
    let mut req = request::validate(&params, &repeated, &client, target.clone(), require_pkce).map_err(redirect)?;
    if let Some(hint) = params.get("id_token_hint") {
        req.hint_sub = Some(id_token_hint_subject(state, hint).map_err(redirect)?);
    }
    let session = current_session(state, headers).await?;
    proceed(state, &client, req, session, false, headers).await
}

/// The `sub` of an ID token we issued (expired ones are fine: it is a hint).
pub(crate) fn id_token_hint_subject(state: &AuthorizeState, hint: &str) -> Result<String, OAuthError> {
    let invalid = || OAuthError::invalid_request("id_token_hint is not an ID token issued by this server");
    let jwt = state.keys.current().verify_jwt::<IdTokenClaims>(hint).map_err(|_| invalid())?;
    if jwt.claims.iss != state.settings.issuer {
        return Err(invalid());
    }
    Ok(jwt.claims.sub)
}

pub(crate) async fn current_session(
    state: &AuthorizeState,
    headers: &HeaderMap,
) -> Result<Option<(Session, User)>, StoreError> {
    let Some(cookie) = cookies::get(headers, state.settings.session_cookie()) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let Some(session) = state.sessions.get_session(&hash_token(cookie), now).await? else {
        return Ok(None);
    };
    if now - session.last_seen_at > state.settings.sessions.idle_ttl_seconds.secs() {
        // Idle too long: the session is over, with everything ending a session implies.
        logout::end_session(state, &session.id_hash).await?;
        return Ok(None);
    }
    match state.users.get_user(&session.auth.user_id).await? {
        Some(user) if !user.disabled => Ok(Some((session, user))),
        _ => Ok(None),
    }
}

/// Decides what the request needs next: login, consent, or a code.
/// `just_logged_in` skips the checks that forced the login.
async fn proceed(
    state: &AuthorizeState,
    client: &Client,
    req: AuthorizationRequest,
    session: Option<(Session, User)>,
    just_logged_in: bool,
    headers: &HeaderMap,
) -> Result<Response, AuthorizeError> {
    let now = state.clock.now();
    let redirect = |e: OAuthError| AuthorizeError::Redirect(req.target.clone(), e);
    let needs_login = match &session {
        None => true,
        Some(_) if just_logged_in => false,
        Some((s, user)) => {
            req.prompt.login
                || req.prompt.select_account
                || req.max_age.is_some_and(|max| max == 0 || now - s.auth.auth_time > max)
                || req.hint_sub.as_ref().is_some_and(|sub| *sub != user.id)
        }
    };
    if needs_login {
        if req.prompt.none {
            return Err(redirect(OAuthError::new(
                latchkey_core::ErrorCode::LoginRequired,
                "the user is not signed in",
            )));
        }
        return Ok(start_interaction(state, client, &req, InteractionStage::Login, None, headers).await?);
    }
    let (session, user) = session.expect("signed in");
    let consented = has_consent(state, client, &req, &user).await?;
    if !consented {
        if req.prompt.none {
            return Err(redirect(OAuthError::new(
                latchkey_core::ErrorCode::ConsentRequired,
                "the user has not consented",
            )));
        }
        return Ok(start_interaction(state, client, &req, InteractionStage::Consent, Some(&user), headers).await?);
    }
    Ok(issue_code(state, &req, &session).await?)
}

/// Whether the request may skip the consent page: a first-party client, or a
/// remembered consent covering the scopes (unless `prompt=consent`).
async fn has_consent(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
) -> Result<bool, StoreError> {
    if client.settings.skip_consent {
        return Ok(true);
    }
    if req.prompt.consent {
        return Ok(false);
    }
    let consent = state.consents.get_consent(&user.id, &client.client_id).await?;
    Ok(consent.is_some_and(|c| req.scope.is_subset(&c.scope)))
}

/// The browser's CSRF token: reused if the browser has one, else new.
fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    match cookies::get(headers, CSRF_COOKIE) {
        Some(v) if v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
            (v.to_string(), false)
        }
        _ => (random::token(32), true),
    }
}

async fn start_interaction(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    stage: InteractionStage,
    user: Option<&User>,
    headers: &HeaderMap,
) -> Result<Response, StoreError> {
    let now = state.clock.now();
    let id = random::token(32);
    let (csrf, new_csrf) = csrf_token(headers);
    let interaction = Interaction {
        id_hash: hash_token(&id),
        csrf: csrf.clone(),
        stage,
        user_id: user.map(|u| u.id.clone()),
        request: serde_json::to_string(req).expect("request serializes"),
        created_at: now,
        expires_at: now + state.settings.login.interaction_ttl_seconds.secs(),
    };
    state.interactions.insert_interaction(&interaction).await?;
    let mut res = match (stage, user) {
        (InteractionStage::Consent, Some(user)) => consent_page(state, client, req, user, &id, &csrf),
        _ => login_page(state, client, req, &id, &csrf, req.login_hint.as_deref().unwrap_or(""), None),
    };
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, &csrf, state.settings.secure_cookies, None));
    }
    Ok(res)
}

fn client_name(client: &Client) -> &str {
    if client.settings.client_name.is_empty() { &client.client_id } else { &client.settings.client_name }
}

fn login_page(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    interaction: &str,
    csrf: &str,
    username: &str,
    error: Option<&str>,
) -> Response {
    let action = state.path("/login");
    let upstreams = state
        .upstreams
        .iter()
        .map(|u| UpstreamButton {
            action: state.path(&format!("/upstream/{}/start", u.settings.id)),
            label: u.settings.button_label.clone(),
        })
        .collect();
    let page = LoginPage {
        ui: &state.settings.ui,
        action: &action,
        client_name: client_name(client),
        interaction,
        csrf,
        username,
        error,
        upstreams,
        password_login: state.settings.login.password_enabled,
        realm_discovery: state.upstreams.iter().any(|u| !u.settings.email_domains.is_empty()),
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    // The buttons' answers redirect to the providers.
    let mut targets = vec![req.target.redirect_uri.as_str()];
    targets.extend(state.upstreams.iter().map(|u| u.settings.issuer.as_str()));
    html_with(status, &page, &targets, false)
}

fn consent_page(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    interaction: &str,
    csrf: &str,
) -> Response {
    let action = state.path("/consent");
    let account = state.path(account::PATH);
    let s = &client.settings;
    let page = ConsentPage {
        ui: &state.settings.ui,
        action: &action,
        client_name: client_name(client),
        client_logo: s.logo_uri.as_deref(),
        client_uri: s.client_uri.as_deref(),
        policy_uri: s.policy_uri.as_deref(),
        tos_uri: s.tos_uri.as_deref(),
        username: &user.username,
        scopes: scope_lines(&req.scope),
        interaction,
        csrf,
        account: &account,
    };
    html(StatusCode::OK, &page, Some(&req.target.redirect_uri), false)
}

async fn issue_code(
    state: &AuthorizeState,
    req: &AuthorizationRequest,
    session: &Session,
) -> Result<Response, StoreError> {
    let now = state.clock.now();
    let code = random::token(32);
    let record = AuthorizationCode {
        code_hash: hash_token(&code),
        client_id: req.target.client_id.clone(),
        grant_id: random::token(16),
        redirect_uri: req.target.redirect_uri.clone(),
        redirect_uri_sent: req.target.redirect_uri_sent,
        scope: req.scope.clone(),
        nonce: req.nonce.clone(),
        code_challenge: req.code_challenge.clone(),
        auth: session.auth.clone(),
        created_at: now,
        expires_at: now + state.settings.tokens.code_ttl_seconds.secs(),
        device: false,
    };
    state.codes.insert_code(&record).await?;
    state.sessions.add_session_client(&session.id_hash, &req.target.client_id).await?;
    // Keep the idle clock running, without a write on every request.
    if now - session.last_seen_at >= 60 {
        state.sessions.touch_session(&session.id_hash, now).await?;
    }
    Ok(state.to_client(&req.target, vec![("code", &code)]))
}

/// The fields every form of the sign-in flow carries: its interaction and
/// the CSRF token (the browser's double-submit cookie).
#[derive(Debug, Deserialize)]
pub struct InteractionForm {
    interaction: Option<String>,
    #[serde(default)]
    csrf: String,
}

/// Loads the interaction a form refers to and checks its CSRF binding.
async fn load_interaction(
    state: &AuthorizeState,
    headers: &HeaderMap,
    form: &InteractionForm,
    stage: InteractionStage,
) -> Result<(Interaction, AuthorizationRequest, Client), InteractionError> {
    let id = form.interaction.as_deref().ok_or(InteractionError::Expired)?;
    let interaction = state
        .interactions
        .get_interaction(&hash_token(id), state.clock.now())
        .await?
        .ok_or(InteractionError::Expired)?;
    let cookie = cookies::get(headers, CSRF_COOKIE).unwrap_or("");
    let submitted = form.csrf.as_str();
    if submitted.is_empty()
        || !constant_time_eq(submitted.as_bytes(), cookie.as_bytes())
        || !constant_time_eq(submitted.as_bytes(), interaction.csrf.as_bytes())
    {
        tracing::info!("form refused: CSRF token mismatch");
        return Err(InteractionError::Forged);
    }
    if interaction.stage != stage {
        return Err(InteractionError::Expired);
    }
    let (req, client) = request_of(state, &interaction).await?;
    Ok((interaction, req, client))
}

/// The authorization request an interaction holds, and its client.
async fn request_of(
    state: &AuthorizeState,
    interaction: &Interaction,
) -> Result<(AuthorizationRequest, Client), InteractionError> {
    let req: AuthorizationRequest = serde_json::from_str(&interaction.request)
        .map_err(|e| StoreError::Corrupt(format!("interaction request: {e}")))?;
    let client = state.clients.get_client(&req.target.client_id).await?.ok_or(InteractionError::AppGone)?;
    Ok((req, client))
}

/// The login page's form (`login.html`).
#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(flatten)]
    interaction: InteractionForm,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// How `POST /login` fails.
#[derive(Debug, thiserror::Error)]
enum LoginError {
    #[error("unreadable form")]
    Form(FormRejection),
    #[error(transparent)]
    Interaction(#[from] InteractionError),
    /// Home-realm discovery sent the person to a provider that failed.
    #[error(transparent)]
    Upstream(#[from] upstream::UpstreamError),
    #[error(transparent)]
    Flow(#[from] FlowError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoginError> for Failure {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::Form(rejection) => Failure::form(&rejection),
            LoginError::Interaction(e) => e.into(),
            LoginError::Upstream(e) => e.into(),
            LoginError::Flow(e) => e.into(),
            LoginError::Store(e) => Failure::store(&e),
        }
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        Failure::from(self).into_response()
    }
}

async fn login(
    State(state): State<AuthorizeState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    let (mut interaction, req, client) =
        load_interaction(state, &headers, &form.interaction, InteractionStage::Login).await?;
    let (username, password) = (form.username.as_str(), form.password.as_str());
    let interaction_id = form.interaction.interaction.as_deref().unwrap_or("");
    // The login form again, with a message (the person's username kept).
    let again =
        |message: &str| login_page(state, &client, &req, interaction_id, &interaction.csrf, username, Some(message));
    // Home-realm discovery: an address at a provider's domain goes there.
    if let Some(upstream) = state.upstreams.for_address(username) {
        return Ok(upstream::discovered(state, upstream, &interaction, username).await?);
    }
    if !state.settings.login.password_enabled {
        return Ok(again("Sign in with one of the providers below, or with an email address of your organization."));
    }
    let user = match check_password(&state.sign_in(), username, password, Some(&client.client_id), address).await? {
        PasswordCheck::Accepted(user) => *user,
        PasswordCheck::Refused => return Ok(again("Incorrect username or password.")),
        PasswordCheck::Throttled(refusal) => {
            let mut page = again(refusal.limit.message());
            *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            page.headers_mut().insert(header::RETRY_AFTER, refusal.retry_after(state.clock.now()).into());
            return Ok(page);
        }
    };
    let (session, cookie) =
        start_session(state, &headers, &user, Some(&client.client_id), address, SignInMethod::password()).await?;

    // Signed in whatever comes next: the cookie goes with an error page too.
    let mut res = proceed_after_login(state, &client, req, (session, user), &mut interaction, interaction_id)
        .await
        .unwrap_or_else(|e| LoginError::from(e).into_response());
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// How a person proved who they are: the session's `amr` and `acr`.
pub(crate) struct SignInMethod {
    pub amr: Vec<String>,
    pub acr: String,
    /// The upstream provider's id, for a federated sign-in.
    pub upstream: Option<String>,
}

impl SignInMethod {
    pub fn password() -> Self {
        Self { amr: vec!["pwd".into()], acr: ACR_PASSWORD.into(), upstream: None }
    }
}

/// Starts a session for a person who just proved who they are, with a fresh
/// id (no session fixation: the browser's old session ends), and returns it
/// with its cookie.
pub(crate) async fn start_session(
    state: &AuthorizeState,
    headers: &HeaderMap,
    user: &User,
    client_id: Option<&str>,
    address: std::net::IpAddr,
    method: SignInMethod,
) -> Result<(Session, HeaderValue), StoreError> {
    let now = state.clock.now();
    let previous = cookies::get(headers, state.settings.session_cookie()).map(hash_token);
    let new = NewSession {
        user_id: user.id.clone(),
        amr: method.amr,
        acr: method.acr,
        ttl_seconds: state.settings.sessions.ttl_seconds.secs(),
    };
    let end_revokes = state.settings.sessions.end_revokes;
    let StartedSession { session, session_id } =
        sessions::start_session(&*state.store, &state.notifier, end_revokes, previous.as_deref(), new, now).await?;
    tracing::info!(event = "login_success", user_id = %user.id, client_id = %client_id.unwrap_or("-"), "signed in");
    metrics::counter!("latchkey_logins_total", "outcome" => "success").increment(1);
    let mut event = AuditEvent::new(now, "login.success", format!("user:{}", user.id))
        .subject(&user.id)
        .ip(address)
        .detail("sid", session.auth.sid.as_str());
    if let Some(id) = client_id {
        event = event.client(id);
    }
    if let Some(upstream) = method.upstream {
        event = event.detail("upstream", upstream);
    }
    latchkey_http::audit(state.audit.as_ref(), event).await;
    let cookie = cookies::set(
        state.settings.session_cookie(),
        &session_id,
        state.settings.secure_cookies,
        Some(state.settings.sessions.ttl_seconds.secs()),
    );
    Ok((session, cookie))
}

async fn proceed_after_login(
    state: &AuthorizeState,
    client: &Client,
    req: AuthorizationRequest,
    session: (Session, User),
    interaction: &mut Interaction,
    interaction_id: &str,
) -> Result<Response, FlowError> {
    let (session, user) = session;
    // A device's request always ends at its own consent page (RFC 8628 §5.4).
    if req.device.is_some() {
        interaction.stage = InteractionStage::Consent;
        interaction.user_id = Some(user.id.clone());
        state.interactions.update_interaction(interaction).await?;
        return Ok(device::consent_page(state, client, &req, &user, interaction_id, &interaction.csrf));
    }
    let consented = has_consent(state, client, &req, &user).await?;
    if consented {
        if !state.interactions.delete_interaction(&interaction.id_hash).await? {
            return Err(FlowError::AlreadyCompleted);
        }
        return Ok(issue_code(state, &req, &session).await?);
    }
    interaction.stage = InteractionStage::Consent;
    interaction.user_id = Some(user.id.clone());
    state.interactions.update_interaction(interaction).await?;
    Ok(consent_page(state, client, &req, &user, interaction_id, &interaction.csrf))
}

/// The consent page's form (`consent.html`).
#[derive(Debug, Deserialize)]
struct ConsentForm {
    #[serde(flatten)]
    interaction: InteractionForm,
    /// `allow` or `deny`.
    decision: Option<String>,
}

/// Why a decision posted on a consent page (the code flow's or a device's)
/// cannot be taken.
#[derive(Debug, thiserror::Error)]
pub enum DecisionError {
    /// The person who reached the consent page is no longer signed in here.
    #[error("the session ended")]
    SessionEnded,
    #[error("neither allow nor deny")]
    NoDecision,
    /// Another request completed the interaction meanwhile.
    #[error("already completed")]
    AlreadyCompleted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Takes the decision posted for `interaction` (loaded at the consent
/// stage): the person who reached the page must still be signed in, the
/// decision must be `allow` or `deny`, and the interaction is deleted, so
/// that only one decision is taken. Returns the session, the person and
/// whether they allowed.
pub(crate) async fn take_decision(
    state: &AuthorizeState,
    headers: &HeaderMap,
    interaction: &Interaction,
    decision: Option<&str>,
) -> Result<(Session, User, bool), DecisionError> {
    let session = current_session(state, headers).await?;
    let Some((session, user)) = session.filter(|(_, u)| Some(&u.id) == interaction.user_id.as_ref()) else {
        return Err(DecisionError::SessionEnded);
    };
    let allow = match decision {
        Some("allow") => true,
        Some("deny") => false,
        _ => return Err(DecisionError::NoDecision),
    };
    if !state.interactions.delete_interaction(&interaction.id_hash).await? {
        return Err(DecisionError::AlreadyCompleted);
    }
    Ok((session, user, allow))
}

/// How `POST /consent` fails.
#[derive(Debug, thiserror::Error)]
enum ConsentError {
    #[error("unreadable form")]
    Form(FormRejection),
    #[error(transparent)]
    Interaction(#[from] InteractionError),
    #[error(transparent)]
    Decision(#[from] DecisionError),
    /// The person said no: `access_denied` for the client.
    #[error("consent denied")]
    Denied(Target),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ConsentError> for Failure {
    fn from(e: ConsentError) -> Self {
        let bad = |message: &str| Failure::page(StatusCode::BAD_REQUEST, message);
        match e {
            ConsentError::Form(rejection) => Failure::form(&rejection),
            ConsentError::Interaction(e) => e.into(),
            ConsentError::Decision(DecisionError::SessionEnded) => {
                bad("Your session has ended. Go back to the application and sign in again.")
            }
            ConsentError::Decision(DecisionError::NoDecision) => bad("Choose Allow or Deny."),
            ConsentError::Decision(DecisionError::AlreadyCompleted) => bad("This request was already completed."),
            ConsentError::Decision(DecisionError::Store(e)) => Failure::store(&e),
            ConsentError::Denied(target) => Failure::ToClient {
                target,
                error: OAuthError::new(latchkey_core::ErrorCode::AccessDenied, "the user denied the request"),
            },
            ConsentError::Store(e) => Failure::store(&e),
        }
    }
}

impl IntoResponse for ConsentError {
    fn into_response(self) -> Response {
        Failure::from(self).into_response()
    }
}

async fn consent(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<ConsentForm>, FormRejection>,
) -> Result<Response, ConsentError> {
    let Form(form) = form.map_err(ConsentError::Form)?;
    let state = &state;
    let (interaction, req, client) =
        load_interaction(state, &headers, &form.interaction, InteractionStage::Consent).await?;
    let (session, user, allow) = take_decision(state, &headers, &interaction, form.decision.as_deref()).await?;
    if !allow {
        tracing::info!(event = "consent_denied", user_id = %user.id, client_id = %client.client_id, "consent denied");
        return Err(ConsentError::Denied(req.target));
    }
    let now = state.clock.now();
    let scope =
        latchkey_domain::consents::grant_consent(&*state.store, &user.id, &client.client_id, &req.scope, now).await?;
    let event = AuditEvent::new(now, "consent.granted", format!("user:{}", user.id))
        .subject(&user.id)
        .client(&client.client_id)
        .detail("scope", scope.to_string());
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(issue_code(state, &req, &session).await?)
}

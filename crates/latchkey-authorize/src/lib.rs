//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2) with its
//! login and consent pages, the session cookie, and code issuance.

pub mod account;
mod account_mfa;
mod account_passkeys;
pub mod branding;
pub mod device;
mod failure;
pub mod logout;
pub mod pages;
pub mod par;
mod passkey_sign_in;
pub mod request;
mod request_object;
mod self_service;
mod signup;
mod step_up;
pub mod upstream;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use latchkey_core::acr::Level;
use latchkey_core::audit::AuditEvent;
use latchkey_core::claims::IdTokenClaims;
use latchkey_core::claims_request::{RequestedClaims, acr_satisfies};
use latchkey_core::grant::{AuthorizationCode, Interaction, InteractionStage, Session};
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::{Client, Clock, OAuthError, User, random};
use latchkey_domain::mfa::{self, CodeCheck, Factors};
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
    ConsentPage, FormPostPage, LoginPage, Ui, UpstreamButton, error_page, html, html_with_passkeys, scope_lines,
};
use crate::request::{AskedAcr, AuthorizationRequest, FirstFactor, PageError, ResponseMode, Target};
use crate::step_up::{Needs, Next};

/// The `acr` values (`latchkey_core::acr`): a password < a password and
/// a second factor < phishing-resistant (a passkey).
pub use latchkey_core::acr::{ACR_MFA, ACR_PASSWORD, ACR_PHR};
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
    /// The logo, favicon and stylesheets served under `/assets/` (docs/branding.md).
    pub assets: Arc<branding::Assets>,
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
    /// Who must give a second factor.
    pub mfa: latchkey_config::Mfa,
    /// The claims people may change on `/account` (`account.editable_claims`, address parts spelt out).
    pub editable_claims: Vec<&'static str>,
    /// Proxies whose `X-Forwarded-For` names the person's address (for the
    /// audit log and the per-address limit).
    pub trusted_proxies: Arc<[latchkey_http::IpRange]>,
    /// The WebAuthn relying party (the issuer's host and origin); `None`
    /// when the issuer is at an IP address, where browsers refuse passkeys.
    pub relying_party: Option<Arc<latchkey_domain::passkeys::Webauthn>>,
    /// Outgoing email: links' lifetimes and the limits on sending them
    /// (`email.enabled()` turns the features that need it on).
    pub email: latchkey_config::Email,
    /// Who may create an account themselves (`signup.*`).
    pub signup: latchkey_config::Signup,
}

impl AuthorizeSettings {
    /// The settings of `config`; fails on branding files that cannot be
    /// used (unreadable, the wrong type, templates that do not check out).
    pub fn from_config(config: &latchkey_config::Config) -> Result<Self, latchkey_config::ConfigError> {
        let base_path = config.issuer_path();
        let (ui, assets) = branding::load(config, &base_path)?;
        Ok(Self {
            issuer: config.issuer.clone(),
            secure_cookies: config.secure_cookies(),
            ui,
            assets: Arc::new(assets),
            base_path,
            login: config.login.clone(),
            sessions: config.sessions.clone(),
            pkce: config.pkce.clone(),
            par: config.par.clone(),
            tokens: config.tokens.clone(),
            device: config.device.clone(),
            mfa: config.mfa.clone(),
            editable_claims: config.account.editable_string_claims(),
            trusted_proxies: config.http.trusted_proxies.clone().into(),
            relying_party: latchkey_domain::passkeys::relying_party(&config.issuer, config.ui.product_name.trim())
                .map(Arc::new),
            email: config.email.clone(),
            signup: config.signup.clone(),
        })
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
    /// Seals second-factor secrets at rest (`keys.encryption_key`).
    pub encryption_key: Option<latchkey_keys::EncryptionKey>,
    /// DPoP proofs sent to `/par` (RFC 9449 §10.1).
    pub dpop: latchkey_client_auth::DpopVerifier,
    /// The outbox; `None` without email configured.
    pub outbox: Option<Arc<latchkey_email::Outbox>>,
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
        .route(LOGIN_PATH, get(login_show).post(login))
        .route(SECOND_FACTOR_PATH, post(login_code))
        .route(ENROLL_PATH, post(login_enroll))
        .route(CONTINUE_PATH, post(login_continue))
        .route(passkey_sign_in::OPTIONS_PATH, post(passkey_sign_in::options))
        .route(passkey_sign_in::PATH, post(passkey_sign_in::finish))
        .route("/consent", post(consent))
        .route(device::PATH, get(device::show).post(device::enter))
        .route(device::CONSENT_PATH, post(device::decide))
        .route("/logout", get(logout::logout_get).post(logout::logout_post))
        .route("/logout/confirm", post(logout::confirm))
        .route(account::PATH, get(account::show))
        .route("/account/login", post(account::login))
        .route(account::SECOND_FACTOR_PATH, post(account::login_code))
        .route(account_mfa::BEGIN_PATH, post(account_mfa::begin))
        .route(account_mfa::CONFIRM_PATH, post(account_mfa::confirm))
        .route(account_mfa::RECOVERY_PATH, post(account_mfa::regenerate))
        .route(account_mfa::REMOVE_PATH, post(account_mfa::remove))
        .route(account_passkeys::OPTIONS_PATH, post(account_passkeys::options))
        .route(account_passkeys::REGISTER_PATH, post(account_passkeys::register))
        .route(account_passkeys::REMOVE_PATH, post(account_passkeys::remove))
        .route("/account/apps/revoke", post(account::revoke_app))
        .route("/account/sessions/end", post(account::end_session))
        .route("/account/password", post(account::change_password))
        .route(account::PROFILE_PATH, post(account::update_profile))
        .route(self_service::FORGOT_PATH, get(self_service::forgot_show).post(self_service::forgot_submit))
        .route(self_service::RESET_PATH, get(self_service::reset_show).post(self_service::reset_submit))
        .route(self_service::VERIFY_PATH, get(self_service::verify_show).post(self_service::verify_submit))
        .route(signup::PATH, get(signup::show).post(signup::submit))
        .route(signup::RESEND_PATH, post(signup::resend))
        .route(signup::INVITATION_PATH, get(signup::invitation_show).post(signup::invitation_submit))
        .route(self_service::CHANGE_EMAIL_PATH, post(self_service::change_email))
        .route(self_service::RESEND_PATH, post(self_service::resend_verification))
        .route("/account/link/{id}", post(upstream::link_start))
        .route("/account/unlink", post(upstream::unlink))
        .route("/upstream/{id}/start", post(upstream::start))
        .route("/upstream/{id}/callback", get(upstream::callback))
        .route("/assets/{name}", get(branding::asset))
        .route(pages::PASSKEY_SCRIPT_PATH, get(pages::passkey_script))
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
            AuthorizeError::NotForm => Failure::says(StatusCode::BAD_REQUEST, pages::Text::new("error-not-form")),
            AuthorizeError::TooLarge => {
                Failure::says(StatusCode::PAYLOAD_TOO_LARGE, pages::Text::new("error-too-large"))
            }
            AuthorizeError::Request(e) => Failure::says(StatusCode::BAD_REQUEST, e.text()),
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
                Failure::says(StatusCode::BAD_REQUEST, pages::Text::new("error-already-completed"))
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
            factors: &*self.store,
            audit: &*self.audit,
            clock: &*self.clock,
            limits: self.settings.login.lock_policy(),
        }
    }

    /// What the email operations need; `None` without email configured.
    /// `lang`: the request's language, for recipients whose account names none.
    pub(crate) fn mail(&self, lang: latchkey_i18n::Language) -> Option<latchkey_domain::self_service::Mail<'_>> {
        Some(latchkey_domain::self_service::Mail {
            store: &*self.store,
            outbox: self.outbox.as_deref()?,
            clock: &*self.clock,
            settings: &self.settings.email,
            issuer: &self.settings.issuer,
            product: &self.settings.ui.product_name,
            lang,
            overrides: self.settings.ui.overrides.as_deref(),
        })
    }

    /// The "Create an account" link, where sign-up is open; it carries the
    /// sign-in in progress (which is bound to the browser's CSRF cookie).
    pub(crate) fn signup_link(&self, interaction: Option<&str>) -> Option<String> {
        (self.settings.signup.mode == latchkey_config::SignupMode::Open).then(|| match interaction {
            Some(i) if !i.is_empty() => self.path(&format!("{}?interaction={i}", signup::PATH)),
            _ => self.path(signup::PATH),
        })
    }

    /// What the sign-up operations need.
    pub(crate) fn signups(&self, lang: latchkey_i18n::Language) -> latchkey_domain::signup::Signups<'_> {
        latchkey_domain::signup::Signups {
            store: &*self.store,
            clock: &*self.clock,
            settings: &self.settings.signup,
            mail: self.mail(lang),
            issuer: &self.settings.issuer,
        }
    }

    /// The "Forgot your password?" link, where a reset can be sent.
    pub(crate) fn forgot_password_link(&self) -> Option<String> {
        self.outbox.as_ref().map(|_| self.path(self_service::FORGOT_PATH))
    }

    /// What the second-factor operations need, from this state.
    pub(crate) fn factors(&self) -> Factors<'_> {
        Factors {
            store: &*self.store,
            clock: &*self.clock,
            encryption_key: self.encryption_key.as_ref(),
            issuer_name: &self.settings.ui.product_name,
        }
    }

    /// What the passkey operations need; `None` where the issuer cannot be
    /// a WebAuthn relying party.
    pub(crate) fn passkeys(&self) -> Option<latchkey_domain::passkeys::Passkeys<'_>> {
        let webauthn = self.settings.relying_party.as_deref()?;
        Some(latchkey_domain::passkeys::Passkeys { store: &*self.store, clock: &*self.clock, webauthn })
    }

    /// A passkey button's form posting to `action`, asking `options` for
    /// the challenge; `None` where passkeys cannot work.
    pub(crate) fn passkey_form(&self, action: &str, options: &str) -> Option<pages::PasskeyForm> {
        self.settings.relying_party.as_ref()?;
        Some(pages::PasskeyForm {
            action: self.path(action),
            options: self.path(options),
            script: self.path(pages::PASSKEY_SCRIPT_PATH),
        })
    }

    /// Sends a response to the client's redirect URI, with `state` and `iss`;
    /// in a JARM mode, all of it inside one signed `response` JWT.
    fn to_client<'a>(&'a self, target: &'a Target, mut fields: Vec<(&'a str, &'a str)>) -> Response {
        if let Some(state) = &target.state {
            fields.push(("state", state));
        }
        fields.push(("iss", &self.settings.issuer));
        let signed = match target.response_mode.is_jwt() {
            false => None,
            true => match self.signed_response(target, &fields) {
                Some(jwt) => Some(jwt),
                None => {
                    tracing::error!("authorization: no signing key for a JARM response");
                    return error_page(
                        &self.settings.ui,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Temporarily unavailable",
                        "Sign-in is temporarily unavailable. Please try again in a moment.",
                    );
                }
            },
        };
        let fields = match &signed {
            Some(jwt) => vec![("response", jwt.as_str())],
            None => fields,
        };
        let uri = &target.redirect_uri;
        let redirect = |separator: &str| {
            let mut encoded = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in &fields {
                encoded.append_pair(k, v);
            }
            let location = format!("{uri}{separator}{}", encoded.finish());
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
        };
        match target.response_mode {
            ResponseMode::Query | ResponseMode::QueryJwt => redirect(if !uri.contains('?') {
                "?"
            } else if uri.ends_with('?') || uri.ends_with('&') {
                ""
            } else {
                "&"
            }),
            // Registered redirect URIs have no fragment (RFC 6749 §3.1.2).
            ResponseMode::FragmentJwt => redirect("#"),
            ResponseMode::FormPost | ResponseMode::FormPostJwt => {
                let page = FormPostPage { ui: &self.settings.ui, action: &target.redirect_uri, fields };
                html(StatusCode::OK, &page, Some(&target.redirect_uri), true)
            }
        }
    }

    /// A JARM response (§2.1): the response's parameters as claims, with
    /// `iss`, `aud` (the client) and `exp`, signed with the current key.
    /// `None` when no key signs (the store has none yet).
    fn signed_response(&self, target: &Target, fields: &[(&str, &str)]) -> Option<String> {
        let mut claims = serde_json::Map::new();
        for (k, v) in fields {
            claims.insert((*k).to_string(), (*v).into());
        }
        let now = self.clock.now();
        claims.insert("aud".into(), target.client_id.clone().into());
        claims.insert("iat".into(), now.into());
        claims.insert("exp".into(), (now + JARM_LIFETIME_SECONDS).into());
        let keys = self.keys.current();
        let key = keys.signing_key_named(target.response_signing_alg.as_deref())?;
        key.sign_jwt("JWT", &claims).ok()
    }

    fn path(&self, p: &str) -> String {
        format!("{}{p}", self.settings.base_path)
    }
}

/// How long a JARM response is valid (the specification suggests ten minutes).
const JARM_LIFETIME_SECONDS: i64 = 600;

/// The issuer's root: the product name and where a person or a developer
/// goes from here.
async fn home(State(state): State<AuthorizeState>, headers: HeaderMap) -> Response {
    let account = state.path(account::PATH);
    let discovery = state.path("/.well-known/openid-configuration");
    html(
        StatusCode::OK,
        &pages::HomePage {
            ui: &state.settings.ui.for_request(&headers, None),
            account: &account,
            discovery: &discovery,
        },
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
    html(
        StatusCode::NOT_FOUND,
        &pages::NotFoundPage { ui: &state.settings.ui.for_request(&headers, None), home: &home },
        None,
        false,
    )
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
    let fapi2 = client.settings.fapi2_security_profile;
    if !pushed && (state.settings.par.required || client.settings.require_pushed_authorization_requests || fapi2) {
        return Err(redirect(OAuthError::invalid_request(
            "pushed authorization requests are required: push the request to the pushed_authorization_request_endpoint \
             and send only client_id and request_uri here",
        )));
    }
    // A pushed request was held to this at /par.
    if !pushed && !signed && client.settings.require_signed_request_object {
        return Err(redirect(request_object::required()));
    }
    let require_pkce = state.settings.pkce.require_for_confidential || fapi2;
    let mut req = request::validate(&params, &repeated, &client, target.clone(), require_pkce).map_err(redirect)?;
    if let Some(hint) = params.get("id_token_hint") {
        req.hint_sub = Some(id_token_hint_subject(state, hint).map_err(redirect)?);
    }
    req.remember_browser_language(headers);
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
    // Discovery lists `create` only where open sign-up can honour it.
    if req.prompt.create && state.settings.signup.mode != latchkey_config::SignupMode::Open {
        return Err(redirect(OAuthError::new(
            latchkey_core::ErrorCode::InvalidRequest,
            "prompt=create is not supported: sign-up is not open",
        )));
    }
    let needs_login = match &session {
        None => true,
        Some(_) if just_logged_in => false,
        Some((s, user)) => {
            req.prompt.login
                || req.prompt.create
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
    if !just_logged_in {
        let next = next_for(state, client, &req, &user, Level::of_session(&session.auth.acr)).await?;
        match next {
            Next::Proceed => {}
            Next::Unmet => return Err(redirect(unmet())),
            Next::Ask | Next::Enroll if req.prompt.none => {
                return Err(redirect(OAuthError::new(
                    latchkey_core::ErrorCode::InteractionRequired,
                    "the request needs a stronger sign-in than the session has",
                )));
            }
            Next::Ask | Next::Enroll => {
                // A step-up: only the missing factor, then this session is upgraded.
                let mut req = req;
                req.first_factor = FirstFactor::Session { sid: session.auth.sid.clone() };
                let stage = if next == Next::Ask { InteractionStage::SecondFactor } else { InteractionStage::Enroll };
                return Ok(start_interaction(state, client, &req, stage, Some(&user), headers).await?);
            }
        }
    }
    // An account of open sign-up confirms its address before any app gets a token.
    if latchkey_domain::signup::awaits_verification(&*state.store, &state.settings.signup, &user).await? {
        if req.prompt.none {
            return Err(redirect(OAuthError::new(
                latchkey_core::ErrorCode::InteractionRequired,
                "the account must confirm its email address first",
            )));
        }
        return Ok(start_interaction(state, client, &req, InteractionStage::Continue, Some(&user), headers).await?);
    }
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
    Ok(issue_code(state, client, &req, &session).await?)
}

/// What comes next for `user`, who has given `have`, on `req`.
async fn next_for(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    have: Level,
) -> Result<Next, StoreError> {
    let needs = Needs::of(&state.settings, client, req, user);
    // The usual signed-in request asks for nothing more: no factor lookup.
    if needs.required.max(needs.wanted) <= have {
        return Ok(Next::Proceed);
    }
    let capability = mfa::strongest(&state.factors(), &user.id).await?;
    Ok(step_up::next(needs, capability, have))
}

/// Whether `session` is strong enough for `req` as it is.
pub(crate) async fn session_suffices(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    session: &Session,
    user: &User,
) -> Result<bool, StoreError> {
    Ok(next_for(state, client, req, user, Level::of_session(&session.auth.acr)).await? == Next::Proceed)
}

/// The client requires what this person cannot give here.
fn unmet() -> OAuthError {
    OAuthError::new(
        latchkey_core::ErrorCode::UnmetAuthenticationRequirements,
        "the client requires an authentication this account cannot give (a passkey)",
    )
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
    Ok(consent.is_some_and(|c| req.consent_scope(client).is_subset(&c.scope)))
}

/// Whether a form's CSRF token is the browser's own (the double-submit
/// cookie, which another site can neither read nor set).
pub(crate) fn matches_csrf_cookie(headers: &HeaderMap, submitted: &str) -> bool {
    let cookie = cookies::get(headers, CSRF_COOKIE).unwrap_or("");
    !submitted.is_empty() && constant_time_eq(submitted.as_bytes(), cookie.as_bytes())
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
        (InteractionStage::SecondFactor, Some(user)) => {
            let passkey = latchkey_domain::passkeys::has_passkey(&*state.store, &user.id).await?;
            second_factor_page(state, client, req, &id, &csrf, None, passkey)
        }
        (InteractionStage::Enroll, Some(user)) => enroll_start(state, client, req, user, &id, &csrf).await?,
        (InteractionStage::Continue, Some(user)) => signup::confirm_page(state, client, req, user, &id, &csrf, ""),
        _ if req.prompt.create => signup::form_in_flow(state, client, req, &id, &csrf),
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

pub(crate) fn login_page(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    interaction: &str,
    csrf: &str,
    username: &str,
    error: Option<pages::Text>,
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
    let ui = state.settings.ui.speaking(req.language(None));
    let error = error.map(|e| ui.text(&e));
    let page = LoginPage {
        ui: &ui,
        action: &action,
        client_name: client_name(client),
        interaction,
        csrf,
        username,
        error: error.as_deref(),
        upstreams,
        password_login: state.settings.login.password_enabled,
        realm_discovery: state.upstreams.iter().any(|u| !u.settings.email_domains.is_empty()),
        passkey: state.passkey_form(passkey_sign_in::PATH, passkey_sign_in::OPTIONS_PATH),
        forgot_password: state.forgot_password_link(),
        signup: state.signup_link(Some(interaction)),
    };
    let status = if page.error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    // The buttons' answers redirect to the providers.
    let mut targets = vec![req.target.redirect_uri.as_str()];
    targets.extend(state.upstreams.iter().map(|u| u.settings.issuer.as_str()));
    let passkeys = page.passkey.is_some();
    html_with_passkeys(status, &page, &targets, passkeys)
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
    let ui = state.settings.ui.speaking(req.language(Some(user)));
    let page = ConsentPage {
        ui: &ui,
        action: &action,
        client_name: client_name(client),
        client_logo: s.logo_uri.as_deref(),
        client_uri: s.client_uri.as_deref(),
        policy_uri: s.policy_uri.as_deref(),
        tos_uri: s.tos_uri.as_deref(),
        username: &user.username,
        scopes: scope_lines(&req.consent_scope(client)),
        interaction,
        csrf,
        account: &account,
    };
    html(StatusCode::OK, &page, Some(&req.target.redirect_uri), false)
}

async fn issue_code(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    session: &Session,
) -> Result<Response, StoreError> {
    let now = state.clock.now();
    let mut auth = session.auth.clone();
    // An essential `acr` (OIDC Core §5.5.1.1): the ID token names one of
    // the requested classes, the first the sign-in satisfies, or the
    // sign-in failed for this client.
    if let Some(AskedAcr { values, essential: true }) = req.asked_acr() {
        match values.iter().find(|v| acr_satisfies(&auth.acr, v)) {
            Some(v) => auth.acr.clone_from(v),
            None => {
                let error = OAuthError::new(
                    latchkey_core::ErrorCode::UnmetAuthenticationRequirements,
                    "the sign-in does not meet the essential acr values requested",
                );
                return Ok(Failure::ToClient { target: req.target.clone(), error }.into_response());
            }
        }
    }
    let claims = match &req.claims {
        Some(c) => c.released(&c.scopes(&client.settings.scope)),
        None => RequestedClaims::default(),
    };
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
        auth,
        created_at: now,
        expires_at: now + code_lifetime(state, client),
        device: false,
        claims,
        dpop_jkt: req.dpop_jkt.clone(),
    };
    state.codes.insert_code(&record).await?;
    state.sessions.add_session_client(&session.id_hash, &req.target.client_id).await?;
    // Keep the idle clock running, without a write on every request.
    if now - session.last_seen_at >= 60 {
        state.sessions.touch_session(&session.id_hash, now).await?;
    }
    Ok(state.to_client(&req.target, vec![("code", &code)]))
}

/// How long a code lives: `tokens.code_ttl_seconds`, at most a minute for a
/// FAPI 2.0 client (its Security Profile §5.3.2.1).
fn code_lifetime(state: &AuthorizeState, client: &Client) -> i64 {
    let ttl = state.settings.tokens.code_ttl_seconds.secs();
    if client.settings.fapi2_security_profile { ttl.min(latchkey_core::fapi2::MAX_CODE_LIFETIME_SECONDS) } else { ttl }
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
    let submitted = form.csrf.as_str();
    if !matches_csrf_cookie(headers, submitted) || !constant_time_eq(submitted.as_bytes(), interaction.csrf.as_bytes())
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
pub(crate) async fn request_of(
    state: &AuthorizeState,
    interaction: &Interaction,
) -> Result<(AuthorizationRequest, Client), InteractionError> {
    // `/account`'s code step keeps no authorization request: not this flow's.
    if interaction.request.is_empty() {
        return Err(InteractionError::Expired);
    }
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
pub(crate) enum LoginError {
    #[error("unreadable form")]
    Form(FormRejection),
    #[error(transparent)]
    Interaction(#[from] InteractionError),
    /// Home-realm discovery sent the person to a provider that failed.
    #[error(transparent)]
    Upstream(#[from] upstream::UpstreamError),
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// Sent back to the client (`unmet_authentication_requirements`).
    #[error("{1}")]
    ToClient(Target, OAuthError),
    /// The person's session ended before they continued.
    #[error("the session ended")]
    SessionEnded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LoginError> for Failure {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::ToClient(target, error) => Failure::ToClient { target, error },
            LoginError::SessionEnded => Failure::says(StatusCode::BAD_REQUEST, pages::Text::new("error-session-ended")),
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

pub(crate) const LOGIN_PATH: &str = "/login";

/// `GET /login?interaction=`: the login page of a sign-in in progress in
/// this browser (the sign-up form links to it).
async fn login_show(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    Query(query): Query<signup::SignupQuery>,
) -> Result<Response, LoginError> {
    let csrf = cookies::get(&headers, CSRF_COOKIE).unwrap_or("").to_string();
    let form = InteractionForm { interaction: Some(query.interaction.clone()), csrf: csrf.clone() };
    let (_, req, client) = load_interaction(&state, &headers, &form, InteractionStage::Login).await?;
    Ok(login_page(&state, &client, &req, &query.interaction, &csrf, req.login_hint.as_deref().unwrap_or(""), None))
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
    let again = |message: pages::Text| {
        login_page(state, &client, &req, interaction_id, &interaction.csrf, username, Some(message))
    };
    // Home-realm discovery: an address at a provider's domain goes there.
    if let Some(upstream) = state.upstreams.for_address(username) {
        return Ok(upstream::discovered(state, upstream, &interaction, username).await?);
    }
    if !state.settings.login.password_enabled {
        return Ok(again(pages::Text::new("login-use-provider")));
    }
    let (user, capability) =
        match check_password(&state.sign_in(), username, password, Some(&client.client_id), address).await? {
            PasswordCheck::Accepted(user, capability) => (*user, capability),
            PasswordCheck::Refused => return Ok(again(pages::Text::new("login-incorrect"))),
            PasswordCheck::Throttled(refusal) => {
                let mut page = again(pages::Text::verbatim(refusal.limit.message()));
                *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
                page.headers_mut().insert(header::RETRY_AFTER, refusal.retry_after(state.clock.now()).into());
                return Ok(page);
            }
        };
    let next = step_up::next(Needs::of(&state.settings, &client, &req, &user), capability, Level::Single);
    let step = after_first_factor(
        state,
        &client,
        &req,
        &user,
        &mut interaction,
        interaction_id,
        next,
        capability,
        Level::Single,
    );
    if let Some(page) = step.await? {
        return Ok(page);
    }
    let (session, cookie) =
        start_session(state, &headers, &user, Some(&client.client_id), address, SignInMethod::password()).await?;

    // Signed in whatever comes next: the cookie goes with an error page too.
    let mut res = proceed_after_login(state, &client, req, (session, user), &mut interaction, interaction_id)
        .await
        .unwrap_or_else(|e| LoginError::from(e).into_response());
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// After a first factor (a password, an upstream provider): the second
/// factor's page (always for a person who has one, so that it protects
/// them), its setup where one is required, or the client's error where the
/// requirement cannot be met here. `None`: a session starts now.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn after_first_factor(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    interaction: &mut Interaction,
    interaction_id: &str,
    next: Next,
    capability: Level,
    have: Level,
) -> Result<Option<Response>, LoginError> {
    let stage = match next {
        Next::Unmet => {
            state.interactions.delete_interaction(&interaction.id_hash).await?;
            return Err(LoginError::ToClient(req.target.clone(), unmet()));
        }
        Next::Enroll => InteractionStage::Enroll,
        Next::Ask => InteractionStage::SecondFactor,
        Next::Proceed if capability >= Level::Mfa && have < Level::Mfa => InteractionStage::SecondFactor,
        Next::Proceed => return Ok(None),
    };
    // No session yet: the interaction remembers who gave the first factor
    // (its request says how).
    interaction.stage = stage;
    interaction.user_id = Some(user.id.clone());
    if !state.interactions.update_interaction(interaction).await? {
        return Err(InteractionError::Expired.into());
    }
    Ok(Some(match stage {
        InteractionStage::Enroll => enroll_start(state, client, req, user, interaction_id, &interaction.csrf).await?,
        // `strongest` is phishing-resistant exactly for a person with a passkey.
        _ => {
            let passkey = capability >= Level::PhishingResistant;
            second_factor_page(state, client, req, interaction_id, &interaction.csrf, None, passkey)
        }
    }))
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

    /// A password and a one-time code (RFC 8176: `otp`; a recovery code is
    /// a one-time password too), two factors (`mfa`).
    pub fn password_and_code() -> Self {
        Self::first_and_second(vec!["pwd".into()], None, SecondFactor::Code)
    }

    /// A first factor's `amr` (a password's, an upstream's) and a second
    /// factor: two factors (`mfa`), as strong as the second one.
    fn first_and_second(mut amr: Vec<String>, upstream: Option<String>, second: SecondFactor) -> Self {
        for method in second.amr().into_iter().chain(["mfa".to_string()]) {
            if !amr.contains(&method) {
                amr.push(method);
            }
        }
        Self { amr, acr: second.level().acr().into(), upstream }
    }

    /// A passkey alone (passwordless). User verification is required for
    /// it, so the key (something held) and its verification (something
    /// known or something one is) are two factors: `mfa`.
    pub fn passkey(used: latchkey_domain::passkeys::PasskeyUse) -> Self {
        let mut amr = used.amr();
        if used.user_verified {
            amr.push("mfa".into());
        }
        Self { amr, acr: ACR_PHR.into(), upstream: None }
    }
}

/// A second factor a person just gave.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SecondFactor {
    /// A TOTP or recovery code (RFC 8176 `otp`).
    Code,
    /// A passkey (`hwk` or `swk`, and `user` when it verified the person).
    Passkey(latchkey_domain::passkeys::PasskeyUse),
}

impl SecondFactor {
    fn amr(self) -> Vec<String> {
        match self {
            Self::Code => vec!["otp".into()],
            Self::Passkey(used) => used.amr(),
        }
    }

    fn level(self) -> Level {
        match self {
            Self::Code => Level::Mfa,
            Self::Passkey(_) => Level::PhishingResistant,
        }
    }
}

/// What a right second factor completes: a new session after a password or
/// an upstream provider, the browser's own session upgraded after a
/// step-up. None if that session ended meanwhile (or is another one now).
pub(crate) async fn complete_second_factor(
    state: &AuthorizeState,
    headers: &HeaderMap,
    (user, client, req): (&User, &Client, &AuthorizationRequest),
    address: std::net::IpAddr,
    second: SecondFactor,
) -> Result<Option<(Session, HeaderValue)>, StoreError> {
    let client_id = Some(client.client_id.as_str());
    let method = match &req.first_factor {
        FirstFactor::Password | FirstFactor::SignUp { .. } => {
            SignInMethod::first_and_second(vec!["pwd".into()], None, second)
        }
        FirstFactor::Upstream { upstream, amr } => {
            let first = if amr.is_empty() { vec![upstream::AMR_FEDERATED.to_string()] } else { amr.clone() };
            SignInMethod::first_and_second(first, Some(upstream.clone()), second)
        }
        FirstFactor::Session { sid } => {
            let Some((session, signed_in)) = current_session(state, headers).await? else {
                return Ok(None);
            };
            if session.auth.sid != *sid || signed_in.id != user.id {
                return Ok(None);
            }
            let mut amr = second.amr();
            amr.push("mfa".into());
            let amr: Vec<&str> = amr.iter().map(String::as_str).collect();
            return upgrade_session(state, &session, user, client_id, address, &amr, second.level()).await;
        }
    };
    Ok(Some(start_session(state, headers, user, client_id, address, method).await?))
}

/// Adds factors to a signed-in session (a step-up, or a factor set up on
/// `/account`): `amr` gains `amr`, `acr` becomes the stronger of the
/// session's and `level`'s, `auth_time` is now, and the browser gets a new
/// session id (`latchkey_domain::sessions::upgrade_session`). Returns the
/// session and its cookie; None if it ended meanwhile.
pub(crate) async fn upgrade_session(
    state: &AuthorizeState,
    session: &Session,
    user: &User,
    client_id: Option<&str>,
    address: std::net::IpAddr,
    amr: &[&str],
    level: Level,
) -> Result<Option<(Session, HeaderValue)>, StoreError> {
    let now = state.clock.now();
    let acr = Level::of_session(&session.auth.acr).max(level).acr();
    let amr: Vec<String> = amr.iter().map(|m| m.to_string()).collect();
    let Some(StartedSession { session, session_id }) =
        sessions::upgrade_session(&*state.store, session, &amr, acr, now).await?
    else {
        return Ok(None);
    };
    let mut event = AuditEvent::new(now, "login.step_up", format!("user:{}", user.id))
        .subject(&user.id)
        .ip(address)
        .detail("sid", session.auth.sid.as_str())
        .detail("acr", acr);
    if let Some(id) = client_id {
        event = event.client(id);
    }
    latchkey_http::audit(state.audit.as_ref(), event).await;
    let ttl = (session.expires_at - now).max(0);
    let cookie = cookies::set(state.settings.session_cookie(), &session_id, state.settings.secure_cookies, Some(ttl));
    Ok(Some((session, cookie)))
}

/// Where the setup of a required factor posts its first code.
pub const ENROLL_PATH: &str = "/login/enroll";
/// Where a notice in the sign-in flow goes on.
pub const CONTINUE_PATH: &str = "/login/continue";

/// Below this many recovery codes left, the person is asked to make new ones.
pub(crate) const FEW_RECOVERY_CODES: u64 = 3;

/// Starts the setup of a second factor for `user`, who must have one and
/// has none, and shows its page.
async fn enroll_start(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    user: &User,
    interaction: &str,
    csrf: &str,
) -> Result<Response, StoreError> {
    match mfa::begin_enrollment(&state.factors(), user, &format!("user:{}", user.id)).await {
        Ok(enrollment) => {
            Ok(enroll_page(state, client, req.language(Some(user)), &enrollment, interaction, csrf, None))
        }
        // Set up meanwhile (another tab): that sign-in asks for it.
        Err(mfa::BeginError::AlreadyEnrolled) => Ok(error_page(
            &state.settings.ui,
            StatusCode::CONFLICT,
            "Already set up",
            "An authenticator app was just set up for your account. Go back to the application and sign in again.",
        )),
        Err(mfa::BeginError::Store(e)) => Err(e),
        Err(mfa::BeginError::Seal(e)) => {
            tracing::error!(error = %e, "a TOTP secret could not be sealed");
            Err(StoreError::Backend("sealing a secret failed".into()))
        }
    }
}

fn enroll_page(
    state: &AuthorizeState,
    client: &Client,
    lang: latchkey_i18n::Language,
    enrollment: &mfa::Enrollment,
    interaction: &str,
    csrf: &str,
    error: Option<&str>,
) -> Response {
    let action = state.path(ENROLL_PATH);
    let intro = lang.t_with("enroll-required", "client", client_name(client));
    let form = account_mfa::EnrollForm {
        lang,
        action: &action,
        csrf,
        account: None,
        interaction: Some(interaction),
        intro: Some(&intro),
    };
    let status = if error.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    account_mfa::render_enroll(state, enrollment, form, error, status)
}

/// Shows a notice and a button that goes on with the flow; the interaction
/// waits at the `Continue` stage for the signed-in person.
#[allow(clippy::too_many_arguments)]
async fn continue_page(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    interaction: &mut Interaction,
    interaction_id: &str,
    title: &str,
    notice: Option<&str>,
    codes: Vec<String>,
    ask_for_new_codes: bool,
) -> Result<Response, FlowError> {
    interaction.stage = InteractionStage::Continue;
    if !state.interactions.update_interaction(interaction).await? {
        return Err(FlowError::AlreadyCompleted);
    }
    let (action, account) = (state.path(CONTINUE_PATH), state.path(account::PATH));
    let ui = state.settings.ui.speaking(req.language(None));
    let page = pages::ContinuePage {
        ui: &ui,
        title,
        notice,
        codes,
        account: ask_for_new_codes.then_some(account.as_str()),
        action: &action,
        client_name: client_name(client),
        interaction: interaction_id,
        csrf: &interaction.csrf,
    };
    Ok(html(StatusCode::OK, &page, Some(&req.target.redirect_uri), false))
}

/// What a person is told who types a code where only a passkey will do.
pub(crate) const PASSKEY_REQUIRED: &str = "This app asks you to sign in with a passkey: use the passkey button.";

/// What a person who typed a wrong code is told.
pub(crate) const WRONG_CODE: &str =
    "That code is not right. Enter the current code from your authenticator app, or a recovery code.";

/// Where the second sign-in page posts its code.
pub const SECOND_FACTOR_PATH: &str = "/login/code";

pub(crate) fn second_factor_page(
    state: &AuthorizeState,
    client: &Client,
    req: &AuthorizationRequest,
    interaction: &str,
    csrf: &str,
    error: Option<&str>,
    passkey: bool,
) -> Response {
    let action = state.path(SECOND_FACTOR_PATH);
    let ui = state.settings.ui.speaking(req.language(None));
    let page = pages::SecondFactorPage {
        ui: &ui,
        action: &action,
        client_name: client_name(client),
        interaction,
        csrf,
        error,
        passkey: state.passkey_form(passkey_sign_in::PATH, passkey_sign_in::OPTIONS_PATH).filter(|_| passkey),
    };
    let status = if error.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let passkeys = page.passkey.is_some();
    html_with_passkeys(status, &page, &[req.target.redirect_uri.as_str()], passkeys)
}

/// The second sign-in page's form (`second_factor.html`).
#[derive(Debug, Deserialize)]
struct CodeForm {
    #[serde(flatten)]
    interaction: InteractionForm,
    #[serde(default)]
    code: String,
}

/// `POST /login/code`: a TOTP or recovery code from the person who gave
/// their password to this interaction. Wrong codes count against the
/// sign-in limits like wrong passwords; a right one starts the session
/// (`amr` `pwd otp mfa`, `acr` [`ACR_MFA`]) and the flow goes on as after a
/// password.
async fn login_code(
    State(state): State<AuthorizeState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    let (mut interaction, req, client) =
        load_interaction(state, &headers, &form.interaction, InteractionStage::SecondFactor).await?;
    let interaction_id = form.interaction.interaction.as_deref().unwrap_or("");
    let user = interaction_user(state, &interaction).await?;
    let passkey = latchkey_domain::passkeys::has_passkey(&*state.store, &user.id).await?;
    let again = |message: &str| {
        second_factor_page(state, &client, &req, interaction_id, &interaction.csrf, Some(message), passkey)
    };
    let code = form.code.trim();
    let check = if code.is_empty() || code.len() > 64 {
        CodeCheck::Refused
    } else {
        mfa::verify_code(&state.factors(), &state.sign_in(), &user, code, address, Some(&client.client_id)).await?
    };
    let recovery_codes_left = match check {
        CodeCheck::Totp => None,
        CodeCheck::Recovery { left } => Some(left),
        CodeCheck::Refused => return Ok(again(WRONG_CODE)),
        CodeCheck::Throttled(refusal) => {
            let mut page = again(refusal.limit.message());
            *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            page.headers_mut().insert(header::RETRY_AFTER, refusal.retry_after(state.clock.now()).into());
            return Ok(page);
        }
    };
    // A passkey is required: a code would not be enough, so it is not checked (nor counted).
    if Needs::of(&state.settings, &client, &req, &user).required >= Level::PhishingResistant {
        return Ok(again(PASSKEY_REQUIRED));
    }
    let flow = (&user, &client, &req);
    let Some((session, cookie)) = complete_second_factor(state, &headers, flow, address, SecondFactor::Code).await?
    else {
        return Err(LoginError::SessionEnded);
    };
    let res = match recovery_codes_left {
        // Signed in with a recovery code: how many are left, before going on.
        Some(left) => {
            let lang = req.language(Some(&user));
            let notice = lang.t_with("recovery-code-used", "count", left);
            let few = left <= FEW_RECOVERY_CODES;
            let title = lang.t("recovery-code-used-title");
            continue_page(
                state,
                &client,
                &req,
                &mut interaction,
                interaction_id,
                &title,
                Some(&notice),
                Vec::new(),
                few,
            )
            .await
        }
        None => proceed_after_login(state, &client, req, (session, user), &mut interaction, interaction_id).await,
    };
    // Signed in whatever comes next: the cookie goes with an error page too.
    let mut res = res.unwrap_or_else(|e| LoginError::from(e).into_response());
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// The person an interaction names, if they may still sign in.
async fn interaction_user(state: &AuthorizeState, interaction: &Interaction) -> Result<User, LoginError> {
    let user = match interaction.user_id.as_deref() {
        Some(id) => state.users.get_user(id).await?,
        None => None,
    };
    // Deleted or disabled since the first factor: this sign-in is over.
    user.filter(|u| !u.disabled).ok_or_else(|| InteractionError::Expired.into())
}

/// `POST /login/enroll`: the first code from the authenticator app a person
/// who must have a second factor just set up. A right one turns it on,
/// completes the sign-in (both factors were given) and shows the recovery
/// codes once; the flow goes on from there.
async fn login_enroll(
    State(state): State<AuthorizeState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    let (mut interaction, req, client) =
        load_interaction(state, &headers, &form.interaction, InteractionStage::Enroll).await?;
    let interaction_id = form.interaction.interaction.as_deref().unwrap_or("");
    let user = interaction_user(state, &interaction).await?;
    let ctx = state.factors();
    let code = form.code.trim();
    let result = if code.len() > 64 {
        Err(mfa::ConfirmError::WrongCode)
    } else {
        mfa::confirm_enrollment(&ctx, &user.id, code, &format!("user:{}", user.id)).await
    };
    let codes = match result {
        Ok(codes) => codes,
        Err(mfa::ConfirmError::Store(e)) => return Err(e.into()),
        // Removed meanwhile (an operator's reset): start again.
        Err(mfa::ConfirmError::NotStarted) => return Err(InteractionError::Expired.into()),
        Err(e) => {
            let message = account_mfa::capitalized(&e.to_string());
            return match mfa::pending_enrollment(&ctx, &user).await {
                Ok(Some(enrollment)) => {
                    let lang = req.language(Some(&user));
                    Ok(enroll_page(
                        state,
                        &client,
                        lang,
                        &enrollment,
                        interaction_id,
                        &interaction.csrf,
                        Some(&message),
                    ))
                }
                Ok(None) => Err(InteractionError::Expired.into()),
                Err(mfa::ConfirmError::Store(e)) => Err(e.into()),
                Err(e) => {
                    tracing::error!(error = %e, "a pending TOTP secret could not be opened");
                    Err(InteractionError::Expired.into())
                }
            };
        }
    };
    let flow = (&user, &client, &req);
    let Some((_, cookie)) = complete_second_factor(state, &headers, flow, address, SecondFactor::Code).await? else {
        return Err(LoginError::SessionEnded);
    };
    let lang = req.language(Some(&user));
    let (notice, title) = (lang.t("recovery-codes-mfa-on"), lang.t("recovery-codes-title"));
    let mut res =
        continue_page(state, &client, &req, &mut interaction, interaction_id, &title, Some(&notice), codes, false)
            .await
            .unwrap_or_else(|e| LoginError::from(e).into_response());
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// The continue button's form (`sign_in_continue.html`).
#[derive(Debug, Deserialize)]
struct ContinueForm {
    #[serde(flatten)]
    interaction: InteractionForm,
}

/// `POST /login/continue`: on with the flow after a notice, for the person
/// signed in when it was shown.
async fn login_continue(
    State(state): State<AuthorizeState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<ContinueForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    let (mut interaction, req, client) =
        load_interaction(state, &headers, &form.interaction, InteractionStage::Continue).await?;
    let interaction_id = form.interaction.interaction.as_deref().unwrap_or("");
    if let FirstFactor::SignUp { email } = &req.first_factor {
        let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
        let email = email.clone();
        let held = signup::Held { interaction: &mut interaction, interaction_id, email: &email };
        return signup::continue_held(state, &headers, address, &client, req, held, false).await;
    }
    let session = current_session(state, &headers).await?;
    let Some((session, user)) = session.filter(|(_, u)| Some(&u.id) == interaction.user_id.as_ref()) else {
        return Err(LoginError::SessionEnded);
    };
    Ok(proceed_after_login(state, &client, req, (session, user), &mut interaction, interaction_id).await?)
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

pub(crate) async fn proceed_after_login(
    state: &AuthorizeState,
    client: &Client,
    req: AuthorizationRequest,
    session: (Session, User),
    interaction: &mut Interaction,
    interaction_id: &str,
) -> Result<Response, FlowError> {
    let (session, user) = session;
    if let Some(page) = signup::address_gate(state, client, &req, &user, interaction, interaction_id).await? {
        return Ok(page);
    }
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
        return Ok(issue_code(state, client, &req, &session).await?);
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
        let bad = |id: &'static str| Failure::says(StatusCode::BAD_REQUEST, pages::Text::new(id));
        match e {
            ConsentError::Form(rejection) => Failure::form(&rejection),
            ConsentError::Interaction(e) => e.into(),
            ConsentError::Decision(DecisionError::SessionEnded) => bad("error-session-ended"),
            ConsentError::Decision(DecisionError::NoDecision) => bad("consent-error-no-decision"),
            ConsentError::Decision(DecisionError::AlreadyCompleted) => bad("consent-error-already-completed"),
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
    let scope = latchkey_domain::consents::grant_consent(
        &*state.store,
        &user.id,
        &client.client_id,
        &req.consent_scope(&client),
        now,
    )
    .await?;
    let event = AuditEvent::new(now, "consent.granted", format!("user:{}", user.id))
        .subject(&user.id)
        .client(&client.client_id)
        .detail("scope", scope.to_string());
    latchkey_http::audit(state.audit.as_ref(), event).await;
    Ok(issue_code(state, &client, &req, &session).await?)
}

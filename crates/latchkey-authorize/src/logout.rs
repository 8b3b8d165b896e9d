//! RP-Initiated Logout 1.0 (`end_session_endpoint`): ends the session when
//! the request is tied to it by an `id_token_hint`, asks the person to
//! confirm otherwise, then returns to a registered post-logout redirect URI
//! (exact match) or shows a "signed out" page.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::claims::IdTokenClaims;
use latchkey_core::secret::hash_token;
use latchkey_core::{Client, random};
use latchkey_domain::EndedSession;
use latchkey_http::{Form, FormError, FormRejection, Params, cookies};
use latchkey_store::StoreError;
use serde::Deserialize;

use crate::failure::Failure;
use crate::pages::{Text, Ui, html};
use crate::{AuthorizeState, CSRF_COOKIE, current_session};

#[derive(Template, serde::Serialize)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    ui: &'a Ui,
    action: &'a str,
    client_name: Option<&'a str>,
    username: &'a str,
    csrf: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

#[derive(Template, serde::Serialize)]
#[template(path = "signed_out.html")]
struct SignedOutPage<'a> {
    ui: &'a Ui,
    signed_out: bool,
}

/// Sample values of the pages here ([`crate::pages::samples`]).
pub(crate) fn samples(ui: &Ui) -> Vec<latchkey_overrides::Known> {
    let confirm = ConfirmPage {
        ui,
        action: "/logout",
        client_name: Some("Example App"),
        username: "ann",
        csrf: "c",
        fields: vec![("state", "xyz")],
    };
    let done = SignedOutPage { ui, signed_out: true };
    vec![
        latchkey_overrides::Known { name: "logout.html", sample: crate::pages::context(&confirm) },
        latchkey_overrides::Known { name: "signed_out.html", sample: crate::pages::context(&done) },
    ]
}

crate::pages::page!(ConfirmPage => "logout.html", SignedOutPage => "signed_out.html");

pub use latchkey_domain::EndRevokes;

/// Ends a session everywhere ([`latchkey_domain::end_session`]) with this
/// server's settings and back channel.
pub async fn end_session(state: &AuthorizeState, id_hash: &str) -> Result<Option<EndedSession>, StoreError> {
    latchkey_domain::end_session(
        &*state.store,
        &state.notifier,
        state.settings.sessions.end_revokes,
        id_hash,
        state.clock.now(),
    )
    .await
}

/// Ends the session the person asked to leave, then waits (at most
/// `redirect_wait`, for all of them at once) until its apps have their
/// back-channel logout tokens: the app the browser is sent back to must
/// already know. Deliveries still pending keep their retries in the background.
async fn end_session_before_redirect(state: &AuthorizeState, id_hash: &str) -> Result<(), StoreError> {
    if let Some(ended) = end_session(state, id_hash).await?
        && tokio::time::timeout(state.notifier.redirect_wait, ended.delivery).await.is_err()
    {
        tracing::info!("back-channel logout still in progress; redirecting without waiting longer");
    }
    Ok(())
}

/// A logout request's parameters (OIDC RP-Initiated Logout §2), from the
/// query, a form, or the confirmation page's hidden fields.
#[derive(Debug, Default, Deserialize)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// A validated logout request.
struct LogoutRequest {
    client: Option<Client>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    hint_sub: Option<String>,
    hint_sid: Option<String>,
}

/// How `/logout` and `/logout/confirm` fail.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("request too large")]
    TooLarge,
    /// The same, at `/logout/confirm` (which has always answered 400).
    #[error("request too large")]
    ConfirmationTooLarge,
    #[error("not a form submission")]
    NotForm,
    /// A repeated parameter.
    #[error(transparent)]
    Params(#[from] FormError),
    /// Not verified with our keys, of another issuer, or not an ID token's claims.
    #[error("the id_token_hint is not ours")]
    ForeignHint,
    #[error("client_id differs from the hint's audience")]
    ClientMismatch,
    #[error("unknown client")]
    UnknownClient,
    #[error("post_logout_redirect_uri without a client")]
    RedirectWithoutClient,
    #[error("unregistered post_logout_redirect_uri")]
    UnregisteredRedirect,
    /// The confirmation's CSRF token does not match the browser's cookie.
    #[error("CSRF token mismatch")]
    Forged,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<LogoutError> for Failure {
    fn from(e: LogoutError) -> Self {
        let page = |status: StatusCode, message: Text| Failure::Page {
            status,
            title: Text::new("error-sign-out-title"),
            message,
        };
        // Details for the application's developer, as they are.
        let bad = |message: &str| page(StatusCode::BAD_REQUEST, Text::verbatim(message));
        match e {
            LogoutError::TooLarge => page(StatusCode::PAYLOAD_TOO_LARGE, Text::new("error-too-large")),
            LogoutError::ConfirmationTooLarge => page(StatusCode::BAD_REQUEST, Text::new("error-too-large")),
            LogoutError::NotForm => page(StatusCode::BAD_REQUEST, Text::new("error-not-form")),
            LogoutError::Params(e) => bad(&e.to_string()),
            LogoutError::ForeignHint => bad("The id_token_hint was not issued by this server."),
            LogoutError::ClientMismatch => bad("client_id does not match the id_token_hint."),
            LogoutError::UnknownClient => page(StatusCode::BAD_REQUEST, Text::new("error-app-unknown")),
            LogoutError::RedirectWithoutClient => bad("A post_logout_redirect_uri needs client_id or id_token_hint."),
            LogoutError::UnregisteredRedirect => {
                bad("The post_logout_redirect_uri is not registered for this application.")
            }
            LogoutError::Forged => page(StatusCode::FORBIDDEN, Text::new("error-sign-out-forged")),
            LogoutError::Store(e) => Failure::store(&e),
        }
    }
}

impl IntoResponse for LogoutError {
    fn into_response(self) -> Response {
        Failure::from(self).into_response()
    }
}

async fn validate(state: &AuthorizeState, params: &LogoutParams) -> Result<LogoutRequest, LogoutError> {
    let (mut hint_sub, mut hint_sid, mut hint_aud) = (None, None, None);
    if let Some(hint) = &params.id_token_hint {
        let jwt = state.keys.current().verify_jwt::<IdTokenClaims>(hint).map_err(|_| LogoutError::ForeignHint)?;
        if jwt.claims.iss != state.settings.issuer {
            return Err(LogoutError::ForeignHint);
        }
        hint_aud = jwt.claims.aud.first().map(str::to_string);
        hint_sub = Some(jwt.claims.sub);
        hint_sid = jwt.claims.sid;
    }
    let client_id = match (params.client_id.as_deref(), hint_aud.as_deref()) {
        (Some(a), Some(b)) if a != b => return Err(LogoutError::ClientMismatch),
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b.map(str::to_string),
    };
    let client = match &client_id {
        Some(id) if id.len() <= 256 => state.clients.get_client(id).await?,
        _ => None,
    };
    if client_id.is_some() && client.is_none() {
        return Err(LogoutError::UnknownClient);
    }
    let post_logout_redirect_uri = match &params.post_logout_redirect_uri {
        None => None,
        Some(uri) => {
            let client = client.as_ref().ok_or(LogoutError::RedirectWithoutClient)?;
            if !client.settings.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(LogoutError::UnregisteredRedirect);
            }
            Some(uri.clone())
        }
    };
    Ok(LogoutRequest { client, post_logout_redirect_uri, state: params.state.clone(), hint_sub, hint_sid })
}

fn finish(state: &AuthorizeState, req: &LogoutRequest, signed_out: bool) -> Response {
    let mut res = match &req.post_logout_redirect_uri {
        Some(uri) => {
            let mut location = uri.clone();
            if let Some(s) = &req.state {
                let q = url::form_urlencoded::Serializer::new(String::new()).append_pair("state", s).finish();
                location.push(if uri.contains('?') { '&' } else { '?' });
                location.push_str(&q);
            }
            let mut res = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        None => html(StatusCode::OK, &SignedOutPage { ui: &state.settings.ui, signed_out }, None, false),
    };
    if signed_out {
        res.headers_mut().append(
            header::SET_COOKIE,
            cookies::set(state.settings.session_cookie(), "", state.settings.secure_cookies, Some(0)),
        );
    }
    res
}

async fn handle(state: &AuthorizeState, headers: &HeaderMap, params: &LogoutParams) -> Result<Response, LogoutError> {
    let req = validate(state, params).await?;
    let session = current_session(state, headers).await?;
    let Some((session, user)) = session else {
        // Nothing to end here; still honour the redirect.
        return Ok(finish(state, &req, true));
    };
    let tied = req.hint_sid.as_deref() == Some(session.auth.sid.as_str())
        || (req.hint_sid.is_none() && req.hint_sub.as_deref() == Some(user.id.as_str()));
    if tied {
        end_session_before_redirect(state, &session.id_hash).await?;
        return Ok(finish(state, &req, true));
    }
    // Not provably from this person's app: ask first (OIDC RP-Initiated Logout §2).
    let (csrf, new_csrf) = match cookies::get(headers, CSRF_COOKIE) {
        Some(v) if v.len() == 43 => (v.to_string(), false),
        _ => (random::token(32), true),
    };
    let mut fields: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = &req.client {
        fields.push(("client_id", &c.client_id));
    }
    if let Some(u) = &req.post_logout_redirect_uri {
        fields.push(("post_logout_redirect_uri", u));
    }
    if let Some(s) = &req.state {
        fields.push(("state", s));
    }
    let action = format!("{}/logout/confirm", state.settings.base_path);
    let ui = state.settings.ui.for_request(headers, user.claims.locale.as_deref());
    let page = ConfirmPage {
        ui: &ui,
        action: &action,
        client_name: req.client.as_ref().map(|c| c.settings.client_name.as_str()).filter(|n| !n.is_empty()),
        username: &user.username,
        csrf: &csrf,
        fields,
    };
    let mut res = html(StatusCode::OK, &page, req.post_logout_redirect_uri.as_deref(), false);
    if new_csrf {
        res.headers_mut()
            .append(header::SET_COOKIE, cookies::set(CSRF_COOKIE, &csrf, state.settings.secure_cookies, None));
    }
    Ok(res)
}

pub async fn logout_get(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, LogoutError> {
    let params: LogoutParams = Params::parse(q.unwrap_or_default().as_bytes())?.deserialize()?;
    handle(&state, &headers, &params).await
}

pub async fn logout_post(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<LogoutParams>, FormRejection>,
) -> Result<Response, LogoutError> {
    let params = match form {
        Ok(Form(params)) => params,
        // An empty POST is a logout without parameters.
        Err(FormRejection::NotForm { empty: true }) => LogoutParams::default(),
        Err(FormRejection::NotForm { empty: false }) => return Err(LogoutError::NotForm),
        Err(FormRejection::Body(_)) => return Err(LogoutError::TooLarge),
        Err(FormRejection::Invalid(e)) => return Err(e.into()),
    };
    handle(&state, &headers, &params).await
}

/// The confirmation page's form (`logout.html`): the request, carried over.
#[derive(Debug, Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    csrf: String,
    /// `logout` to sign out; anything else keeps the session.
    decision: Option<String>,
    #[serde(flatten)]
    request: LogoutParams,
}

pub async fn confirm(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<ConfirmForm>, FormRejection>,
) -> Result<Response, LogoutError> {
    let form = match form {
        Ok(Form(form)) => form,
        Err(FormRejection::Body(_)) => return Err(LogoutError::ConfirmationTooLarge),
        Err(FormRejection::NotForm { .. }) => return Err(LogoutError::NotForm),
        Err(FormRejection::Invalid(e)) => return Err(e.into()),
    };
    if !crate::matches_csrf_cookie(&headers, &form.csrf) {
        return Err(LogoutError::Forged);
    }
    let req = validate(&state, &form.request).await?;
    if form.decision.as_deref() != Some("logout") {
        let ui = state.settings.ui.for_request(&headers, None);
        return Ok(html(StatusCode::OK, &SignedOutPage { ui: &ui, signed_out: false }, None, false));
    }
    if let Some(cookie) = cookies::get(&headers, state.settings.session_cookie()) {
        end_session_before_redirect(&state, &hash_token(cookie)).await?;
    }
    Ok(finish(&state, &req, true))
}

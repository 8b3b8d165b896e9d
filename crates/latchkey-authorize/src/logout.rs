//! RP-Initiated Logout 1.0 (`end_session_endpoint`): ends the session when
//! the request is tied to it by an `id_token_hint`, asks the person to
//! confirm otherwise, then returns to a registered post-logout redirect URI
//! (exact match) or shows a "signed out" page.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::{Client, random};
use latchkey_domain::EndedSession;
use latchkey_http::{Params, cookies, form::is_form};
use latchkey_store::StoreError;

use crate::pages::{Ui, error_page, html};
use crate::{AuthorizeError, AuthorizeState, CSRF_COOKIE, current_session};

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage<'a> {
    ui: &'a Ui,
    action: &'a str,
    client_name: Option<&'a str>,
    username: &'a str,
    csrf: &'a str,
    fields: Vec<(&'a str, &'a str)>,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
struct SignedOutPage<'a> {
    ui: &'a Ui,
    signed_out: bool,
}

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

/// A validated logout request.
struct LogoutRequest {
    client: Option<Client>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    hint_sub: Option<String>,
    hint_sid: Option<String>,
}

fn bad(message: &str) -> AuthorizeError {
    AuthorizeError::Page(StatusCode::BAD_REQUEST, message.to_string())
}

async fn validate(state: &AuthorizeState, params: &Params) -> Result<LogoutRequest, AuthorizeError> {
    let (mut hint_sub, mut hint_sid, mut hint_aud) = (None, None, None);
    if let Some(hint) = params.get("id_token_hint") {
        let jwt = state
            .keys
            .current()
            .verify_jwt(hint)
            .map_err(|_| bad("The id_token_hint was not issued by this server."))?;
        if jwt.claims.get("iss").and_then(|v| v.as_str()) != Some(state.settings.issuer.as_str()) {
            return Err(bad("The id_token_hint was not issued by this server."));
        }
        hint_sub = jwt.claims.get("sub").and_then(|v| v.as_str()).map(str::to_string);
        hint_sid = jwt.claims.get("sid").and_then(|v| v.as_str()).map(str::to_string);
        hint_aud = match jwt.claims.get("aud") {
            Some(serde_json::Value::String(a)) => Some(a.clone()),
            Some(serde_json::Value::Array(a)) => a.first().and_then(|v| v.as_str()).map(str::to_string),
            _ => None,
        };
    }
    let client_id = match (params.get("client_id"), hint_aud.as_deref()) {
        (Some(a), Some(b)) if a != b => return Err(bad("client_id does not match the id_token_hint.")),
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b.map(str::to_string),
    };
    let client = match &client_id {
        Some(id) if id.len() <= 256 => state.clients.get_client(id).await?,
        _ => None,
    };
    if client_id.is_some() && client.is_none() {
        return Err(bad("The application is not registered here."));
    }
    let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let client =
                client.as_ref().ok_or_else(|| bad("A post_logout_redirect_uri needs client_id or id_token_hint."))?;
            if !client.settings.post_logout_redirect_uris.iter().any(|u| u == uri) {
                return Err(bad("The post_logout_redirect_uri is not registered for this application."));
            }
            Some(uri.to_string())
        }
    };
    Ok(LogoutRequest {
        client,
        post_logout_redirect_uri,
        state: params.get("state").map(str::to_string),
        hint_sub,
        hint_sid,
    })
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

async fn handle(state: &AuthorizeState, headers: &HeaderMap, input: &[u8]) -> Result<Response, AuthorizeError> {
    let params = Params::parse(input).map_err(|e| bad(&e.to_string()))?;
    let req = validate(state, &params).await?;
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
    let page = ConfirmPage {
        ui: &state.settings.ui,
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

pub async fn logout_get(State(state): State<AuthorizeState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let result = handle(&state, &headers, q.unwrap_or_default().as_bytes()).await;
    respond(&state, result)
}

pub async fn logout_post(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let result = match body {
        Ok(b) if is_form(&headers) || b.is_empty() => handle(&state, &headers, &b).await,
        Ok(_) => Err(bad("The request is not a form submission.")),
        Err(_) => Err(AuthorizeError::Page(StatusCode::PAYLOAD_TOO_LARGE, "The request is too large.".into())),
    };
    respond(&state, result)
}

pub async fn confirm(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let result = async {
        let body = body.map_err(|_| bad("The request is too large."))?;
        if !is_form(&headers) {
            return Err(bad("The request is not a form submission."));
        }
        let form = Params::parse(&body).map_err(|e| bad(&e.to_string()))?;
        let cookie = cookies::get(&headers, CSRF_COOKIE).unwrap_or("");
        let submitted = form.get("csrf").unwrap_or("");
        if submitted.is_empty() || !constant_time_eq(submitted.as_bytes(), cookie.as_bytes()) {
            return Err(AuthorizeError::Page(
                StatusCode::FORBIDDEN,
                "This form could not be verified. Make sure cookies are enabled and try again.".into(),
            ));
        }
        let req = validate(&state, &form).await?;
        if form.get("decision") != Some("logout") {
            return Ok(html(StatusCode::OK, &SignedOutPage { ui: &state.settings.ui, signed_out: false }, None, false));
        }
        if let Some(cookie) = cookies::get(&headers, state.settings.session_cookie()) {
            end_session_before_redirect(&state, &hash_token(cookie)).await?;
        }
        Ok(finish(&state, &req, true))
    }
    .await;
    respond(&state, result)
}

fn respond(state: &AuthorizeState, result: Result<Response, AuthorizeError>) -> Response {
    match result {
        Ok(r) => r,
        Err(AuthorizeError::Page(status, message)) => {
            error_page(&state.settings.ui, status, "Sign-out request cannot be completed", &message)
        }
        Err(e) => state.respond(Err(e)),
    }
}

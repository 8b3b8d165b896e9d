//! Passkeys on `/account`: list them (name, added, last used), add one
//! (named; `passkey.js` asks [`OPTIONS_PATH`] for a challenge, runs
//! `navigator.credentials.create` and posts the answer to
//! [`REGISTER_PATH`]), remove one. A registration is bound to the session
//! that began it. The rules are `latchkey_domain::passkeys`'s.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use latchkey_core::User;
use latchkey_core::calendar::readable;
use latchkey_core::grant::Session;
use latchkey_domain::passkeys::{self, PasskeyError};
use latchkey_http::{Form, FormRejection};
use latchkey_store::StoreError;
use serde::Deserialize;

use crate::AuthorizeState;
use crate::account::{AccountError, PATH, SignedInForm, account_page, see_other, signed_in_form};
use crate::account_mfa::NoFields;
use crate::pages::PasskeyForm;

pub const OPTIONS_PATH: &str = "/account/passkeys/options";
pub const REGISTER_PATH: &str = "/account/passkeys";
pub const REMOVE_PATH: &str = "/account/passkeys/remove";

/// A passkey as `/account` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PasskeyRow {
    /// base64url, as `data-passkey-id` carries it.
    pub credential_id: String,
    pub name: String,
    pub created: String,
    pub last_used: Option<String>,
}

/// What `/account` shows about passkeys.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PasskeySection {
    pub list: Vec<PasskeyRow>,
    pub register: PasskeyForm,
    pub remove_action: String,
}

/// The section, or `None` where the issuer cannot be a relying party.
pub(crate) async fn section(state: &AuthorizeState, user: &User) -> Result<Option<PasskeySection>, StoreError> {
    let Some(register) = state.passkey_form(REGISTER_PATH, OPTIONS_PATH) else {
        return Ok(None);
    };
    let list = passkeys::list(&*state.store, &user.id)
        .await?
        .into_iter()
        .map(|p| PasskeyRow {
            credential_id: p.credential_id,
            name: p.name,
            created: readable(p.created_at),
            last_used: p.last_used_at.map(readable),
        })
        .collect();
    Ok(Some(PasskeySection { list, register, remove_action: state.path(REMOVE_PATH) }))
}

/// A registration belongs to the session that began it.
fn binding(session: &Session) -> String {
    format!("register:{}", session.id_hash)
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    let mut res = axum::response::IntoResponse::into_response((status, axum::Json(body)));
    res.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    res
}

/// `POST /account/passkeys/options`: a registration challenge, as JSON.
pub async fn options(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<NoFields>>, FormRejection>,
) -> Response {
    let state = &state;
    let signed_in = match signed_in_form(state, &headers, form).await {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => {
            return json(StatusCode::UNAUTHORIZED, serde_json::json!({"error": "You are signed out. Sign in again."}));
        }
        Err(AccountError::Store(e)) => return crate::passkey_sign_in::store_failure(&e),
        Err(_) => {
            let message = "This page could not be verified. Reload it and try again.";
            return json(StatusCode::FORBIDDEN, serde_json::json!({ "error": message }));
        }
    };
    let (session, user, _) = signed_in;
    let Some(ctx) = state.passkeys() else {
        return json(StatusCode::NOT_FOUND, serde_json::json!({"error": "Passkeys are not available here."}));
    };
    match passkeys::begin_registration(&ctx, &user, &binding(&session)).await {
        Ok(challenge) => json(StatusCode::OK, serde_json::json!(challenge)),
        Err(PasskeyError::Store(e)) => crate::passkey_sign_in::store_failure(&e),
        Err(e) => {
            tracing::error!(error = %e, "a passkey registration could not begin");
            json(
                StatusCode::INTERNAL_SERVER_ERROR,
                serde_json::json!({"error": "Passkeys are not available right now."}),
            )
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RegisterFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// `POST /account/passkeys`: the browser's answer and the passkey's name.
pub async fn register(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<RegisterFields>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((session, user, fields)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let Some(ctx) = state.passkeys() else {
        return Ok(see_other(&state.path(PATH)));
    };
    let actor = format!("user:{}", user.id);
    let result = passkeys::finish_registration(
        &ctx,
        &user,
        &binding(&session),
        &fields.ceremony,
        &fields.credential,
        &fields.name,
        &actor,
    )
    .await;
    let message = match result {
        Ok(_) => return Ok(see_other(&state.path("/account?done=passkey-added"))),
        Err(PasskeyError::Store(e)) => return Err(e.into()),
        Err(e @ (PasskeyError::Webauthn(_) | PasskeyError::NoPasskeys)) => {
            tracing::error!(error = %e, "a passkey registration failed");
            "The passkey could not be added. Please try again.".to_string()
        }
        Err(e) => {
            let text = e.to_string();
            let mut chars = text.chars();
            chars.next().map(|c| c.to_uppercase().chain(chars).collect::<String>() + ".").unwrap_or_default()
        }
    };
    Ok(account_page(state, &headers, &session, &user, None, Some(&message), StatusCode::BAD_REQUEST).await?)
}

#[derive(Debug, Deserialize)]
pub struct RemoveFields {
    #[serde(default)]
    credential_id: String,
}

/// `POST /account/passkeys/remove`.
pub async fn remove(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<SignedInForm<RemoveFields>>, FormRejection>,
) -> Result<Response, AccountError> {
    let state = &state;
    let Some((_, user, fields)) = signed_in_form(state, &headers, form).await? else {
        return Ok(see_other(&state.path(PATH)));
    };
    let id = fields.credential_id.as_str();
    let actor = format!("user:{}", user.id);
    // Another person's passkey is treated like an unknown one: already gone.
    if !id.is_empty() && id.len() <= 1400 {
        passkeys::remove(&*state.store, &*state.clock, &user.id, id, &actor).await?;
    }
    Ok(see_other(&state.path("/account?done=passkey-removed")))
}

//! Signing in with a passkey: passwordless ("Sign in with a passkey" on the
//! login page and on `/account`'s sign-in), or as the second factor after a
//! password (the passkey button on the second-factor page, at `/authorize`
//! and at `/account`).
//!
//! `passkey.js` posts the button's form to [`OPTIONS_PATH`] for a challenge
//! (JSON), runs `navigator.credentials.get`, and posts the answer to
//! [`PATH`]. The ceremony is bound to the sign-in in progress (the
//! interaction), or for `/account`'s passwordless sign-in, which has none, to
//! the browser's CSRF cookie. The rules are `latchkey_domain::passkeys`'s.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_core::grant::{Interaction, InteractionStage};
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_core::{Client, User};
use latchkey_domain::passkeys::{self, PasskeyCheck, PasskeyError};
use latchkey_http::{Form, FormRejection};
use latchkey_store::StoreError;
use serde::Deserialize;

use crate::failure::InteractionError;
use crate::request::AuthorizationRequest;
use crate::{AuthorizeState, LoginError, SecondFactor, SignInMethod, account, request_of, start_session};

/// Where `passkey.js` asks for a sign-in challenge.
pub const OPTIONS_PATH: &str = "/login/passkey/options";
/// Where the answer is posted.
pub const PATH: &str = "/login/passkey";

/// The passkey button's form (`passkey_button.html`).
#[derive(Debug, Deserialize)]
pub struct PasskeyForm {
    /// Empty for `/account`'s passwordless sign-in.
    #[serde(default)]
    interaction: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ceremony: String,
    #[serde(default)]
    credential: String,
}

/// Which sign-in the button belongs to.
enum Flow {
    /// `/authorize`'s: passwordless at the login stage, the second factor
    /// at the second-factor stage.
    Authorize { interaction: Box<Interaction>, req: Box<AuthorizationRequest>, client: Box<Client> },
    /// `/account`'s second step after the password.
    AccountSecondFactor { interaction: Box<Interaction> },
    /// `/account`'s passwordless sign-in.
    AccountPasswordless,
}

/// The sign-in a form names, who (if anyone) gave their password to it, and
/// what its ceremonies are bound to.
async fn load(
    state: &AuthorizeState,
    headers: &HeaderMap,
    form: &PasskeyForm,
) -> Result<(Flow, Option<User>, String), InteractionError> {
    if !crate::matches_csrf_cookie(headers, &form.csrf) {
        return Err(InteractionError::Forged);
    }
    if form.interaction.is_empty() {
        return Ok((Flow::AccountPasswordless, None, format!("account:{}", hash_token(&form.csrf))));
    }
    if form.interaction.len() > 64 {
        return Err(InteractionError::Expired);
    }
    let interaction = state
        .interactions
        .get_interaction(&hash_token(&form.interaction), state.clock.now())
        .await?
        .ok_or(InteractionError::Expired)?;
    if !constant_time_eq(interaction.csrf.as_bytes(), form.csrf.as_bytes()) {
        return Err(InteractionError::Forged);
    }
    let user = match interaction.stage {
        InteractionStage::Login => None,
        InteractionStage::SecondFactor => {
            let user = match interaction.user_id.as_deref() {
                Some(id) => state.users.get_user(id).await?,
                None => None,
            };
            // Deleted or disabled since the password: this sign-in is over.
            Some(user.filter(|u| !u.disabled).ok_or(InteractionError::Expired)?)
        }
        _ => return Err(InteractionError::Expired),
    };
    let binding = format!("interaction:{}", interaction.id_hash);
    let flow = if interaction.request.is_empty() {
        if user.is_none() {
            return Err(InteractionError::Expired);
        }
        Flow::AccountSecondFactor { interaction: Box::new(interaction) }
    } else {
        let (req, client) = request_of(state, &interaction).await?;
        Flow::Authorize { interaction: Box::new(interaction), req: Box::new(req), client: Box::new(client) }
    };
    Ok((flow, user, binding))
}

fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn json_error(status: StatusCode, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// `POST /login/passkey/options`: a challenge for the button's sign-in, as
/// JSON (`{"ceremony": …, "options": {"publicKey": …}}`); errors as
/// `{"error": …}`, which `passkey.js` shows.
pub async fn options(
    State(state): State<AuthorizeState>,
    headers: HeaderMap,
    form: Result<Form<PasskeyForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return json_error(StatusCode::BAD_REQUEST, "The request is not a form submission.");
    };
    let Some(ctx) = state.passkeys() else {
        return json_error(StatusCode::NOT_FOUND, "Passkeys are not available here.");
    };
    let (_, user, binding) = match load(&state, &headers, &form).await {
        Ok(loaded) => loaded,
        Err(InteractionError::Store(e)) => return store_failure(&e),
        Err(InteractionError::Forged) => {
            return json_error(StatusCode::FORBIDDEN, "This page could not be verified. Reload it and try again.");
        }
        Err(_) => return json_error(StatusCode::BAD_REQUEST, EXPIRED),
    };
    match passkeys::begin_sign_in(&ctx, user.as_ref(), &binding).await {
        Ok(challenge) => json(StatusCode::OK, &serde_json::json!(challenge)),
        Err(PasskeyError::NoPasskeys) => json_error(StatusCode::BAD_REQUEST, "You have no passkey."),
        Err(PasskeyError::Store(e)) => store_failure(&e),
        Err(e) => {
            tracing::error!(error = %e, "a passkey challenge could not be made");
            json_error(StatusCode::INTERNAL_SERVER_ERROR, "Passkeys are not available right now.")
        }
    }
}

const EXPIRED: &str = "This sign-in request has expired. Go back to the application and start again.";

pub(crate) fn store_failure(e: &StoreError) -> Response {
    let unavailable = matches!(e, StoreError::Unavailable(_));
    tracing::error!(error = %e, "passkeys: store failure");
    let status = if unavailable { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::INTERNAL_SERVER_ERROR };
    json_error(status, "Sign-in is temporarily unavailable. Please try again in a moment.")
}

/// What a refused passkey is told.
pub(crate) const PASSKEY_REFUSED: &str = "That passkey could not be used to sign in. Try again, or another way.";

/// `POST /login/passkey`: the browser's answer. A right one starts the
/// session (passwordless: `amr` `hwk|swk user mfa`; after the password:
/// `pwd hwk|swk user mfa`; `acr` `phr`) and the flow goes on as after a
/// password; a wrong one shows the page again with the error, and counts
/// against the sign-in limits.
pub async fn finish(
    State(state): State<AuthorizeState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Result<Form<PasskeyForm>, FormRejection>,
) -> Result<Response, LoginError> {
    let address = latchkey_http::client_address(peer.ip(), &headers, &state.settings.trusted_proxies);
    let Form(form) = form.map_err(LoginError::Form)?;
    let state = &state;
    let Some(ctx) = state.passkeys() else {
        return Err(InteractionError::Expired.into());
    };
    let (flow, expected, binding) = load(state, &headers, &form).await?;
    let client_id = match &flow {
        Flow::Authorize { client, .. } => Some(client.client_id.clone()),
        _ => None,
    };
    let credential = if form.credential.len() > 16 * 1024 { "" } else { form.credential.as_str() };
    let check = passkeys::finish_sign_in(
        &ctx,
        &state.sign_in(),
        expected.as_ref(),
        &binding,
        &form.ceremony,
        credential,
        address,
        client_id.as_deref(),
    )
    .await?;
    let (user, used) = match check {
        PasskeyCheck::Accepted(user, used) => (*user, used),
        PasskeyCheck::Refused => return Ok(again(state, &headers, &flow, &form, PASSKEY_REFUSED, None).await?),
        PasskeyCheck::Throttled(refusal) => {
            let retry = refusal.retry_after(state.clock.now());
            return Ok(again(state, &headers, &flow, &form, refusal.limit.message(), Some(retry)).await?);
        }
    };
    match flow {
        Flow::Authorize { mut interaction, req, client } => {
            let second_step = interaction.stage == InteractionStage::SecondFactor;
            let (session, cookie) = if second_step {
                // After a first factor, or a step-up of the browser's session.
                let flow = (&user, &*client, &*req);
                match crate::complete_second_factor(state, &headers, flow, address, SecondFactor::Passkey(used)).await?
                {
                    Some(started) => started,
                    None => return Err(LoginError::SessionEnded),
                }
            } else {
                start_session(state, &headers, &user, Some(&client.client_id), address, SignInMethod::passkey(used))
                    .await?
            };
            let interaction_id = form.interaction.as_str();
            let mut res =
                crate::proceed_after_login(state, &client, *req, (session, user), &mut interaction, interaction_id)
                    .await
                    .unwrap_or_else(|e| LoginError::from(e).into_response());
            res.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(res)
        }
        Flow::AccountSecondFactor { interaction } => {
            let method = SignInMethod::first_and_second(vec!["pwd".into()], None, SecondFactor::Passkey(used));
            // One session per sign-in, however many tabs submit.
            if !state.interactions.delete_interaction(&interaction.id_hash).await? {
                return Ok(account::see_other(&state.path(account::PATH)));
            }
            account_session(state, &headers, &user, address, method).await
        }
        Flow::AccountPasswordless => {
            account_session(state, &headers, &user, address, SignInMethod::passkey(used)).await
        }
    }
}

async fn account_session(
    state: &AuthorizeState,
    headers: &HeaderMap,
    user: &User,
    address: std::net::IpAddr,
    method: SignInMethod,
) -> Result<Response, LoginError> {
    let (_, cookie) = start_session(state, headers, user, None, address, method).await?;
    let mut res = account::see_other(&state.path(account::PATH));
    res.headers_mut().append(header::SET_COOKIE, cookie);
    Ok(res)
}

/// The page the button was on, again, with `message` (and `Retry-After`
/// when throttled).
async fn again(
    state: &AuthorizeState,
    headers: &HeaderMap,
    flow: &Flow,
    form: &PasskeyForm,
    message: &str,
    retry_after: Option<u64>,
) -> Result<Response, StoreError> {
    let mut page = match flow {
        Flow::Authorize { interaction, req, client } => match interaction.stage {
            InteractionStage::SecondFactor => {
                crate::second_factor_page(state, client, req, &form.interaction, &form.csrf, Some(message), true)
            }
            _ => crate::login_page(
                state,
                client,
                req,
                &form.interaction,
                &form.csrf,
                "",
                Some(crate::pages::Text::verbatim(message)),
            ),
        },
        Flow::AccountSecondFactor { .. } => {
            account::code_page(state, &form.interaction, &form.csrf, Some(message), StatusCode::UNAUTHORIZED, true)
        }
        Flow::AccountPasswordless => account::sign_in_page(state, headers, "", Some(message), StatusCode::UNAUTHORIZED),
    };
    *page.status_mut() = StatusCode::UNAUTHORIZED;
    if let Some(retry) = retry_after {
        *page.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        page.headers_mut().insert(header::RETRY_AFTER, retry.into());
    }
    Ok(page)
}

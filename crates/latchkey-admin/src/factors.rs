//! `/users/{user_id}/factors`: a person's second factors (docs/mfa.md): the
//! authenticator app, recovery codes and passkeys, and removing all of them
//! for someone who lost their devices (as `latchkey user mfa reset`). The
//! domain operation records `mfa.removed` and `mfa.passkey_removed` with the
//! admin as actor; after it the password alone signs the person in until they set up
//! a factor again (or sign-in policy asks them to).

use std::net::SocketAddr;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use latchkey_core::User;
use latchkey_domain::mfa::{self, Factors};
use serde_json::Value;

use crate::clients::id_of;
use crate::{AdminError, AdminState, authorize, json};

/// Listing and removing never open a sealed secret, so no encryption key
/// or issuer name is needed.
fn factors(state: &AdminState) -> Factors<'_> {
    Factors { store: &*state.store, clock: &*state.clock, encryption_key: None, issuer_name: "" }
}

fn with_user(user: &User, mut body: Value) -> Value {
    if let Some(fields) = body.as_object_mut() {
        fields.insert("user_id".into(), user.id.clone().into());
    }
    body
}

pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user_id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "users:read").await?;
    let user = crate::users::find(&state, &id_of(user_id)?).await?;
    let status = mfa::status(&factors(&state), &user.id).await?;
    Ok(json(StatusCode::OK, &with_user(&user, status.to_json())))
}

pub(crate) async fn reset(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user_id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "users:write").await?;
    let user = crate::users::find(&state, &id_of(user_id)?).await?;
    let removed = mfa::reset(&factors(&state), &user.id, &caller.actor()).await?;
    Ok(json(StatusCode::OK, &with_user(&user, removed.to_json())))
}

//! `/users/{user_id}/consents`: the apps a person has granted, and cutting
//! one off: the consent is deleted and that client's refresh tokens and
//! outstanding access tokens for this person are revoked (as at `/account`).
//! Not paginated: one consent per app.

use std::net::SocketAddr;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::grant::Consent;
use serde_json::Value;

use crate::clients::id_of;
use crate::{AdminError, AdminState, audit, authorize, page};

fn consent_json(c: &Consent) -> Value {
    serde_json::json!({
        "client_id": c.client_id,
        "scope": c.scope.to_string(),
        "granted_at": c.granted_at,
        "updated_at": c.updated_at,
    })
}

pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user_id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "consents:read").await?;
    let user = crate::users::find(&state, &id_of(user_id)?).await?;
    let consents = state.store.list_user_consents(&user.id).await?;
    Ok(page(consents.iter().map(consent_json).collect(), None))
}

pub(crate) async fn revoke(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "consents:write").await?;
    let Path((user_id, client_id)) = ids.map_err(|e| AdminError::bad(e.body_text()))?;
    let now = state.clock.now();
    // As at /account: the grants go even if the consent was already gone.
    let revoked = latchkey_domain::consents::revoke_consent(&*state.store, &user_id, &client_id, now).await?;
    let families = revoked.families;
    if !revoked.found_anything() {
        return Err(AdminError::not_found(format!("user {user_id:?} has granted nothing to client {client_id:?}")));
    }
    let event =
        caller.event(now, "consent.revoked").subject(&user_id).client(&client_id).detail("families_revoked", families);
    audit(&state, event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

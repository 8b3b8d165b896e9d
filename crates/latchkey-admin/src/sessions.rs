//! `/users/{user_id}/sessions`: a person's active sessions, and ending one
//! (as signing out does: refresh tokens revoked per `sessions.end_revokes`,
//! clients notified over the back channel). Not paginated: a person's
//! unexpired sessions are few.

use std::net::SocketAddr;

use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::grant::Session;

use crate::clients::id_of;
use crate::{AdminError, AdminState, audit, authorize, page};

pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    user_id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "sessions:read").await?;
    let user = crate::users::find(&state, &id_of(user_id)?).await?;
    let sessions = state.store.list_user_sessions(&user.id, state.clock.now()).await?;
    Ok(page(sessions.iter().map(Session::summary_json).collect(), None))
}

pub(crate) async fn end(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "sessions:write").await?;
    let Path((user_id, sid)) = ids.map_err(|e| AdminError::bad(e.body_text()))?;
    let now = state.clock.now();
    let session = state
        .store
        .find_session_by_sid(&sid, now)
        .await?
        .filter(|s| s.auth.user_id == user_id)
        .ok_or_else(|| AdminError::not_found(format!("user {user_id:?} has no active session {sid:?}")))?;
    // The back-channel notices are delivered in the background.
    let ended =
        latchkey_domain::end_session(&*state.store, &state.notifier, state.end_revokes, &session.id_hash, now).await?;
    if ended.is_none() {
        return Err(AdminError::not_found(format!("user {user_id:?} has no active session {sid:?}")));
    }
    audit(&state, caller.event(now, "session.revoked").subject(&user_id).detail("sid", sid.as_str())).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

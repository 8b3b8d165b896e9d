//! `/keys`: the signing keys' public parts and lifecycle (never private
//! keys), rotation and retirement (as `latchkey keys rotate|retire`).

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use latchkey_store::StoredKey;
use serde::Deserialize;
use serde_json::Value;

use crate::clients::id_of;
use crate::{AdminError, AdminState, audit, authorize, json, optional_json_body, page};

fn key_json(k: &StoredKey) -> Value {
    serde_json::json!({
        "kid": k.kid,
        "alg": k.alg,
        "state": k.state,
        "public_jwk": serde_json::from_str::<Value>(&k.public_jwk).unwrap_or(Value::Null),
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retired_at": k.retired_at,
        "remove_after": k.remove_after,
    })
}

/// Every key, newest first (a handful: not paginated).
pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "keys:read").await?;
    let keys = state.store.list_keys().await?;
    Ok(page(keys.iter().map(key_json).collect(), None))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateBody {
    #[serde(default)]
    force: bool,
}

pub(crate) async fn rotate(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "keys:write").await?;
    let body: RotateBody = optional_json_body(&headers, body)?;
    let rotated = latchkey_domain::keys::rotate(&*state.store, &*state.clock, &state.keys, body.force).await?;
    for r in &rotated {
        let event = caller
            .event(state.clock.now(), "key.rotated")
            .subject(&r.active)
            .detail("next", r.next.as_str())
            .detail("alg", r.alg.as_str());
        audit(&state, event).await;
    }
    Ok(json(StatusCode::OK, &latchkey_domain::keys::rotation_json(&rotated)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetireBody {
    #[serde(default)]
    now: bool,
}

pub(crate) async fn retire(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    kid: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "keys:write").await?;
    let kid = id_of(kid)?;
    let body: RetireBody = optional_json_body(&headers, body)?;
    let message = latchkey_domain::keys::retire(&*state.store, &*state.clock, &state.keys, &kid, body.now).await?;
    audit(&state, caller.event(state.clock.now(), "key.retired").subject(&kid).detail("now", body.now)).await;
    Ok(json(StatusCode::OK, &serde_json::json!({"retired": kid, "removed": body.now, "message": message})))
}

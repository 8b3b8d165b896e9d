//! `/clients`: list, read, create, replace (PUT), delete, rotate the secret. Metadata is
//! validated by `ClientMetadata::validate`, exactly as the CLI and the
//! registration endpoint do; secrets are issued once and stored hashed.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::Client;
use latchkey_core::client::ClientSettings;
use latchkey_domain::clients::{self, Replaced};

use serde_json::{Map, Value};

use crate::{AdminError, AdminState, PageParams, audit, authorize, encode_cursor, json, json_body, page, query};

/// The client as the admin API shows it (never its secret or its hashes).
pub(crate) fn client_json(c: &Client) -> Value {
    let mut v = c.metadata_json();
    v["skip_consent"] = c.settings.skip_consent.into();
    v["dynamically_registered"] = c.settings.dynamically_registered.into();
    v["audiences"] = c.settings.audiences.clone().into();
    v["introspection"] = c.settings.introspection.into();
    v["require_mfa"] = c.settings.require_mfa.into();
    v["updated_at"] = c.updated_at.into();
    v
}

pub(crate) fn id_of(p: Result<Path<String>, PathRejection>) -> Result<String, AdminError> {
    p.map(|Path(id)| id).map_err(|e| AdminError::bad(e.body_text()))
}

pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "clients:read").await?;
    let (limit, after) = query(params)?.keyset()?;
    let clients = state.store.list_clients_page(after.as_ref().map(|(t, id)| (*t, id.as_str())), limit).await?;
    let next = match clients.last() {
        Some(last) if clients.len() == limit as usize => Some(encode_cursor(last.created_at, &last.client_id)),
        _ => None,
    };
    Ok(page(clients.iter().map(client_json).collect(), next))
}

async fn find(state: &AdminState, client_id: &str) -> Result<Client, AdminError> {
    state.store.get_client(client_id).await?.ok_or_else(|| AdminError::not_found(format!("no client {client_id:?}")))
}

pub(crate) async fn read(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    client_id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "clients:read").await?;
    let client = find(&state, &id_of(client_id)?).await?;
    Ok(json(StatusCode::OK, &client_json(&client)))
}

/// A client body checked as the CLI checks `latchkey client create`.
fn settings_of(state: &AdminState, body: Map<String, Value>) -> Result<ClientSettings, AdminError> {
    clients::settings_from_json(&state.policy, body).map_err(|e| AdminError::bad(e.to_string()))
}

pub(crate) async fn create(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "clients:write").await?;
    let body: Map<String, Value> = json_body(&headers, body)?;
    let settings = settings_of(&state, body)?;
    let now = state.clock.now();
    let (client, secret) =
        clients::create_client(&*state.store, settings, now, state.policy.client_secret_key.as_ref()).await?;
    let event = caller
        .event(now, "client.created")
        .subject(&client.client_id)
        .client(&client.client_id)
        .detail("client_name", client.settings.client_name.as_str());
    audit(&state, event).await;
    let mut body = client_json(&client);
    if let Some(secret) = secret {
        body["client_secret"] = secret.into();
    }
    Ok(json(StatusCode::CREATED, &body))
}

/// `PUT`: the body replaces the whole registration (members left out take
/// their defaults), checked as a new one. Moving to a secret method issues
/// a secret (returned once); moving away drops it; the secret stays otherwise.
pub(crate) async fn replace(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    client_id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "clients:write").await?;
    let client_id = id_of(client_id)?;
    let body: Map<String, Value> = json_body(&headers, body)?;
    let mut client = find(&state, &client_id).await?;
    let settings = settings_of(&state, body)?;
    let now = state.clock.now();
    let secret_key = state.policy.client_secret_key.as_ref();
    let Some(Replaced { new_secret }) =
        clients::operator_replace(&*state.store, &mut client, settings, now, secret_key).await?
    else {
        return Err(AdminError::not_found(format!("no client {client_id:?}")));
    };
    let event = caller.event(client.updated_at, "client.updated").subject(&client.client_id).client(&client.client_id);
    audit(&state, event).await;
    let mut body = client_json(&client);
    if let Some(secret) = new_secret {
        body["client_secret"] = secret.into();
    }
    Ok(json(StatusCode::OK, &body))
}

/// Issues a fresh secret (as `latchkey client rotate-secret`), returned in
/// this answer only; the old one stops working at once. Refused (409) for
/// clients without a secret.
pub(crate) async fn rotate_secret(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    client_id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "clients:write").await?;
    let client_id = id_of(client_id)?;
    let mut client = find(&state, &client_id).await?;
    let now = state.clock.now();
    let secret =
        clients::rotate_secret(&*state.store, &mut client, now, state.policy.client_secret_key.as_ref()).await?;
    let event = caller.event(now, "client.secret_rotated").subject(&client_id).client(&client_id);
    audit(&state, event).await;
    Ok(json(StatusCode::OK, &serde_json::json!({"client_id": client_id, "client_secret": secret})))
}

/// Deletes the client with its consents and refresh tokens (as `latchkey
/// client delete`); its access tokens stop validating with it.
pub(crate) async fn remove(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    client_id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "clients:write").await?;
    let client_id = id_of(client_id)?;
    if !clients::delete_client(&*state.store, &client_id).await? {
        return Err(AdminError::not_found(format!("no client {client_id:?}")));
    }
    let event = caller.event(state.clock.now(), "client.deleted").subject(&client_id).client(&client_id);
    audit(&state, event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

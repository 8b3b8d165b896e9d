//! `/users`: list, read, create (with an optional password, hashed with
//! Argon2id), update (PATCH: username, password, disabled, claims, groups),
//! delete; an account's sign-in lock: read and clear.
//! Password hashes are never returned.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_core::profile;
use latchkey_core::user::{validate_groups, validate_username};
use latchkey_core::{User, UserClaims};
use latchkey_domain::users::{self, NewUser, UserError};
use serde::Deserialize;
use serde_json::Value;

use crate::clients::id_of;
use crate::{AdminError, AdminState, PageParams, audit, authorize, encode_cursor, json, json_body, page, query};

pub(crate) fn user_json(u: &User) -> Value {
    serde_json::json!({
        "id": u.id,
        "username": u.username,
        "disabled": u.disabled,
        "has_password": u.password_hash.is_some(),
        "claims": profile::to_json(&u.claims),
        "groups": u.claims.groups,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    })
}

/// Claims as sent: the members of `profile::to_json`, each optional,
/// unknown members refused.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
struct ClaimsBody(serde_json::Map<String, Value>);

/// The rules of `latchkey user create` (`latchkey_core::profile`): checked,
/// normalised values, empty or `null` unset, verified flags only for values
/// that are set. Groups are a member of their own (`groups`), so they start
/// empty here.
fn checked_claims(body: ClaimsBody) -> Result<UserClaims, AdminError> {
    profile::from_json(&body.0).map_err(|e| AdminError::bad(e.to_string()))
}

fn checked_groups(groups: &[String]) -> Result<Vec<String>, AdminError> {
    validate_groups(groups).map_err(AdminError::bad)
}

fn checked_username(username: &str) -> Result<(), AdminError> {
    validate_username(username).map_err(|e| AdminError::bad(format!("username {e}")))
}

/// A domain refusal in the admin API's words; `id` names the user asked
/// for when it is gone.
fn user_error(e: UserError, id: &str) -> AdminError {
    match e {
        UserError::Taken(username) => AdminError::Conflict(format!("username {username:?} is taken")),
        UserError::NotFound(_) => AdminError::not_found(format!("no user {id:?}")),
        UserError::Policy(m) => AdminError::bad(m.to_string()),
        UserError::Hash(m) => AdminError::Internal(m),
        UserError::Store(e) => e.into(),
    }
}

pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "users:read").await?;
    let (limit, after) = query(params)?.keyset()?;
    let users = state.store.list_users_page(after.as_ref().map(|(t, id)| (*t, id.as_str())), limit).await?;
    let next = match users.last() {
        Some(last) if users.len() == limit as usize => Some(encode_cursor(last.created_at, &last.id)),
        _ => None,
    };
    Ok(page(users.iter().map(user_json).collect(), next))
}

pub(crate) async fn find(state: &AdminState, id: &str) -> Result<User, AdminError> {
    state.store.get_user(id).await?.ok_or_else(|| AdminError::not_found(format!("no user {id:?}")))
}

pub(crate) async fn read(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "users:read").await?;
    let user = find(&state, &id_of(id)?).await?;
    Ok(json(StatusCode::OK, &user_json(&user)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUserBody {
    username: String,
    password: Option<String>,
    #[serde(default)]
    disabled: bool,
    #[serde(default)]
    claims: ClaimsBody,
    #[serde(default)]
    groups: Vec<String>,
}

pub(crate) async fn create(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "users:write").await?;
    let body: NewUserBody = json_body(&headers, body)?;
    checked_username(&body.username)?;
    let mut claims = checked_claims(body.claims)?;
    claims.groups = checked_groups(&body.groups)?;
    let now = state.clock.now();
    let new = NewUser { username: body.username, password: body.password, disabled: body.disabled, claims };
    let user = users::create_user(&*state.store, new, now).await.map_err(|e| user_error(e, ""))?;
    audit(&state, caller.event(now, "user.created").subject(&user.id).detail("username", user.username.as_str())).await;
    Ok(json(StatusCode::CREATED, &user_json(&user)))
}

/// PATCH: members present are changed; `claims`, when present, replaces
/// every claim; `groups`, when present, replaces the groups (and only them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserPatch {
    username: Option<String>,
    password: Option<String>,
    disabled: Option<bool>,
    claims: Option<ClaimsBody>,
    groups: Option<Vec<String>>,
}

pub(crate) async fn update(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "users:write").await?;
    let id = id_of(id)?;
    let patch: UserPatch = json_body(&headers, body)?;
    let mut user = find(&state, &id).await?;
    let mut changed = Vec::new();
    if let Some(username) = patch.username {
        checked_username(&username)?;
        user.username = username;
        changed.push("username");
    }
    if let Some(claims) = patch.claims {
        user.claims = UserClaims { groups: std::mem::take(&mut user.claims.groups), ..checked_claims(claims)? };
        changed.push("claims");
    }
    if let Some(groups) = patch.groups {
        user.claims.groups = checked_groups(&groups)?;
        changed.push("groups");
    }
    if let Some(disabled) = patch.disabled {
        user.disabled = disabled;
        changed.push("disabled");
    }
    if let Some(p) = patch.password {
        user.password_hash = Some(users::hash_password(p).await.map_err(|e| user_error(e, &id))?);
        changed.push("password");
    }
    users::save_user(&*state.store, &mut user, state.clock.now()).await.map_err(|e| user_error(e, &id))?;
    let event = caller.event(user.updated_at, "user.updated").subject(&user.id).detail("changed", changed);
    audit(&state, event).await;
    Ok(json(StatusCode::OK, &user_json(&user)))
}

pub(crate) async fn remove(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "users:write").await?;
    let id = id_of(id)?;
    if !users::delete_user(&*state.store, &id).await.map_err(|e| user_error(e, &id))? {
        return Err(AdminError::not_found(format!("no user {id:?}")));
    }
    audit(&state, caller.event(state.clock.now(), "user.deleted").subject(&id)).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /users/{user_id}/lock`: the account's failed sign-ins and lock.
pub(crate) async fn lock(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "users:read").await?;
    let user = find(&state, &id_of(id)?).await?;
    let lock = users::sign_in_lock(&*state.store, &user, state.clock.now()).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "user_id": user.id,
            "locked": lock.locked(),
            "locked_until": lock.locked_until,
            "failures": lock.failures,
        }),
    ))
}

/// `DELETE /users/{user_id}/lock`: forgets the account's failed sign-ins,
/// which ends its lock (as `latchkey user unlock`).
pub(crate) async fn unlock(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "users:write").await?;
    let user = find(&state, &id_of(id)?).await?;
    let now = state.clock.now();
    let cleared = users::unlock(&*state.store, &user, now).await?;
    let (was_locked, failures) = (cleared.locked(), cleared.failures);
    let event = caller
        .event(now, "user.unlocked")
        .subject(&user.id)
        .detail("was_locked", was_locked)
        .detail("failures_cleared", failures);
    audit(&state, event).await;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({"user_id": user.id, "was_locked": was_locked, "failures_cleared": failures}),
    ))
}

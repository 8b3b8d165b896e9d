//! The admin API (docs/admin-api.md): JSON over HTTP under `/admin/api/v1`
//! for operators' tools: clients, users, their consents, sessions and second
//! factors, signing keys and the audit log. Callers present an admin API token
//! (`latchkey admin token create`) as a bearer token; each route needs one
//! scope. The OpenAPI 3.1 description (`openapi.json`, served at
//! `/admin/api/v1/openapi.json`) documents exactly these routes.
//!
//! Writes go through the store the server assembled (with its caches), so
//! the change feed tells every replica; every write is an audit event with
//! the actor `admin:<token id>`.

mod audit;
mod clients;
mod consents;
mod error;
mod factors;
mod invitations;
mod keys;
mod sessions;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, DefaultBodyLimit, FromRef, Query};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::audit::AuditEvent;
use latchkey_core::secret::hash_token;
use latchkey_core::{Clock, RegistrationPolicy};
use latchkey_store::{AdminToken, Store};
use serde::de::DeserializeOwned;

pub use error::AdminError;

/// Where the API lives.
pub const BASE: &str = "/admin/api/v1";

/// The OpenAPI 3.1 description of every route below.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Every scope an admin token can carry. A `:write` scope does not imply
/// `:read`: a token that creates clients and reads them back needs both.
pub const SCOPES: &[&str] = &[
    "clients:read",
    "clients:write",
    "users:read",
    "users:write",
    "consents:read",
    "consents:write",
    "sessions:read",
    "sessions:write",
    "keys:read",
    "keys:write",
    "audit:read",
];

/// The prefix of every admin token (recognisable in logs and secret scanners).
pub const TOKEN_PREFIX: &str = "lka_";

/// A new admin token: its value (shown once) and what is stored.
pub fn new_token(name: &str, scopes: Vec<String>, now: i64, expires_at: Option<i64>) -> (String, AdminToken) {
    let value = format!("{TOKEN_PREFIX}{}", latchkey_core::random::token(32));
    let token = AdminToken {
        id: format!("at_{}", hex_id()),
        name: name.to_string(),
        token_hash: hash_token(&value),
        scopes,
        created_at: now,
        expires_at,
        last_used_at: None,
    };
    (value, token)
}

/// 64 random bits as lowercase hex (ids that are safe in paths and shells).
fn hex_id() -> String {
    let raw = URL_SAFE_NO_PAD.decode(latchkey_core::random::token(8)).expect("our own base64");
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the admin API needs.
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<dyn Store>,
    /// What rotating and retiring signing keys needs of the configuration.
    pub keys: latchkey_domain::keys::KeySettings,
    /// Ending a session as signing out does: its refresh tokens revoked as
    /// `sessions.end_revokes` says, its clients told over the back channel.
    pub notifier: Arc<latchkey_domain::BackchannelNotifier>,
    pub end_revokes: latchkey_domain::EndRevokes,
    pub clock: Arc<dyn Clock>,
    /// The redirect-URI rules clients created here follow (as the CLI's).
    pub policy: RegistrationPolicy,
    pub trusted_proxies: Arc<[latchkey_http::IpRange]>,
    /// What invitations need: the sign-up settings, where links point, and
    /// the outbox (`None` without email).
    pub invitations: Arc<invitations::InvitationSettings>,
}

pub use invitations::InvitationSettings;

/// The admin routes, at `/admin/api/v1/...`.
pub fn router<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    AdminState: FromRef<S>,
{
    let path = |p: &str| format!("{BASE}{p}");
    Router::new()
        .route(&path("/openapi.json"), get(openapi))
        .route(&path("/clients"), get(clients::list).post(clients::create))
        .route(&path("/clients/{client_id}"), get(clients::read).put(clients::replace).delete(clients::remove))
        .route(&path("/clients/{client_id}/secret"), post(clients::rotate_secret))
        .route(&path("/users"), get(users::list).post(users::create))
        .route(&path("/users/{user_id}"), get(users::read).patch(users::update).delete(users::remove))
        .route(&path("/users/{user_id}/consents"), get(consents::list))
        .route(&path("/users/{user_id}/consents/{client_id}"), delete(consents::revoke))
        .route(&path("/users/{user_id}/sessions"), get(sessions::list))
        .route(&path("/users/{user_id}/sessions/{sid}"), delete(sessions::end))
        .route(&path("/users/{user_id}/lock"), get(users::lock).delete(users::unlock))
        .route(&path("/users/{user_id}/factors"), get(factors::list))
        .route(&path("/users/{user_id}/factors/reset"), post(factors::reset))
        .route(&path("/keys"), get(keys::list))
        .route(&path("/keys/rotate"), post(keys::rotate))
        .route(&path("/keys/{kid}/retire"), post(keys::retire))
        .route(&path("/audit-events"), get(audit::list))
        .route(&path("/invitations"), get(invitations::list).post(invitations::create))
        .route(&path("/invitations/{invitation_id}"), delete(invitations::revoke))
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// The caller, once its token was checked for `scope`.
pub(crate) struct Caller {
    pub token: AdminToken,
    pub ip: std::net::IpAddr,
}

impl Caller {
    /// The audit log's name for this caller.
    pub fn actor(&self) -> String {
        format!("admin:{}", self.token.id)
    }

    /// An audit event done by this caller.
    pub fn event(&self, now: i64, kind: &str) -> AuditEvent {
        AuditEvent::new(now, kind, self.actor()).ip(self.ip).detail("via", "admin API")
    }
}

/// Uses are recorded at most once a minute per token.
const TOUCH_EVERY: i64 = 60;

/// Checks the bearer token and its scope.
pub(crate) async fn authorize(
    state: &AdminState,
    peer: &ConnectInfo<SocketAddr>,
    headers: &HeaderMap,
    scope: &'static str,
) -> Result<Caller, AdminError> {
    let presented = match latchkey_http::bearer_token(headers) {
        Some(token) => token,
        None if headers.contains_key(header::AUTHORIZATION) => return Err(AdminError::Unauthorized),
        None => return Err(AdminError::NoToken),
    };
    let token = state.store.find_admin_token(&hash_token(presented)).await?.ok_or(AdminError::Unauthorized)?;
    let now = state.clock.now();
    if token.expires_at.is_some_and(|exp| exp <= now) {
        return Err(AdminError::Unauthorized);
    }
    if !token.scopes.iter().any(|s| s == scope) {
        return Err(AdminError::InsufficientScope(scope));
    }
    if token.last_used_at.is_none_or(|at| now - at >= TOUCH_EVERY)
        && let Err(e) = state.store.touch_admin_token(&token.id, now).await
    {
        tracing::warn!(error = %e, "cannot record the use of an admin token");
    }
    let ip = latchkey_http::client_address(peer.0.ip(), headers, &state.trusted_proxies);
    Ok(Caller { token, ip })
}

/// A JSON request body, parsed into `T` (whose unknown members are refused).
pub(crate) fn json_body<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, AdminError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE { AdminError::TooLarge } else { AdminError::bad(e.body_text()) }
    })?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(AdminError::bad("the content type must be application/json"));
    }
    serde_json::from_slice(&body).map_err(|e| AdminError::bad(format!("invalid JSON body: {e}")))
}

/// An optional JSON body: empty means `T::default()`.
pub(crate) fn optional_json_body<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<T, AdminError> {
    match &body {
        Ok(b) if b.is_empty() => Ok(T::default()),
        _ => json_body(headers, body),
    }
}

/// Query parameters, parsed into `T`.
pub(crate) fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, AdminError> {
    q.map(|Query(t)| t).map_err(|e| AdminError::bad(format!("invalid query parameters: {}", e.body_text())))
}

/// `?limit=&cursor=` of the paginated listings.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PageParams {
    limit: Option<u32>,
    cursor: Option<String>,
}

pub(crate) const DEFAULT_LIMIT: u32 = 50;
pub(crate) const MAX_LIMIT: u32 = 500;

pub(crate) fn check_limit(limit: Option<u32>) -> Result<u32, AdminError> {
    match limit.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(AdminError::bad(format!("limit must be between 1 and {MAX_LIMIT}"))),
    }
}

impl PageParams {
    /// The limit and the `(created_at, id)` the page starts after.
    pub fn keyset(self) -> Result<(u32, Option<(i64, String)>), AdminError> {
        let limit = check_limit(self.limit)?;
        let after = self.cursor.as_deref().map(decode_cursor).transpose()?;
        Ok((limit, after))
    }
}

/// Cursors are opaque to callers: base64url of `created_at.id`.
pub(crate) fn encode_cursor(created_at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{created_at}.{id}"))
}

fn decode_cursor(cursor: &str) -> Result<(i64, String), AdminError> {
    let bad = || AdminError::bad("cursor is not one this API returned");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (at, id) = text.split_once('.').ok_or_else(bad)?;
    Ok((at.parse().map_err(|_| bad())?, id.to_string()))
}

/// A page of a listing: `next_cursor` is set when more may follow.
pub(crate) fn page(items: Vec<serde_json::Value>, next_cursor: Option<String>) -> Response {
    json(StatusCode::OK, &serde_json::json!({"items": items, "next_cursor": next_cursor}))
}

pub(crate) fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    latchkey_http::json_no_store(status, body)
}

/// Records an audit event.
pub(crate) async fn audit(state: &AdminState, event: AuditEvent) {
    latchkey_http::audit(state.store.as_ref(), event).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let c = encode_cursor(1_700_000_000, "abc.def");
        assert_eq!(decode_cursor(&c).unwrap(), (1_700_000_000, "abc.def".to_string()));
        for bad in ["", "!!", "bm9kb3Q", &URL_SAFE_NO_PAD.encode("x.y")] {
            assert!(decode_cursor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_prefixed_and_stored_hashed() {
        let (value, token) = new_token("ci", vec!["clients:read".into()], 10, None);
        assert!(value.starts_with(TOKEN_PREFIX) && value.len() > 40);
        assert_eq!(token.token_hash, hash_token(&value));
        assert!(token.id.starts_with("at_") && token.id.len() == 19);
    }

    /// Every route of the router appears in the OpenAPI file, with its methods, and nothing else does.
    #[test]
    fn openapi_describes_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json parses");
        assert_eq!(doc["openapi"].as_str().map(|v| &v[..4]), Some("3.1."));
        let paths = doc["paths"].as_object().expect("paths");
        let expected: &[(&str, &[&str])] = &[
            ("/openapi.json", &["get"]),
            ("/clients", &["get", "post"]),
            ("/clients/{client_id}", &["get", "put", "delete"]),
            ("/clients/{client_id}/secret", &["post"]),
            ("/users", &["get", "post"]),
            ("/users/{user_id}", &["get", "patch", "delete"]),
            ("/users/{user_id}/consents", &["get"]),
            ("/users/{user_id}/consents/{client_id}", &["delete"]),
            ("/users/{user_id}/sessions", &["get"]),
            ("/users/{user_id}/sessions/{sid}", &["delete"]),
            ("/users/{user_id}/lock", &["get", "delete"]),
            ("/users/{user_id}/factors", &["get"]),
            ("/users/{user_id}/factors/reset", &["post"]),
            ("/keys", &["get"]),
            ("/keys/rotate", &["post"]),
            ("/keys/{kid}/retire", &["post"]),
            ("/audit-events", &["get"]),
            ("/invitations", &["get", "post"]),
            ("/invitations/{invitation_id}", &["delete"]),
        ];
        let documented: Vec<(String, Vec<String>)> = paths
            .iter()
            .map(|(p, item)| {
                let mut methods: Vec<String> = item
                    .as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| ["get", "put", "post", "patch", "delete"].contains(&k.as_str()))
                    .cloned()
                    .collect();
                methods.sort();
                (p.clone(), methods)
            })
            .collect();
        let mut want: Vec<(String, Vec<String>)> = expected
            .iter()
            .map(|(p, m)| {
                let mut m: Vec<String> = m.iter().map(|s| s.to_string()).collect();
                m.sort();
                (p.to_string(), m)
            })
            .collect();
        want.sort();
        let mut documented = documented;
        documented.sort();
        assert_eq!(documented, want);
        assert_eq!(doc["servers"][0]["url"], BASE);
        // tests/tests/admin_api.rs sends a request to every documented
        // route and method and checks that the router answers it.
    }
}

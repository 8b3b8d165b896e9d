//! `/audit-events`: the audit log, oldest first, filtered by kind and
//! subject, paged by event id.

use std::net::SocketAddr;

use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use latchkey_store::AuditQuery;
use serde::Deserialize;

use crate::{AdminError, AdminState, authorize, check_limit, page, query};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Events after this id (the same as a cursor, by event id).
    after: Option<i64>,
    kind: Option<String>,
    subject: Option<String>,
}

pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "audit:read").await?;
    let p = query(params)?;
    let limit = check_limit(p.limit)?;
    let after = match (p.cursor, p.after) {
        (Some(_), Some(_)) => return Err(AdminError::bad("send cursor or after, not both")),
        (Some(c), None) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| AdminError::bad("cursor is not one this API returned"))?,
        (None, Some(a)) if a >= 0 => a,
        (None, Some(_)) => return Err(AdminError::bad("after must not be negative")),
        (None, None) => 0,
    };
    let events = state
        .store
        .list_audit(&AuditQuery { after, limit, kind: p.kind, subject: p.subject, ..Default::default() })
        .await?;
    let next = match events.last() {
        Some((id, _)) if events.len() == limit as usize => Some(id.to_string()),
        _ => None,
    };
    let items = events
        .into_iter()
        .map(|(id, e)| {
            serde_json::json!({
                "id": id,
                "at": e.at,
                "kind": e.kind,
                "actor": e.actor,
                "subject": e.subject,
                "client_id": e.client_id,
                "ip": e.ip,
                "details": e.details,
            })
        })
        .collect();
    Ok(page(items, next))
}

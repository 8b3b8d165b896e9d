//! `/admin`: how the server is doing at a glance: counts of users, clients
//! and active sessions, sign-ins and failures over the last 24 hours (from
//! the audit log), the signing keys' ages, and the health of the stores.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_store::{AuditQuery, KeyState};

use crate::page::{Layout, Nav, Page, age, render, store_failed};
use crate::{Admin, ConsoleState};

/// Audit events counted per kind, at most (the dashboard says "or more").
const COUNT_CAP: u32 = 10_000;

pub(crate) struct KeyAge {
    pub kid: String,
    pub alg: String,
    pub state: &'static str,
    pub age: String,
}

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    users: usize,
    clients: usize,
    sessions: usize,
    sign_ins: String,
    failures: String,
    keys: Vec<KeyAge>,
    health: Vec<(&'static str, &'static str)>,
}

/// Events of `kind` in the last 24 hours ("10000 or more" past the cap).
async fn count_last_day(state: &ConsoleState, kind: &str, now: i64) -> Result<String, latchkey_store::StoreError> {
    let query =
        AuditQuery { limit: COUNT_CAP, kind: Some(kind.into()), since: Some(now - 86_400), ..Default::default() };
    let n = state.store.list_audit(&query).await?.len();
    Ok(if n as u32 >= COUNT_CAP { format!("{n} or more") } else { n.to_string() })
}

pub(crate) async fn show(State(state): State<ConsoleState>, admin: Admin) -> Page {
    let failed = |e| store_failed(&state, e);
    let now = state.clock.now();
    let users = state.store.list_users().await.map_err(failed)?;
    let clients = state.store.list_clients().await.map_err(failed)?;
    // Active sessions: per person (the store indexes sessions by person, in
    // SQL and in Redis alike).
    let mut sessions = 0;
    for user in &users {
        sessions += state.store.list_user_sessions(&user.id, now).await.map_err(failed)?.len();
    }
    let sign_ins = count_last_day(&state, "login.success", now).await.map_err(failed)?;
    let failures = count_last_day(&state, "login.failure", now).await.map_err(failed)?;
    let keys = state
        .store
        .list_keys()
        .await
        .map_err(failed)?
        .into_iter()
        .filter(|k| k.state != KeyState::Retired)
        .map(|k| KeyAge { kid: k.kid, alg: k.alg, state: k.state.as_str(), age: age(now - k.created_at) })
        .collect();
    let page = DashboardPage {
        layout: Layout::new(&state, &admin, Nav::Dashboard),
        users: users.len(),
        clients: clients.len(),
        sessions,
        sign_ins,
        failures,
        keys,
        health: (state.health)(),
    };
    Ok(render(&state, StatusCode::OK, &page))
}

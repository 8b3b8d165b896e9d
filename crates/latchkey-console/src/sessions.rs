//! `/admin/sessions`: a person's active sessions (found by username or
//! id), ending one or all of them as signing out does (refresh tokens per
//! `sessions.end_revokes`, clients told over the back channel); without a
//! person, who has sessions at all.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::User;
use serde::Deserialize;

use crate::page::{Flash, Layout, Nav, Page, Pager, paginate, query_string, render, store_failed, when};
use crate::session::redirect_with;
use crate::{Action, Admin, ConsoleState, Posted, record};

pub(crate) struct SessionRow {
    pub sid: String,
    pub started: String,
    pub last_seen: String,
    pub expires: String,
    pub methods: String,
    pub clients: String,
    /// The session this console runs in.
    pub current: bool,
}

impl SessionRow {
    /// `session` as listed to an admin whose console runs in `admin_sid`.
    pub(crate) fn of(session: latchkey_core::grant::Session, admin_sid: &str) -> Self {
        SessionRow {
            current: session.auth.sid == admin_sid,
            sid: session.auth.sid,
            started: when(session.created_at),
            last_seen: when(session.last_seen_at),
            expires: when(session.expires_at),
            methods: session.auth.amr.join(", "),
            clients: session.client_ids.join(", "),
        }
    }
}

pub(crate) struct PersonRow {
    pub username: String,
    pub sessions: usize,
}

#[derive(Template)]
#[template(path = "console/sessions.html")]
struct SessionsPage {
    layout: Layout,
    may_end: bool,
    query: String,
    /// The person looked up, if found.
    user: Option<User>,
    not_found: bool,
    sessions: Vec<SessionRow>,
    people: Vec<PersonRow>,
    pager: Pager,
}

#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    user: Option<String>,
    page: Option<usize>,
}

/// A person by username, else by id.
pub(crate) async fn find_user(state: &ConsoleState, name_or_id: &str) -> Result<Option<User>, Response> {
    let failed = |e| store_failed(state, e);
    if let Some(user) = state.store.find_user_by_username(name_or_id).await.map_err(failed)? {
        return Ok(Some(user));
    }
    state.store.get_user(name_or_id).await.map_err(failed)
}

pub(crate) async fn show(
    State(state): State<ConsoleState>,
    admin: Admin,
    query: Result<Query<ShowQuery>, QueryRejection>,
) -> Page {
    let failed = |e| store_failed(&state, e);
    let query = query.map(|Query(q)| q).unwrap_or(ShowQuery { user: None, page: None });
    let wanted = query.user.as_deref().map(str::trim).unwrap_or_default().to_string();
    let now = state.clock.now();
    let mut page = SessionsPage {
        layout: Layout::new(&state, &admin, Nav::Sessions),
        may_end: admin.may(Action::AccountSupport),
        query: wanted.clone(),
        user: None,
        not_found: false,
        sessions: Vec::new(),
        people: Vec::new(),
        pager: Pager::default(),
    };
    if wanted.is_empty() {
        let mut people = Vec::new();
        for user in state.store.list_users().await.map_err(failed)? {
            let n = state.store.list_user_sessions(&user.id, now).await.map_err(failed)?.len();
            if n > 0 {
                people.push(PersonRow { username: user.username, sessions: n });
            }
        }
        people.sort_by(|a, b| b.sessions.cmp(&a.sessions).then_with(|| a.username.cmp(&b.username)));
        let (shown, pager) = paginate(people, query.page.unwrap_or(1), |p| format!("/admin/sessions?page={p}"));
        page.people = shown;
        page.pager = pager;
    } else if let Some(user) = find_user(&state, &wanted).await? {
        page.sessions = state
            .store
            .list_user_sessions(&user.id, now)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|s| SessionRow::of(s, &admin.sid))
            .collect();
        page.user = Some(user);
    } else {
        page.not_found = true;
    }
    Ok(render(&state, StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
pub(crate) struct EndForm {
    user_id: String,
    /// One session; absent for "end all".
    sid: Option<String>,
}

fn back(user: &str) -> String {
    format!("/admin/sessions{}", query_string(&[("user", user)]))
}

/// Ends one session of a person.
pub(crate) async fn end(State(state): State<ConsoleState>, Posted { admin, form }: Posted<EndForm>) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let failed = |e| store_failed(&state, e);
    let now = state.clock.now();
    let sid = form.sid.unwrap_or_default();
    let session =
        state.store.find_session_by_sid(&sid, now).await.map_err(failed)?.filter(|s| s.auth.user_id == form.user_id);
    let Some(session) = session else {
        return Ok(redirect_with(&state, &back(&form.user_id), Flash::error("That session has already ended.")));
    };
    let ended = latchkey_domain::end_session(&*state.store, &state.notifier, state.end_revokes, &session.id_hash, now)
        .await
        .map_err(failed)?;
    if ended.is_some() {
        record(&state, admin.event(now, "session.revoked").subject(&form.user_id).detail("sid", sid.as_str())).await;
    }
    let username = username_of(&state, &form.user_id).await;
    Ok(redirect_with(&state, &back(&username), Flash::ok(format!("Ended session {sid}."))))
}

/// Ends every session of a person.
pub(crate) async fn end_all(State(state): State<ConsoleState>, Posted { admin, form }: Posted<EndForm>) -> Page {
    admin.require(&state, Action::AccountSupport)?;
    let failed = |e| store_failed(&state, e);
    let now = state.clock.now();
    let sessions = state.store.list_user_sessions(&form.user_id, now).await.map_err(failed)?;
    let mut ended = 0;
    for session in sessions {
        let done =
            latchkey_domain::end_session(&*state.store, &state.notifier, state.end_revokes, &session.id_hash, now)
                .await
                .map_err(failed)?;
        if done.is_some() {
            ended += 1;
            let event =
                admin.event(now, "session.revoked").subject(&form.user_id).detail("sid", session.auth.sid.as_str());
            record(&state, event).await;
        }
    }
    let username = username_of(&state, &form.user_id).await;
    let text = match ended {
        1 => "Ended 1 session.".to_string(),
        n => format!("Ended {n} sessions."),
    };
    Ok(redirect_with(&state, &back(&username), Flash::ok(text)))
}

/// For the link back: the username, or the id if the person is gone.
async fn username_of(state: &ConsoleState, user_id: &str) -> String {
    match state.store.get_user(user_id).await {
        Ok(Some(user)) => user.username,
        _ => user_id.to_string(),
    }
}

//! `/admin/keys`: the signing keys with their states and dates; rotating
//! (refused while the next key is younger than `keys.min_publish_seconds`,
//! with the reason shown, unless forced) and retiring, through the same
//! operations as `latchkey keys rotate|retire` and the admin API.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use latchkey_domain::keys::KeyOpError;
use serde::Deserialize;

use crate::page::{Flash, Layout, Nav, Page, age, render, store_failed, when};
use crate::session::redirect_with;
use crate::{Action, Admin, ConsoleState, Posted, record};

const BACK: &str = "/admin/keys";

pub(crate) struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub state: &'static str,
    pub created: String,
    pub age: String,
    pub activated: String,
    pub retired: String,
    pub remove_after: String,
    /// Retiring is offered (not the signing key).
    pub retirable: bool,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    layout: Layout,
    may_manage: bool,
    keys: Vec<KeyRow>,
    min_publish: String,
    grace: String,
}

pub(crate) async fn show(State(state): State<ConsoleState>, admin: Admin) -> Page {
    let now = state.clock.now();
    let keys = state.store.list_keys().await.map_err(|e| store_failed(&state, e))?;
    let opt = |t: Option<i64>| t.map(when).unwrap_or_default();
    let rows = keys
        .into_iter()
        .map(|k| KeyRow {
            retirable: k.state != latchkey_store::KeyState::Active,
            state: k.state.as_str(),
            created: when(k.created_at),
            age: age(now - k.created_at),
            activated: opt(k.activated_at),
            retired: opt(k.retired_at),
            remove_after: opt(k.remove_after),
            kid: k.kid,
            alg: k.alg,
        })
        .collect();
    let page = KeysPage {
        layout: Layout::new(&state, &admin, Nav::Keys),
        may_manage: admin.may(Action::ManageKeys),
        keys: rows,
        min_publish: age(state.key_settings.min_publish_seconds),
        grace: age(state.key_settings.retired_grace_seconds),
    };
    Ok(render(&state, StatusCode::OK, &page))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RotateForm {
    /// "on" when the box is ticked.
    force: Option<String>,
}

/// Words for a refused or failed key operation.
fn refusal(state: &ConsoleState, e: KeyOpError) -> Result<Flash, axum::response::Response> {
    match e {
        KeyOpError::Store(e) => Err(store_failed(state, e)),
        KeyOpError::Refused(why) => Ok(Flash::error(format!(
            "Refused: {}",
            why.replace("pass --force", "tick \"even if\"").replace("pass --now", "tick \"now\"")
        ))),
        KeyOpError::UnknownKey(kid) => Ok(Flash::error(format!("There is no key {kid}."))),
        KeyOpError::Key(e) => {
            tracing::error!(error = %e, "console: key operation failed");
            Ok(Flash::error("The key operation failed; the server's log says why."))
        }
    }
}

pub(crate) async fn rotate(State(state): State<ConsoleState>, Posted { admin, form }: Posted<RotateForm>) -> Page {
    admin.require(&state, Action::ManageKeys)?;
    let force = form.force.is_some();
    let flash = match latchkey_domain::keys::rotate(&*state.store, &*state.clock, &state.key_settings, force).await {
        Ok(rotated) => {
            for r in &rotated {
                let event = admin
                    .event(state.clock.now(), "key.rotated")
                    .subject(&r.active)
                    .detail("next", r.next.as_str())
                    .detail("alg", r.alg.as_str())
                    .detail("forced", force);
                record(&state, event).await;
            }
            let signing: Vec<String> = rotated.iter().map(|r| format!("{} ({})", r.active, r.alg)).collect();
            Flash::ok(format!("Rotated. Now signing with {}.", signing.join(", ")))
        }
        Err(e) => refusal(&state, e)?,
    };
    Ok(redirect_with(&state, BACK, flash))
}

#[derive(Debug, Deserialize)]
pub(crate) struct RetireForm {
    kid: String,
    /// "on": stop publishing it at once (after a compromise).
    now: Option<String>,
}

pub(crate) async fn retire(State(state): State<ConsoleState>, Posted { admin, form }: Posted<RetireForm>) -> Page {
    admin.require(&state, Action::ManageKeys)?;
    let now = form.now.is_some();
    let flash =
        match latchkey_domain::keys::retire(&*state.store, &*state.clock, &state.key_settings, &form.kid, now).await {
            Ok(message) => {
                let event = admin.event(state.clock.now(), "key.retired").subject(&form.kid).detail("now", now);
                record(&state, event).await;
                Flash::ok(format!("Done: {message}."))
            }
            Err(e) => refusal(&state, e)?,
        };
    Ok(redirect_with(&state, BACK, flash))
}

//! `/invitations`: invitations to create an account (as `latchkey invite
//! create|list|revoke`; docs/self-service.md). The link is in the answer to
//! the POST only (its token is stored hashed), and emailed when asked and
//! email is configured. Scopes: `users:read` to list, `users:write` to
//! create and revoke.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use latchkey_domain::self_service::Mail;
use latchkey_domain::signup::{self as ops, InviteError, NewInvitation, Signups};
use serde::Deserialize;

use crate::clients::id_of;
use crate::{AdminError, AdminState, authorize, json, json_body, page};

/// What invitations need besides the store.
pub struct InvitationSettings {
    pub signup: latchkey_config::Signup,
    pub email: latchkey_config::Email,
    pub issuer: String,
    pub product: String,
    pub outbox: Option<Arc<latchkey_email::Outbox>>,
    /// The operator's email templates (`ui.templates_dir`), if any.
    pub email_templates: Option<Arc<latchkey_email::Overrides>>,
}

fn signups(state: &AdminState) -> Signups<'_> {
    let s = &*state.invitations;
    let mail = s.outbox.as_deref().map(|outbox| Mail {
        store: &*state.store,
        outbox,
        clock: &*state.clock,
        settings: &s.email,
        issuer: &s.issuer,
        product: &s.product,
        // Unused here: an invitation's email speaks the invitation's own language.
        lang: latchkey_email::messages::Language::En,
        overrides: s.email_templates.as_deref(),
    });
    Signups { store: &*state.store, clock: &*state.clock, settings: &s.signup, mail, issuer: &s.issuer }
}

/// Every invitation not yet accepted or revoked, oldest first (expired
/// ones too, marked): not paginated, they are few.
pub(crate) async fn list(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    authorize(&state, &peer, &headers, "users:read").await?;
    let now = state.clock.now();
    let list = state.store.list_invitations().await?;
    Ok(page(list.iter().map(|i| ops::invitation_summary(i, now)).collect(), None))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    email: String,
    #[serde(default)]
    groups: Vec<String>,
    /// Seconds; `signup.invitation_ttl_seconds` when absent.
    expires_in: Option<i64>,
    /// Email the link (when email is configured); default true.
    #[serde(default = "yes")]
    send_email: bool,
    /// The email's language ("en", "de", "fr"); English when absent.
    locale: Option<String>,
}

fn yes() -> bool {
    true
}

pub(crate) async fn create(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "users:write").await?;
    let body: CreateBody = json_body(&headers, body)?;
    let locale = match body.locale.as_deref() {
        None => None,
        Some(tag) => Some(
            latchkey_email::messages::Language::ALL
                .into_iter()
                .find(|l| l.tag() == tag)
                .ok_or_else(|| AdminError::bad("locale must be one of \"en\", \"de\", \"fr\""))?,
        ),
    };
    let new = NewInvitation {
        email: body.email,
        groups: body.groups,
        expires_in: body.expires_in,
        send: body.send_email,
        created_by: caller.actor(),
        locale,
    };
    let invited = match ops::create_invitation(&signups(&state), new).await {
        Ok(invited) => invited,
        Err(InviteError::Invalid(why)) => return Err(AdminError::bad(why)),
        Err(InviteError::Store(e)) => return Err(e.into()),
    };
    let mut out = ops::invitation_summary(&invited.invitation, state.clock.now());
    out["link"] = invited.link.into();
    out["emailed"] = invited.emailed.into();
    Ok(json(StatusCode::CREATED, &out))
}

pub(crate) async fn revoke(
    State(state): State<AdminState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, AdminError> {
    let caller = authorize(&state, &peer, &headers, "users:write").await?;
    let id = id_of(id)?;
    if !ops::revoke_invitation(&signups(&state), &id, &caller.actor()).await? {
        return Err(AdminError::not_found(format!("no invitation {id:?}")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

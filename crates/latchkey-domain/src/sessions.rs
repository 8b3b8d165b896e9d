//! Starting a session (a person proved who they are), and ending one: signing out, an idle session found, a new sign-in in
//! the same browser, the person at `/account`, an operator (admin API or
//! `latchkey session revoke`) — all the same operation.

use latchkey_core::grant::{Authentication, Session};
use latchkey_core::random;
use latchkey_core::secret::hash_token;
use latchkey_store::cascade::Revocations;
use latchkey_store::{Store, StoreResult};

use crate::backchannel::BackchannelNotifier;

/// Which refresh tokens end with a session (`sessions.end_revokes`).
pub use latchkey_config::EndRevokes;

/// A session that was ended, and the delivery of its back-channel logout
/// tokens (done when every client has its token or gave up). Dropping the
/// handle leaves the deliveries running.
pub struct EndedSession {
    pub session: Session,
    pub delivery: tokio::task::JoinHandle<()>,
}

/// Ends a session everywhere: deletes it, revokes its refresh-token
/// families as `end_revokes` says, and notifies its clients over the back
/// channel. None if there was no such session (already ended).
///
/// The session goes first, on its own: where sessions live apart from
/// refresh tokens (Redis), an outage of the database must not keep a person
/// signed in. The families then go in a unit of work of their own.
pub async fn end_session(
    store: &dyn Store,
    notifier: &BackchannelNotifier,
    end_revokes: EndRevokes,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<EndedSession>> {
    let Some(session) = store.delete_session(id_hash).await? else {
        return Ok(None);
    };
    let include_offline = match end_revokes {
        EndRevokes::Nothing => None,
        EndRevokes::SessionBound => Some(false),
        EndRevokes::All => Some(true),
    };
    if let Some(include_offline) = include_offline {
        store.revoke_session_families(&session.auth.sid, include_offline, now).await?;
    }
    tracing::info!(event = "session_ended", user_id = %session.auth.user_id, sid = %session.auth.sid, "session ended");
    let delivery = notifier.session_ended(&session);
    Ok(Some(EndedSession { session, delivery }))
}

/// A session to start: whose, how they proved it, for how long.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub user_id: String,
    /// Authentication methods (`amr`) and context class (`acr`).
    pub amr: Vec<String>,
    pub acr: String,
    pub ttl_seconds: i64,
}

/// A started session, and its id (the cookie value; stored only hashed).
pub struct StartedSession {
    pub session: Session,
    pub session_id: String,
}

/// Starts a session for a person who just proved who they are, with a fresh
/// id and `sid` (no session fixation): the browser's previous session
/// (`previous`, its id hash) ends first, as [`end_session`] does.
pub async fn start_session(
    store: &dyn Store,
    notifier: &BackchannelNotifier,
    end_revokes: EndRevokes,
    previous: Option<&str>,
    new: NewSession,
    now: i64,
) -> StoreResult<StartedSession> {
    if let Some(old) = previous {
        end_session(store, notifier, end_revokes, old, now).await?;
    }
    let session_id = random::token(32);
    let session = Session {
        id_hash: hash_token(&session_id),
        auth: Authentication {
            user_id: new.user_id,
            auth_time: now,
            amr: new.amr,
            acr: new.acr,
            sid: random::token(16),
        },
        created_at: now,
        expires_at: now + new.ttl_seconds,
        last_seen_at: now,
        client_ids: Vec::new(),
    };
    store.insert_session(&session).await?;
    Ok(StartedSession { session, session_id })
}

/// Adds factors to a signed-in session (a step-up, or a factor set up on
/// `/account`): `amr` gains `amr` (no repeats), `acr` becomes `acr`, and
/// `auth_time` becomes `now` (the person just authenticated, so `max_age`
/// counts from here). The session keeps its `sid`, clients and lifetime;
/// the browser gets a new session id, since what the old one could do
/// changed. None if the session ended meanwhile.
pub async fn upgrade_session(
    store: &dyn Store,
    session: &Session,
    amr: &[String],
    acr: &str,
    now: i64,
) -> StoreResult<Option<StartedSession>> {
    // The sid is unique: the old record goes first.
    let Some(old) = store.delete_session(&session.id_hash).await? else {
        return Ok(None);
    };
    let mut auth = old.auth.clone();
    for method in amr {
        if !auth.amr.contains(method) {
            auth.amr.push(method.clone());
        }
    }
    auth.acr = acr.to_string();
    auth.auth_time = now;
    let session_id = random::token(32);
    let upgraded = Session { id_hash: hash_token(&session_id), auth, last_seen_at: now, ..old };
    store.insert_session(&upgraded).await?;
    for client_id in &upgraded.client_ids {
        store.add_session_client(&upgraded.id_hash, client_id).await?;
    }
    tracing::info!(event = "session_upgraded", user_id = %upgraded.auth.user_id, sid = %upgraded.auth.sid, "session upgraded");
    Ok(Some(StartedSession { session: upgraded, session_id }))
}

//! `latchkey session list|revoke`: see and end a person's sessions. Ending a
//! session here has the same effect as signing out: its refresh tokens are
//! revoked as `sessions.end_revokes` says, and its clients are notified over
//! the back channel (this command waits for delivery, bounded by retries).

use std::sync::Arc;

use anyhow::{anyhow, bail};
use latchkey_core::grant::Session;
use latchkey_domain::BackchannelNotifier;
use latchkey_keys::KeyRing;

use super::{Context, table, timestamp};
use crate::cli::SessionCommand;
use crate::keys::load_key_set;

pub async fn run(ctx: &Context, cmd: SessionCommand) -> anyhow::Result<()> {
    match cmd {
        SessionCommand::List { user } => {
            let user = super::user::find(ctx, &user).await?;
            let sessions = ctx.store.list_user_sessions(&user.id, ctx.clock.now()).await?;
            let json = serde_json::Value::Array(sessions.iter().map(Session::summary_json).collect());
            ctx.print(
                || {
                    if sessions.is_empty() {
                        return format!("{} has no active sessions", user.username);
                    }
                    let rows: Vec<Vec<String>> = sessions
                        .iter()
                        .map(|s| {
                            vec![
                                s.auth.sid.clone(),
                                timestamp(s.auth.auth_time),
                                timestamp(s.last_seen_at),
                                if s.client_ids.is_empty() { "-".to_string() } else { s.client_ids.join(" ") },
                            ]
                        })
                        .collect();
                    table(&["SID", "SIGNED_IN", "LAST_SEEN", "CLIENTS"], &rows)
                },
                &json,
            );
            Ok(())
        }
        SessionCommand::Revoke { user, session, all } => {
            let user = super::user::find(ctx, &user).await?;
            let now = ctx.clock.now();
            let sessions = ctx.store.list_user_sessions(&user.id, now).await?;
            let chosen: Vec<Session> = match (&session, all) {
                (_, true) => sessions,
                (Some(sid), false) => {
                    let s = sessions.into_iter().find(|s| &s.auth.sid == sid);
                    vec![s.ok_or_else(|| anyhow!("{} has no active session {sid:?}", user.username))?]
                }
                (None, false) => bail!("name a session with --session SID, or use --all"),
            };
            let keys = load_key_set(&*ctx.store, ctx.settings.encryption_key.as_ref(), now, None)
                .await
                .map_err(|e| anyhow!("cannot load signing keys for logout tokens: {e}"))?
                .expect("a first load builds");
            let notifier = BackchannelNotifier::new(
                ctx.settings.config.issuer.clone(),
                ctx.store.clone(),
                Arc::new(KeyRing::new(keys)),
                ctx.clock.clone(),
            );
            let mut ended = Vec::new();
            let mut deliveries = Vec::new();
            for s in chosen {
                let ended_here = latchkey_domain::end_session(
                    &*ctx.store,
                    &notifier,
                    ctx.settings.config.sessions.end_revokes,
                    &s.id_hash,
                    now,
                )
                .await?;
                if let Some(gone) = ended_here {
                    deliveries.push(gone.delivery);
                    ended.push(gone.session.auth.sid.clone());
                }
            }
            for d in deliveries {
                let _ = d.await;
            }
            ctx.print(
                || format!("ended {} session(s) of {}", ended.len(), user.username),
                &serde_json::json!({"ended": ended}),
            );
            Ok(())
        }
    }
}

//! `latchkey audit list`, and the audit events of the other commands: every
//! command that changes clients, users, sessions or keys is recorded with the
//! actor `cli` (and the operating-system user, when known).

use latchkey_core::audit::AuditEvent;
use latchkey_store::AuditQuery;

use super::{Context, table, timestamp};
use crate::cli::{AuditCommand, ClientCommand, Command, KeysCommand, SessionCommand, UserCommand};

/// The audit kind and subject of a command that changes something.
pub fn event_of(command: &Command) -> Option<(&'static str, Option<String>)> {
    Some(match command {
        Command::Client(cmd) => match cmd.as_ref() {
            ClientCommand::Create(c) => ("client.created", Some(c.name.clone())),
            ClientCommand::Update(c) => ("client.updated", Some(c.client_id.clone())),
            ClientCommand::Delete { client_id } => ("client.deleted", Some(client_id.clone())),
            ClientCommand::RotateSecret { client_id } => ("client.secret_rotated", Some(client_id.clone())),
            ClientCommand::List | ClientCommand::Show { .. } => return None,
        },
        Command::User(cmd) => match cmd {
            UserCommand::Create(u) => ("user.created", Some(u.username.clone())),
            UserCommand::Update(u) => ("user.updated", Some(u.user.clone())),
            UserCommand::SetPassword { user, .. } => ("user.password_set", Some(user.clone())),
            UserCommand::Disable { user } => ("user.disabled", Some(user.clone())),
            UserCommand::Enable { user } => ("user.enabled", Some(user.clone())),
            UserCommand::Delete { user } => ("user.deleted", Some(user.clone())),
            UserCommand::Unlock { user } => ("user.unlocked", Some(user.clone())),
            // `user mfa reset` is recorded by the operation (`mfa.removed`, with what it removed).
            UserCommand::List | UserCommand::Show { .. } | UserCommand::Mfa(_) => return None,
        },
        Command::Keys(cmd) => match cmd {
            KeysCommand::Rotate { .. } => ("key.rotated", None),
            KeysCommand::Retire { kid, .. } => ("key.retired", Some(kid.clone())),
            KeysCommand::List => return None,
        },
        Command::Session(SessionCommand::Revoke { user, .. }) => ("session.revoked", Some(user.clone())),
        // Admin token and invitation commands record their own events (with the token's or invitation's id).
        Command::Session(SessionCommand::List { .. })
        | Command::Invite(_)
        | Command::Audit(_)
        | Command::Admin(_)
        | Command::Token(_)
        | Command::Serve
        | Command::Migrate => {
            return None;
        }
    })
}

/// Records a command that succeeded.
pub async fn record(ctx: &Context, kind: &str, subject: Option<String>) {
    let mut event = AuditEvent::new(ctx.clock.now(), kind, "cli");
    if let Some(subject) = subject {
        event = event.subject(subject);
    }
    if let Ok(user) = std::env::var("USER") {
        event = event.detail("os_user", user);
    }
    latchkey_http::audit(ctx.store.as_ref(), event).await;
}

pub async fn run(ctx: &Context, cmd: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List { kind, subject, after, limit } = cmd;
    let events = ctx.store.list_audit(&AuditQuery { after, limit, kind, subject, ..Default::default() }).await?;
    let json: Vec<serde_json::Value> = events
        .iter()
        .map(|(id, e)| {
            let mut v = serde_json::to_value(e).expect("audit events serialize");
            v["id"] = (*id).into();
            v
        })
        .collect();
    ctx.print(
        || {
            if events.is_empty() {
                return "no audit events".into();
            }
            let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            let rows: Vec<Vec<String>> = events
                .iter()
                .map(|(id, e)| {
                    vec![
                        id.to_string(),
                        timestamp(e.at),
                        e.kind.clone(),
                        e.actor.clone(),
                        or_dash(&e.subject),
                        or_dash(&e.client_id),
                        or_dash(&e.ip),
                    ]
                })
                .collect();
            table(&["ID", "TIME", "KIND", "ACTOR", "SUBJECT", "CLIENT", "IP"], &rows)
        },
        &serde_json::Value::Array(json),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    /// `audit list --kind` accepts exactly the kinds docs/operations.md
    /// describes ("Audit log" table, first column).
    #[test]
    fn the_kinds_are_the_documented_ones() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md")).unwrap();
        let table = doc.split("## Audit log").nth(1).unwrap().split("\n\n").nth(2).unwrap();
        let mut documented: Vec<&str> = table
            .lines()
            .skip(2)
            .filter_map(|row| row.split('|').nth(1))
            .flat_map(|cell| cell.split('`').skip(1).step_by(2))
            .collect();
        let mut kinds = latchkey_core::audit::KINDS.to_vec();
        documented.sort();
        kinds.sort();
        assert_eq!(documented, kinds);
    }
}

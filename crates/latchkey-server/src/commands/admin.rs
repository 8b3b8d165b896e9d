//! `latchkey admin token create|list|revoke`: the admin API's bearer tokens.
//! A token is printed once; only its SHA-256 is stored. Creating and
//! revoking one are audit events (actor `cli`).

use anyhow::bail;
use latchkey_core::audit::AuditEvent;
use latchkey_store::AdminToken;

use super::{Context, table, timestamp};
use crate::cli::{AdminCommand, AdminTokenCommand};

pub async fn run(ctx: &Context, cmd: AdminCommand) -> anyhow::Result<()> {
    let AdminCommand::Token(cmd) = cmd;
    match cmd {
        AdminTokenCommand::Create { name, scopes, expires_in } => create(ctx, name, scopes, expires_in).await,
        AdminTokenCommand::List => list(ctx).await,
        AdminTokenCommand::Revoke { id } => {
            if !ctx.store.delete_admin_token(&id).await? {
                bail!("no admin token with id {id:?}");
            }
            record(ctx, AuditEvent::new(ctx.clock.now(), "admin_token.revoked", "cli").subject(&id)).await;
            ctx.print(|| format!("revoked admin token {id}"), &serde_json::json!({"revoked": id}));
            Ok(())
        }
    }
}

async fn record(ctx: &Context, mut event: AuditEvent) {
    if let Ok(user) = std::env::var("USER") {
        event = event.detail("os_user", user);
    }
    latchkey_http::audit(ctx.store.as_ref(), event).await;
}

async fn create(ctx: &Context, name: String, scopes: Vec<String>, expires_in: Option<i64>) -> anyhow::Result<()> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        bail!("--name must be 1 to 100 characters without control characters");
    }
    let mut chosen: Vec<String> = Vec::new();
    for scope in scopes {
        if !latchkey_admin::SCOPES.contains(&scope.as_str()) {
            bail!("--scope {scope:?} is not one of: {}", latchkey_admin::SCOPES.join(" "));
        }
        if !chosen.contains(&scope) {
            chosen.push(scope);
        }
    }
    let now = ctx.clock.now();
    let (value, token) = latchkey_admin::new_token(&name, chosen, now, expires_in.map(|s| now + s));
    ctx.store.insert_admin_token(&token).await?;
    let event = AuditEvent::new(now, "admin_token.created", "cli")
        .subject(&token.id)
        .detail("name", token.name.as_str())
        .detail("scopes", token.scopes.clone());
    record(ctx, event).await;
    if ctx.settings.admin() == crate::config::AdminListener::Disabled {
        // Standard error, so that `--json` output stays parseable.
        eprintln!(
            "warning: the admin API is off (admin.enabled = false, LATCHKEY_ADMIN_ENABLED) in the configuration \
             this command read; the token works once the servers run with it on (docs/admin-api.md)"
        );
    }
    let mut json = token_json(&token);
    json["token"] = value.clone().into();
    ctx.print(
        || {
            format!(
                "{}\ntoken:    {value}\n\nThe token is shown only this once; only its hash is stored.",
                describe(&token)
            )
        },
        &json,
    );
    Ok(())
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let tokens = ctx.store.list_admin_tokens().await?;
    let json = serde_json::Value::Array(tokens.iter().map(token_json).collect());
    ctx.print(
        || {
            if tokens.is_empty() {
                return "no admin tokens".into();
            }
            let at = |v: Option<i64>| v.map(timestamp).unwrap_or_else(|| "-".into());
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| vec![t.id.clone(), t.name.clone(), at(t.expires_at), at(t.last_used_at), t.scopes.join(" ")])
                .collect();
            table(&["ID", "NAME", "EXPIRES", "LAST_USED", "SCOPES"], &rows)
        },
        &json,
    );
    Ok(())
}

fn token_json(t: &AdminToken) -> serde_json::Value {
    serde_json::json!({
        "id": t.id,
        "name": t.name,
        "scopes": t.scopes,
        "created_at": t.created_at,
        "expires_at": t.expires_at,
        "last_used_at": t.last_used_at,
    })
}

fn describe(t: &AdminToken) -> String {
    format!(
        "id:       {}\nname:     {}\nscopes:   {}\nexpires:  {}",
        t.id,
        t.name,
        t.scopes.join(" "),
        t.expires_at.map(timestamp).unwrap_or_else(|| "never".into())
    )
}

use anyhow::anyhow;
use latchkey_store::StoredKey;

use super::{Context, table, timestamp};
use crate::cli::KeysCommand;
use latchkey_domain::keys::{retire, rotate};

pub async fn run(ctx: &Context, cmd: KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::List => {
            // Listing reads public data only; keys are created by `serve` or `rotate`.
            let keys = ctx.store.list_keys().await?;
            let json = serde_json::Value::Array(keys.iter().map(key_json).collect());
            ctx.print(|| key_table(&keys), &json);
            Ok(())
        }
        KeysCommand::Rotate { force } => {
            let rotated = rotate(&*ctx.store, ctx.clock.as_ref(), &ctx.settings.key_settings(), force)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            ctx.print(
                || {
                    let lines: Vec<String> = rotated
                        .iter()
                        .map(|r| format!("{} signing key is now {}; new next key {}", r.alg, r.active, r.next))
                        .collect();
                    format!(
                        "{}\nrunning servers switch within {} s",
                        lines.join("\n"),
                        ctx.settings.config.keys.refresh_interval_seconds.get()
                    )
                },
                &latchkey_domain::keys::rotation_json(&rotated),
            );
            Ok(())
        }
        KeysCommand::Retire { kid, now } => {
            let message = retire(&*ctx.store, ctx.clock.as_ref(), &ctx.settings.key_settings(), &kid, now)
                .await
                .map_err(|e| anyhow!("{e}"))?;
            ctx.print(|| message.clone(), &serde_json::json!({"retired": kid, "removed": now}));
            Ok(())
        }
    }
}

fn key_json(k: &StoredKey) -> serde_json::Value {
    serde_json::json!({
        "kid": k.kid,
        "alg": k.alg,
        "state": k.state,
        "created_at": k.created_at,
        "activated_at": k.activated_at,
        "retired_at": k.retired_at,
        "remove_after": k.remove_after,
        "encrypted": k.private_key.starts_with("enc:"),
    })
}

fn key_table(keys: &[StoredKey]) -> String {
    if keys.is_empty() {
        return "no signing keys yet: `latchkey serve` creates them when it first starts".into();
    }
    let t = |v: Option<i64>| v.map(timestamp).unwrap_or_else(|| "-".into());
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![k.kid.clone(), k.state.as_str().into(), timestamp(k.created_at), t(k.activated_at), t(k.remove_after)]
        })
        .collect();
    table(&["KID", "STATE", "CREATED", "ACTIVATED", "REMOVE_AFTER"], &rows)
}

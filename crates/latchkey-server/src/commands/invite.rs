//! `latchkey invite create|list|revoke`: invitations to create an account
//! (docs/self-service.md, "Sign-up and invitations"). The link is printed
//! once (only its hash is stored) and, when email is configured, emailed
//! through the outbox that the server's sender delivers.

use anyhow::bail;
use latchkey_domain::self_service::Mail;
use latchkey_domain::signup::{self as ops, InviteError, NewInvitation, Signups};
use latchkey_email::Outbox;

use super::{Context, table, timestamp};
use crate::cli::InviteCommand;

pub async fn run(ctx: &Context, cmd: InviteCommand) -> anyhow::Result<()> {
    let config = &ctx.settings.config;
    let outbox = config.email.enabled().then(|| Outbox::new(ctx.store.clone(), ctx.clock.clone()));
    // The invitation email from the operator's template, as the server would send it.
    let email_templates = match &outbox {
        Some(_) => latchkey_authorize::AuthorizeSettings::from_config(config)?.ui.overrides,
        None => None,
    };
    let mail = outbox.as_ref().map(|outbox| Mail {
        store: &*ctx.store,
        outbox,
        clock: &*ctx.clock,
        settings: &config.email,
        issuer: &config.issuer,
        product: config.ui.product_name.trim(),
        // Unused here: an invitation's email speaks the invitation's own language.
        lang: latchkey_i18n::Language::En,
        overrides: email_templates.as_deref(),
    });
    let signups =
        Signups { store: &*ctx.store, clock: &*ctx.clock, settings: &config.signup, mail, issuer: &config.issuer };
    let now = ctx.clock.now();
    match cmd {
        InviteCommand::Create { email, groups, expires_in, no_email, locale } => {
            let send = !no_email;
            let new = NewInvitation { email, groups, expires_in, send, created_by: "cli".into(), locale };
            let invited = match ops::create_invitation(&signups, new).await {
                Ok(invited) => invited,
                Err(InviteError::Invalid(why)) => bail!("{why}"),
                Err(InviteError::Store(e)) => return Err(e.into()),
            };
            let mut json = ops::invitation_summary(&invited.invitation, now);
            json["link"] = invited.link.clone().into();
            json["emailed"] = invited.emailed.into();
            let mode = config.signup.mode;
            ctx.print(
                || {
                    let mut out = format!(
                        "invitation {} for {} (expires {})\nlink (shown once): {}",
                        invited.invitation.id,
                        invited.invitation.email,
                        timestamp(invited.invitation.expires_at),
                        invited.link
                    );
                    if invited.emailed {
                        out.push_str("\nthe link was emailed");
                    }
                    if mode == latchkey_config::SignupMode::Closed {
                        out.push_str(
                            "\nnote: signup.mode is \"closed\": the link works once it is \"invite\" or \"open\"",
                        );
                    }
                    out
                },
                &json,
            );
            Ok(())
        }
        InviteCommand::List => {
            let list = ctx.store.list_invitations().await?;
            let json = serde_json::Value::Array(list.iter().map(|i| ops::invitation_summary(i, now)).collect());
            ctx.print(
                || {
                    if list.is_empty() {
                        return "no invitations".into();
                    }
                    let rows: Vec<Vec<String>> = list
                        .iter()
                        .map(|i| {
                            let expires = timestamp(i.expires_at);
                            vec![
                                i.id.clone(),
                                i.email.clone(),
                                if i.groups.is_empty() { "-".into() } else { i.groups.join(" ") },
                                if i.expires_at <= now { format!("{expires} (expired)") } else { expires },
                            ]
                        })
                        .collect();
                    table(&["ID", "EMAIL", "GROUPS", "EXPIRES"], &rows)
                },
                &json,
            );
            Ok(())
        }
        InviteCommand::Revoke { id } => {
            if !ops::revoke_invitation(&signups, &id, "cli").await? {
                bail!("no invitation {id:?} (accepted, revoked, or never made)");
            }
            ctx.print(|| format!("revoked invitation {id}"), &serde_json::json!({"id": id, "revoked": true}));
            Ok(())
        }
    }
}

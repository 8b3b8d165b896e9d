use anyhow::{anyhow, bail};
use latchkey_core::user::{validate_claim_text, validate_email, validate_groups, validate_username};
use latchkey_core::{User, UserClaims};
use latchkey_domain::users::{self, NewUser};

use super::{Context, table, timestamp};
use crate::cli::{UserCommand, UserCreate, UserMfaCommand, UserUpdate};

pub async fn run(ctx: &Context, cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create(args) => create(ctx, args).await,
        UserCommand::List => list(ctx).await,
        UserCommand::Show { user } => {
            let user = find(ctx, &user).await?;
            ctx.print(|| describe(&user), &user_json(&user));
            Ok(())
        }
        UserCommand::Update(args) => update(ctx, args).await,
        UserCommand::SetPassword { user, .. } => {
            let mut user = find(ctx, &user).await?;
            let password = read_password(ctx)?;
            users::set_password(&*ctx.store, &mut user, password, ctx.clock.now()).await?;
            ctx.print(|| format!("password set for {}", user.username), &user_json(&user));
            Ok(())
        }
        UserCommand::Disable { user } => set_disabled(ctx, &user, true).await,
        UserCommand::Enable { user } => set_disabled(ctx, &user, false).await,
        UserCommand::Unlock { user } => unlock(ctx, &user).await,
        UserCommand::Mfa(cmd) => mfa(ctx, cmd).await,
        UserCommand::Delete { user } => {
            let user = find(ctx, &user).await?;
            if !users::delete_user(&*ctx.store, &user.id).await? {
                bail!("no user {:?}", user.username);
            }
            ctx.print(|| format!("deleted user {}", user.username), &serde_json::json!({"deleted": user.id}));
            Ok(())
        }
    }
}

/// `user mfa list|reset`: what the person has set up, or removing all of it
/// (audited as `mfa.removed` and `mfa.passkey_removed` by `cli`).
async fn mfa(ctx: &Context, cmd: UserMfaCommand) -> anyhow::Result<()> {
    let encryption_key = ctx.settings.encryption_key.clone();
    let factors = latchkey_domain::mfa::Factors {
        store: &*ctx.store,
        clock: &*ctx.clock,
        encryption_key: encryption_key.as_ref(),
        issuer_name: ctx.settings.config.ui.product_name.trim(),
    };
    match cmd {
        UserMfaCommand::List { user } => {
            let user = find(ctx, &user).await?;
            let status = latchkey_domain::mfa::status(&factors, &user.id).await?;
            let passkeys = latchkey_domain::passkeys::list(&*ctx.store, &user.id).await?;
            let totp = status.totp.as_ref();
            ctx.print(
                || {
                    let mut text = match totp {
                        Some(t) => format!(
                            "{}: authenticator app added {}, last used {}; {} recovery codes left",
                            user.username,
                            timestamp(t.confirmed_at),
                            t.last_used_at.map_or("never".to_string(), timestamp),
                            status.recovery_codes_left
                        ),
                        None if passkeys.is_empty() => format!("{}: no second factor", user.username),
                        None => format!("{}: no authenticator app", user.username),
                    };
                    for p in &passkeys {
                        text.push_str(&format!(
                            "\npasskey {:?} ({}): added {}, last used {}",
                            p.name,
                            p.credential_id,
                            timestamp(p.created_at),
                            p.last_used_at.map_or("never".to_string(), timestamp),
                        ));
                    }
                    text
                },
                &serde_json::json!({
                    "user_id": user.id,
                    "username": user.username,
                    "totp": totp.map(|t| serde_json::json!({
                        "confirmed_at": t.confirmed_at,
                        "last_used_at": t.last_used_at,
                    })),
                    "recovery_codes_left": status.recovery_codes_left,
                    "passkeys": passkeys.iter().map(|p| serde_json::json!({
                        "credential_id": p.credential_id,
                        "name": p.name,
                        "created_at": p.created_at,
                        "last_used_at": p.last_used_at,
                    })).collect::<Vec<_>>(),
                }),
            );
        }
        UserMfaCommand::Reset { user } => {
            let user = find(ctx, &user).await?;
            let removed = latchkey_domain::mfa::remove_factors(&factors, &user.id, "cli").await?;
            let passkeys = latchkey_domain::passkeys::remove_all(&*ctx.store, &*ctx.clock, &user.id, "cli").await?;
            ctx.print(
                || match removed.totp || removed.recovery_codes > 0 || passkeys > 0 {
                    true => format!(
                        "{}: second factors removed (authenticator app: {}, recovery codes: {}, passkeys: {})",
                        user.username,
                        if removed.totp { "yes" } else { "none" },
                        removed.recovery_codes,
                        passkeys
                    ),
                    false => format!("{}: had no second factor", user.username),
                },
                &serde_json::json!({
                    "user_id": user.id,
                    "totp_removed": removed.totp,
                    "recovery_codes_removed": removed.recovery_codes,
                    "passkeys_removed": passkeys,
                }),
            );
        }
    }
    Ok(())
}

/// Forgets the account's failed sign-ins (kept under its username, in any
/// case), which ends its lock on every server at once.
async fn unlock(ctx: &Context, user: &str) -> anyhow::Result<()> {
    let user = find(ctx, user).await?;
    let now = ctx.clock.now();
    let cleared = ctx.store.clear_failures(&latchkey_core::lockout::account_key(&user.username), now).await?;
    let was_locked = cleared.filter(|c| c.locked_at(now));
    let failures = cleared.map_or(0, |c| c.count);
    ctx.print(
        || match was_locked {
            Some(c) => format!(
                "{} unlocked (was locked until {}; {failures} failed sign-ins forgotten)",
                user.username,
                timestamp(c.locked_until)
            ),
            None if failures > 0 => format!("{} was not locked; {failures} failed sign-ins forgotten", user.username),
            None => format!("{} was not locked", user.username),
        },
        &serde_json::json!({
            "user_id": user.id,
            "username": user.username,
            "was_locked": was_locked.is_some(),
            "failures_cleared": failures,
        }),
    );
    Ok(())
}

/// A user by username (ignoring case) or by id.
pub(crate) async fn find(ctx: &Context, user: &str) -> anyhow::Result<User> {
    if let Some(u) = ctx.store.find_user_by_username(user).await? {
        return Ok(u);
    }
    ctx.store.get_user(user).await?.ok_or_else(|| anyhow!("no user with username or id {user:?}"))
}

/// The password on the first line of standard input (its line ending
/// dropped); the domain checks it against the policy and hashes it.
fn read_password(ctx: &Context) -> anyhow::Result<String> {
    let line = ctx.read_line()?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    Ok(password.strip_suffix('\r').unwrap_or(password).to_string())
}

fn optional(field: &str, v: Option<String>) -> anyhow::Result<Option<String>> {
    validate_claim_text(v).map_err(|e| anyhow!("--{field} {e}"))
}

fn check_email(email: &Option<String>) -> anyhow::Result<()> {
    match email {
        Some(e) => validate_email(e).map_err(|e| anyhow!("--email {e}")),
        None => Ok(()),
    }
}

async fn create(ctx: &Context, args: UserCreate) -> anyhow::Result<()> {
    validate_username(&args.username).map_err(|e| anyhow!("--username {e}"))?;
    let email = optional("email", args.email)?;
    check_email(&email)?;
    let claims = UserClaims {
        email_verified: args.email_verified && email.is_some(),
        email,
        name: optional("name", args.name)?,
        given_name: optional("given-name", args.given_name)?,
        family_name: optional("family-name", args.family_name)?,
        phone_number: optional("phone", args.phone)?,
        phone_number_verified: false,
        groups: validate_groups(&args.groups).map_err(|e| anyhow!("--group: {e}"))?,
    };
    let password = if args.password_stdin { Some(read_password(ctx)?) } else { None };
    let new = NewUser { username: args.username, password, disabled: false, claims };
    let user = users::create_user(&*ctx.store, new, ctx.clock.now()).await?;
    ctx.print(
        || {
            let mut s = describe(&user);
            if user.password_hash.is_none() {
                s.push_str("\n\nNo password set: use `latchkey user set-password --password-stdin`.");
            }
            s
        },
        &user_json(&user),
    );
    Ok(())
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let users = ctx.store.list_users().await?;
    let json = serde_json::Value::Array(users.iter().map(user_json).collect());
    ctx.print(
        || {
            if users.is_empty() {
                return "no users".into();
            }
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    vec![
                        u.id.clone(),
                        u.username.clone(),
                        if u.disabled { "disabled" } else { "active" }.into(),
                        u.claims.email.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            table(&["ID", "USERNAME", "STATUS", "EMAIL"], &rows)
        },
        &json,
    );
    Ok(())
}

async fn update(ctx: &Context, args: UserUpdate) -> anyhow::Result<()> {
    let mut user = find(ctx, &args.user).await?;
    if let Some(username) = args.username {
        validate_username(&username).map_err(|e| anyhow!("--username {e}"))?;
        user.username = username;
    }
    if args.email.is_some() {
        let email = optional("email", args.email)?;
        check_email(&email)?;
        if email != user.claims.email {
            user.claims.email_verified = false;
        }
        user.claims.email = email;
    }
    if let Some(v) = args.email_verified {
        user.claims.email_verified = v && user.claims.email.is_some();
    }
    for (field, value, slot) in [
        ("name", args.name, &mut user.claims.name),
        ("given-name", args.given_name, &mut user.claims.given_name),
        ("family-name", args.family_name, &mut user.claims.family_name),
        ("phone", args.phone, &mut user.claims.phone_number),
    ] {
        if value.is_some() {
            *slot = optional(field, value)?;
        }
    }
    let mut groups = user.claims.groups.clone();
    if !args.groups.is_empty() || args.clear_groups {
        groups = args.groups;
    }
    groups.extend(args.add_groups);
    groups.retain(|g| !args.remove_groups.contains(g));
    user.claims.groups = validate_groups(&groups).map_err(|e| anyhow!("--group: {e}"))?;
    users::save_user(&*ctx.store, &mut user, ctx.clock.now()).await?;
    ctx.print(|| describe(&user), &user_json(&user));
    Ok(())
}

async fn set_disabled(ctx: &Context, user: &str, disabled: bool) -> anyhow::Result<()> {
    let mut user = find(ctx, user).await?;
    users::set_disabled(&*ctx.store, &mut user, disabled, ctx.clock.now()).await?;
    let word = if disabled { "disabled" } else { "enabled" };
    ctx.print(|| format!("{word} user {}", user.username), &user_json(&user));
    Ok(())
}

fn user_json(u: &User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id,
        "username": u.username,
        "disabled": u.disabled,
        "has_password": u.password_hash.is_some(),
        // Groups beside the claims, as in the admin API.
        "claims": UserClaims { groups: Vec::new(), ..u.claims.clone() },
        "groups": u.claims.groups,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    })
}

fn describe(u: &User) -> String {
    let c = &u.claims;
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    format!(
        "id (sub):       {}\nusername:       {}\nstatus:         {}\npassword:       {}\nemail:          {}{}\n\
         name:           {}\ngiven name:     {}\nfamily name:    {}\nphone:          {}\ngroups:         {}\n\
         created:        {}",
        u.id,
        u.username,
        if u.disabled { "disabled" } else { "active" },
        if u.password_hash.is_some() { "set" } else { "not set" },
        or_dash(&c.email),
        if c.email_verified { " (verified)" } else { "" },
        or_dash(&c.name),
        or_dash(&c.given_name),
        or_dash(&c.family_name),
        or_dash(&c.phone_number),
        if c.groups.is_empty() { "-".to_string() } else { c.groups.join(", ") },
        timestamp(u.created_at),
    )
}

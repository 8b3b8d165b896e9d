use anyhow::{anyhow, bail};
use latchkey_core::profile::{self, STRING_CLAIMS};
use latchkey_core::user::{validate_groups, validate_username};
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

/// `json` with the person's id and username added.
fn with_user(json: serde_json::Value, user: &User) -> serde_json::Value {
    let mut out = serde_json::json!({"user_id": user.id, "username": user.username});
    if let (Some(out), serde_json::Value::Object(fields)) = (out.as_object_mut(), json) {
        out.extend(fields);
    }
    out
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
            let passkeys = &status.passkeys;
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
                    for p in passkeys {
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
                &with_user(status.to_json(), &user),
            );
        }
        UserMfaCommand::Reset { user } => {
            let user = find(ctx, &user).await?;
            let removed = latchkey_domain::mfa::reset(&factors, &user.id, "cli").await?;
            ctx.print(
                || match removed.anything() {
                    true => format!(
                        "{}: second factors removed (authenticator app: {}, recovery codes: {}, passkeys: {})",
                        user.username,
                        if removed.totp { "yes" } else { "none" },
                        removed.recovery_codes,
                        removed.passkeys
                    ),
                    false => format!("{}: had no second factor", user.username),
                },
                &with_user(removed.to_json(), &user),
            );
        }
    }
    Ok(())
}

/// Forgets the account's failed sign-ins (kept under its username, in any
/// case), which ends its lock on every server at once.
async fn unlock(ctx: &Context, user: &str) -> anyhow::Result<()> {
    let user = find(ctx, user).await?;
    let cleared = users::unlock(&*ctx.store, &user, ctx.clock.now()).await?;
    let (was_locked, failures) = (cleared.locked_until, cleared.failures);
    ctx.print(
        || match was_locked {
            Some(until) => format!(
                "{} unlocked (was locked until {}; {failures} failed sign-ins forgotten)",
                user.username,
                timestamp(until)
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

/// Sets each claim given by a flag (`--email` …) or as `--claim NAME=VALUE`
/// on `claims`, with the rules of `latchkey_core::profile`; the error names
/// the flag.
fn set_claims(claims: &mut UserClaims, flags: ClaimFlags) -> anyhow::Result<()> {
    let named = [
        ("email", "email", flags.email),
        ("name", "name", flags.name),
        ("given-name", "given_name", flags.given_name),
        ("family-name", "family_name", flags.family_name),
        ("phone", "phone_number", flags.phone),
    ];
    for (flag, claim, value) in named {
        if let Some(value) = value {
            claims.set(claim, &value).map_err(|e| anyhow!("--{flag}: {}", e.reason))?;
        }
    }
    for pair in flags.claims {
        let (name, value) = pair.split_once('=').ok_or_else(|| anyhow!("--claim {pair:?}: expected NAME=VALUE"))?;
        claims.set(name.trim(), value).map_err(|e| anyhow!("--claim: {e}"))?;
    }
    Ok(())
}

/// The claim flags `user create` and `user update` share.
struct ClaimFlags {
    email: Option<String>,
    name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    phone: Option<String>,
    claims: Vec<String>,
}

async fn create(ctx: &Context, args: UserCreate) -> anyhow::Result<()> {
    validate_username(&args.username).map_err(|e| anyhow!("--username {e}"))?;
    let mut claims = UserClaims::default();
    let flags = ClaimFlags {
        email: args.email,
        name: args.name,
        given_name: args.given_name,
        family_name: args.family_name,
        phone: args.phone,
        claims: args.claims,
    };
    set_claims(&mut claims, flags)?;
    claims.email_verified = args.email_verified;
    claims.phone_number_verified = args.phone_verified;
    claims.tidy();
    claims.groups = validate_groups(&args.groups).map_err(|e| anyhow!("--group: {e}"))?;
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
    let flags = ClaimFlags {
        email: args.email,
        name: args.name,
        given_name: args.given_name,
        family_name: args.family_name,
        phone: args.phone,
        claims: args.claims,
    };
    set_claims(&mut user.claims, flags)?;
    if let Some(v) = args.email_verified {
        user.claims.email_verified = v;
    }
    if let Some(v) = args.phone_verified {
        user.claims.phone_number_verified = v;
    }
    user.claims.tidy();
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
        "claims": profile::to_json(&u.claims),
        "groups": u.claims.groups,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    })
}

fn describe(u: &User) -> String {
    let c = &u.claims;
    let mut lines = vec![
        ("id (sub)", u.id.clone()),
        ("username", u.username.clone()),
        ("status", if u.disabled { "disabled" } else { "active" }.into()),
        ("password", if u.password_hash.is_some() { "set" } else { "not set" }.into()),
    ];
    // The names, email and phone always; the other claims when set.
    const ALWAYS: &[&str] = &["email", "name", "given_name", "family_name", "phone_number"];
    for (name, _) in STRING_CLAIMS {
        let verified = match *name {
            "email" => c.email_verified,
            "phone_number" => c.phone_number_verified,
            _ => false,
        };
        match c.get(name) {
            Some(v) => lines.push((name, if verified { format!("{v} (verified)") } else { v.to_string() })),
            None if ALWAYS.contains(name) => lines.push((name, "-".into())),
            None => {}
        }
    }
    lines.push(("groups", if c.groups.is_empty() { "-".to_string() } else { c.groups.join(", ") }));
    lines.push(("created", timestamp(u.created_at)));
    lines.iter().map(|(k, v)| format!("{:<15} {v}", format!("{k}:"))).collect::<Vec<_>>().join("\n")
}

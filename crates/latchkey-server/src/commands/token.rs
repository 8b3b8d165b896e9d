//! `latchkey token inspect`: a JWT decoder that never leaves the machine.
//! The signature is checked against this server's keys (read from its
//! database), or another issuer's (discovery, then its JWKS, over HTTP); an
//! opaque refresh or admin API token is looked up by its hash. Nothing
//! secret is printed, and the exit code is 0 only when every check passed.

use std::io::Read;
use std::time::Duration;

use anyhow::{anyhow, bail};
use latchkey_core::secret::hash_token;
use latchkey_core::{Clock, SystemClock};
use latchkey_store::{AdminStore, KeyStore, RefreshTokenStore};
use latchkey_store_sql::{OpenMode, SqlStore};
use serde_json::{Value, json};

use crate::cli::{TokenCommand, TokenInspect};
use crate::config::Settings;
use crate::inspect::{self, Expectations, Keys, relative};

pub async fn run(settings: &Settings, cmd: TokenCommand, json: bool) -> anyhow::Result<()> {
    let TokenCommand::Inspect(args) = cmd;
    let token = read_token(&args.token)?;
    let now = SystemClock.now();
    match token.split('.').count() {
        3 => jwt(settings, &args, &token, now, json).await,
        5 => bail!("this is an encrypted JWT (JWE): only its recipient's key opens it, and Latchkey issues none"),
        _ => opaque(settings, &token, now, json).await,
    }
}

/// The token from the argument, or from standard input for `-`; a
/// `Bearer ` prefix (pasted from a header) is dropped.
fn read_token(arg: &str) -> anyhow::Result<String> {
    let raw = if arg == "-" {
        let mut text = String::new();
        std::io::stdin().take(1 << 20).read_to_string(&mut text)?;
        text
    } else {
        arg.to_string()
    };
    let token = raw.trim();
    let token = token.strip_prefix("Bearer ").unwrap_or(token).trim();
    if token.is_empty() {
        bail!("no token given (pass it as the argument, or - to read it from standard input)");
    }
    Ok(token.to_string())
}

/// This server's database, read-only: never created, never migrated.
async fn database(settings: &Settings) -> anyhow::Result<SqlStore> {
    super::open_sql(settings, OpenMode::Existing).await
}

/// Why the database could not be read, in one line for a verdict.
fn first_line(e: &anyhow::Error) -> String {
    format!("{e:#}").lines().next().unwrap_or_default().trim_end_matches('.').to_string()
}

async fn jwt(settings: &Settings, args: &TokenInspect, token: &str, now: i64, json: bool) -> anyhow::Result<()> {
    let remote = args.issuer.is_some() || args.jwks_uri.is_some();
    let (keys, issuer) = if remote {
        (remote_keys(args).await, args.issuer.clone())
    } else {
        (local_keys(settings, now).await, Some(settings.config.issuer.clone()))
    };
    let expect =
        Expectations { keys, issuer: issuer.as_deref(), audience: args.audience.as_deref(), local: !remote, now };
    let report = inspect::inspect(token, &expect).map_err(|e| anyhow!("{e}"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&inspect::to_json(&report))?);
    } else {
        println!("{}", inspect::render(&report));
    }
    match report.failed() {
        failed if failed.is_empty() => Ok(()),
        failed => Err(anyhow!("the token is not valid: {} failed", failed.join(", "))),
    }
}

/// The keys this server publishes, from its database: every key not past
/// its removal time, as the JWKS lists them.
async fn local_keys(settings: &Settings, now: i64) -> Result<Keys, String> {
    let hint = "; point at the server's database with --database-url, LATCHKEY_DATABASE_URL or --config, \
                or check a token from elsewhere with --issuer";
    let sql = database(settings).await.map_err(|e| format!("{}{hint}", first_line(&e)))?;
    let stored = sql.list_keys().await;
    sql.close().await;
    let stored = stored.map_err(|e| format!("cannot read the signing keys: {e}"))?;
    let keys: Vec<Value> = stored
        .iter()
        .filter(|k| k.remove_after.is_none_or(|t| t > now))
        .filter_map(|k| serde_json::from_str(&k.public_jwk).ok())
        .collect();
    Ok(Keys {
        jwks: json!({ "keys": keys }),
        source: format!("this server's database ({})", crate::config::database_location(&settings.config.database_url)),
    })
}

/// Another issuer's keys: at `--jwks-uri`, or named by `--issuer`'s
/// discovery document, whose `issuer` must be that issuer exactly.
async fn remote_keys(args: &TokenInspect) -> Result<Keys, String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| format!("no HTTP client: {e}"))?;
    let jwks_uri = match (&args.jwks_uri, &args.issuer) {
        (Some(uri), _) => uri.clone(),
        (None, Some(issuer)) => {
            let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
            let doc = fetch(&http, &url).await?;
            if doc.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
                return Err(format!(
                    "the discovery document at {url} is not {issuer}'s (its issuer is {})",
                    doc["issuer"]
                ));
            }
            doc.get("jwks_uri").and_then(Value::as_str).ok_or(format!("{url} names no jwks_uri"))?.to_string()
        }
        (None, None) => unreachable!("remote keys need --issuer or --jwks-uri"),
    };
    let jwks = fetch(&http, &jwks_uri).await?;
    if !jwks.get("keys").is_some_and(Value::is_array) {
        return Err(format!("{jwks_uri} is not a JWK Set"));
    }
    Ok(Keys { jwks, source: jwks_uri })
}

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let res = http.get(url).header("accept", "application/json").send().await.map_err(|e| format!("{url}: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("{url} answered {}", res.status()));
    }
    res.json().await.map_err(|e| format!("{url} is not JSON: {e}"))
}

/// An opaque token: a refresh token or an admin API token is looked up by
/// its hash (as stored); it is never printed.
async fn opaque(settings: &Settings, token: &str, now: i64, json: bool) -> anyhow::Result<()> {
    let shaped = token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let admin = token.starts_with(latchkey_admin::TOKEN_PREFIX);
    let kind = match (admin, shaped) {
        (true, _) => "admin API token",
        (false, true) => "opaque token (a refresh token?)",
        (false, false) => "not a token Latchkey issues (neither a JWT nor base64url)",
    };
    let found = match database(settings).await {
        Err(e) => Err(format!("cannot look it up: {}", first_line(&e))),
        Ok(sql) => {
            let found = if admin { admin_token(&sql, token, now).await } else { refresh_token(&sql, token, now).await };
            sql.close().await;
            found
        }
    };
    let (details, active, why) = match found {
        Ok(Some((details, None))) => (details, true, String::new()),
        Ok(Some((details, Some(why)))) => (details, false, why),
        Ok(None) => (
            Vec::new(),
            false,
            "this database knows no such token (never issued here, or deleted after it expired)".into(),
        ),
        Err(why) => (Vec::new(), false, why),
    };
    let kind = match (details.is_empty(), admin) {
        (false, false) => "refresh token",
        _ => kind,
    };
    if json {
        let fields: serde_json::Map<String, Value> = details.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        let out = json!({"format": "opaque", "kind": kind, "token": fields, "active": active,
                         "reason": (!active).then_some(why.clone()), "valid": active});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        let width = details.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let mut text = format!("Kind:    {kind}");
        for (k, v) in &details {
            text.push_str(&format!(
                "\n  {k:<width$}  {}",
                v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
            ));
        }
        text.push_str(&if active { "\nVerdict: active".to_string() } else { format!("\nVerdict: NOT ACTIVE: {why}") });
        println!("{text}");
    }
    if active { Ok(()) } else { Err(anyhow!("the token is not active")) }
}

/// A time for people and scripts: UTC, and how far from now.
fn at(secs: i64, now: i64) -> Value {
    format!("{} ({})", latchkey_core::calendar::rfc3339(secs), relative(secs - now)).into()
}

type Found = Result<Option<(Vec<(&'static str, Value)>, Option<String>)>, String>;

/// A refresh token's record: whose, which family, until when, and whether
/// it would still be accepted (the reason when not).
async fn refresh_token(sql: &SqlStore, token: &str, now: i64) -> Found {
    let Some(r) = sql.get_refresh_token(&hash_token(token)).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let t = &r.token;
    let details = vec![
        ("client", t.client_id.clone().into()),
        ("family", t.grant_id.clone().into()),
        ("user (sub)", t.auth.user_id.clone().into()),
        ("scope", t.scope.to_string().into()),
        ("offline", t.offline.into()),
        ("issued", at(t.created_at, now)),
        ("expires", at(t.expires_at, now)),
        ("family ends", at(t.family_expires_at.max(t.expires_at), now)),
    ];
    let why = if let Some(when) = r.revoked_at {
        Some(format!("revoked {}", relative(when - now)))
    } else if t.expires_at <= now {
        Some(format!("expired {}", relative(t.expires_at - now)))
    } else {
        r.consumed_at.map(|when| {
            format!(
                "already used {} (rotated: its successor is the live token; using it again revokes the family)",
                relative(when - now)
            )
        })
    };
    let mut details = details;
    details.push(("status", why.clone().unwrap_or_else(|| "active".into()).into()));
    Ok(Some((details, why)))
}

async fn admin_token(sql: &SqlStore, token: &str, now: i64) -> Found {
    let Some(t) = sql.find_admin_token(&hash_token(token)).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let mut details = vec![
        ("id", t.id.clone().into()),
        ("name", t.name.clone().into()),
        ("scopes", t.scopes.join(" ").into()),
        ("created", at(t.created_at, now)),
        ("expires", t.expires_at.map(|e| at(e, now)).unwrap_or_else(|| "never".into())),
    ];
    let why = t.expires_at.filter(|e| *e <= now).map(|e| format!("expired {}", relative(e - now)));
    details.push(("status", why.clone().unwrap_or_else(|| "active".into()).into()));
    Ok(Some((details, why)))
}

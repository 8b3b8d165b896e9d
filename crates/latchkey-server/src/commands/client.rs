use anyhow::{Context as _, anyhow, bail};
use latchkey_core::client::ClientSettings;
use latchkey_core::{AuthMethod, Client, ClientMetadata, RegistrationPolicy};
use latchkey_domain::clients::{self, Replaced};

use super::{Context, table, timestamp};
use crate::cli::{ClientCommand, ClientCreate, ClientUpdate};

pub async fn run(ctx: &Context, cmd: ClientCommand) -> anyhow::Result<()> {
    match cmd {
        ClientCommand::Create(args) => create(ctx, args).await,
        ClientCommand::List => list(ctx).await,
        ClientCommand::Show { client_id } => {
            let client = find(ctx, &client_id).await?;
            ctx.print(|| describe(&client), &client_json(&client));
            Ok(())
        }
        ClientCommand::Update(args) => update(ctx, args).await,
        ClientCommand::Delete { client_id } => {
            if !clients::delete_client(&*ctx.store, &client_id).await? {
                bail!("no client with id {client_id:?}");
            }
            ctx.print(|| format!("deleted client {client_id}"), &serde_json::json!({"deleted": client_id}));
            Ok(())
        }
        ClientCommand::RotateSecret { client_id } => rotate_secret(ctx, &client_id).await,
    }
}

async fn find(ctx: &Context, client_id: &str) -> anyhow::Result<Client> {
    ctx.store.get_client(client_id).await?.ok_or_else(|| anyhow!("no client with id {client_id:?}"))
}

fn policy(ctx: &Context, allow_insecure: bool) -> RegistrationPolicy {
    let mut policy = ctx.settings.registration_policy();
    policy.allow_insecure_redirects |= allow_insecure;
    policy
}

/// Validates the metadata; when plain http is what was refused (the same
/// metadata passes that check with insecure URIs allowed), the error says
/// which flag and setting allow it.
fn validate(metadata: ClientMetadata, policy: &RegistrationPolicy) -> anyhow::Result<ClientSettings> {
    let refused = match metadata.clone().validate(policy) {
        Ok(settings) => return Ok(settings),
        Err(e) => e.to_string(),
    };
    let lenient = RegistrationPolicy { allow_insecure_redirects: true, ..policy.clone() };
    let hint = match metadata.validate(&lenient) {
        Err(e) if e.to_string() == refused => "",
        _ => {
            "\n--allow-insecure-redirect accepts plain http on a host other than localhost, 127.0.0.1 or [::1] for \
             this client (development only); registration.allow_insecure_redirects does so for every client"
        }
    };
    Err(anyhow!("{refused}{hint}"))
}

/// Reads a JWK Set file for `--jwks-file` (validated with the registration).
fn read_jwks(path: &std::path::Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn non_empty<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

async fn create(ctx: &Context, args: ClientCreate) -> anyhow::Result<()> {
    let auth_method = if args.public { Some("none".to_string()) } else { args.auth_method };
    if auth_method.as_deref() == Some("none") && !args.public {
        bail!("use --public for a client without a secret");
    }
    let mut metadata = ClientMetadata {
        redirect_uris: args.redirect_uris,
        token_endpoint_auth_method: auth_method,
        grant_types: non_empty(args.grant_types),
        client_name: Some(args.name),
        scope: args.scope,
        post_logout_redirect_uris: non_empty(args.post_logout_redirect_uris),
        logo_uri: args.logo_uri,
        client_uri: args.client_uri,
        policy_uri: args.policy_uri,
        tos_uri: args.tos_uri,
        contacts: non_empty(args.contacts),
        backchannel_logout_uri: args.backchannel_logout_uri,
        jwks: args.keys.jwks_file.as_deref().map(read_jwks).transpose()?,
        jwks_uri: args.keys.jwks_uri,
        token_endpoint_auth_signing_alg: args.keys.signing_alg,
        token_exchange_audiences: non_empty(args.exchange_audiences),
        token_exchange_subject_clients: non_empty(args.exchange_subject_clients),
        require_mfa: Some(args.require_mfa),
        default_acr_values: non_empty(args.default_acr_values),
        ..Default::default()
    };
    args.protocol.apply(&mut metadata, None);
    let policy = policy(ctx, args.allow_insecure_redirect);
    let mut settings = validate(metadata, &policy)?;
    if settings.client_name.is_empty() {
        bail!("--name must not be empty");
    }
    settings.skip_consent = args.skip_consent;
    settings.audiences = check_audiences(args.audiences)?;
    settings.introspection = args.introspection.unwrap_or(false);
    let now = ctx.clock.now();
    let (client, secret) =
        clients::create_client(&*ctx.store, settings, now, policy.client_secret_key.as_ref()).await?;
    let mut json = client_json(&client);
    json["client_secret"] = secret.clone().map_or(serde_json::Value::Null, Into::into);
    ctx.print(
        || {
            let mut text = describe(&client);
            if let Some(secret) = &secret {
                text.push_str(&format!(
                    "\nclient_secret:  {secret}\n\nThe secret is shown only this once; only its hash is stored."
                ));
            }
            text
        },
        &json,
    );
    Ok(())
}

async fn list(ctx: &Context) -> anyhow::Result<()> {
    let clients = ctx.store.list_clients().await?;
    let json = serde_json::Value::Array(clients.iter().map(client_json).collect());
    ctx.print(
        || {
            if clients.is_empty() {
                return "no clients".into();
            }
            let rows: Vec<Vec<String>> = clients
                .iter()
                .map(|c| {
                    let s = &c.settings;
                    vec![
                        c.client_id.clone(),
                        if c.is_public() { "public" } else { "confidential" }.into(),
                        s.token_endpoint_auth_method.as_str().into(),
                        s.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(","),
                        s.client_name.clone(),
                    ]
                })
                .collect();
            table(&["CLIENT_ID", "TYPE", "AUTH_METHOD", "GRANT_TYPES", "NAME"], &rows)
        },
        &json,
    );
    Ok(())
}

async fn update(ctx: &Context, args: ClientUpdate) -> anyhow::Result<()> {
    let mut client = find(ctx, &args.client_id).await?;
    let s = &client.settings;
    let method = args.auth_method.unwrap_or_else(|| s.token_endpoint_auth_method.as_str().to_string());
    // Keys serve private_key_jwt and signed request objects: kept unless replaced.
    // A signing algorithm applies to either JWT method, not across them.
    let same_jwt_method = method == s.token_endpoint_auth_method.as_str();
    let new_jwks = args.keys.jwks_file.as_deref().map(read_jwks).transpose()?;
    let replaces_keys = new_jwks.is_some() || args.keys.jwks_uri.is_some();
    let (jwks, jwks_uri) =
        if replaces_keys { (new_jwks, args.keys.jwks_uri) } else { (s.jwks.clone(), s.jwks_uri.clone()) };
    let signing_alg = match AuthMethod::parse(&method) {
        Some(m) if m.uses_assertion() => {
            args.keys.signing_alg.or_else(|| s.token_endpoint_auth_signing_alg.clone().filter(|_| same_jwt_method))
        }
        _ => None,
    };
    // Re-validate the whole registration, exactly as `create` and the registration endpoint do.
    let mut metadata = ClientMetadata {
        redirect_uris: non_empty(args.redirect_uris).unwrap_or_else(|| s.redirect_uris.clone()),
        token_endpoint_auth_method: Some(method),
        grant_types: Some(
            non_empty(args.grant_types)
                .unwrap_or_else(|| s.grant_types.iter().map(|g| g.as_str().to_string()).collect()),
        ),
        response_types: None,
        client_name: Some(args.name.unwrap_or_else(|| s.client_name.clone())),
        scope: Some(args.scope.unwrap_or_else(|| s.scope.to_string())),
        post_logout_redirect_uris: Some(
            non_empty(args.post_logout_redirect_uris).unwrap_or_else(|| s.post_logout_redirect_uris.clone()),
        ),
        logo_uri: args.logo_uri.or_else(|| s.logo_uri.clone()),
        client_uri: args.client_uri.or_else(|| s.client_uri.clone()),
        policy_uri: args.policy_uri.or_else(|| s.policy_uri.clone()),
        tos_uri: args.tos_uri.or_else(|| s.tos_uri.clone()),
        contacts: Some(non_empty(args.contacts).unwrap_or_else(|| s.contacts.clone())),
        software_id: s.software_id.clone(),
        software_version: s.software_version.clone(),
        backchannel_logout_uri: args.backchannel_logout_uri.or_else(|| s.backchannel_logout_uri.clone()),
        backchannel_logout_session_required: Some(s.backchannel_logout_session_required),
        jwks,
        jwks_uri,
        token_endpoint_auth_signing_alg: signing_alg,
        token_exchange_audiences: Some(if args.clear_exchange_lists {
            Vec::new()
        } else {
            non_empty(args.exchange_audiences).unwrap_or_else(|| s.token_exchange_audiences.clone())
        }),
        token_exchange_subject_clients: Some(if args.clear_exchange_lists {
            Vec::new()
        } else {
            non_empty(args.exchange_subject_clients).unwrap_or_else(|| s.token_exchange_subject_clients.clone())
        }),
        require_mfa: Some(args.require_mfa.unwrap_or(s.require_mfa)),
        default_acr_values: Some(if args.clear_default_acr {
            Vec::new()
        } else {
            non_empty(args.default_acr_values).unwrap_or_else(|| s.default_acr_values.clone())
        }),
        ..Default::default()
    };
    args.protocol.apply(&mut metadata, Some(s));
    let policy = policy(ctx, args.allow_insecure_redirect);
    let mut settings: ClientSettings = validate(metadata, &policy)?;
    if settings.client_name.is_empty() {
        bail!("--name must not be empty");
    }
    settings.skip_consent = args.skip_consent.unwrap_or(client.settings.skip_consent);
    settings.audiences = match non_empty(args.audiences) {
        Some(list) => check_audiences(list)?,
        None => client.settings.audiences.clone(),
    };
    settings.introspection = args.introspection.unwrap_or(client.settings.introspection);
    // An operator's edit does not take the client's RFC 7592 access away,
    // nor forget who vouched for it.
    let secret_key = policy.client_secret_key.as_ref();
    let Some(Replaced { new_secret }) =
        clients::operator_replace(&*ctx.store, &mut client, settings, ctx.clock.now(), secret_key).await?
    else {
        bail!("no client with id {:?}", client.client_id);
    };
    let mut json = client_json(&client);
    if let Some(secret) = &new_secret {
        json["client_secret"] = secret.clone().into();
    }
    ctx.print(
        || {
            let mut text = describe(&client);
            if let Some(secret) = &new_secret {
                text.push_str(&format!("\nclient_secret:  {secret}\n\nThe secret is shown only this once."));
            }
            text
        },
        &json,
    );
    Ok(())
}

async fn rotate_secret(ctx: &Context, client_id: &str) -> anyhow::Result<()> {
    let mut client = find(ctx, client_id).await?;
    let secret_key = ctx.settings.registration_policy().client_secret_key;
    let secret = clients::rotate_secret(&*ctx.store, &mut client, ctx.clock.now(), secret_key.as_ref()).await?;
    ctx.print(
        || format!("client_id:      {client_id}\nclient_secret:  {secret}\n\nThe old secret no longer works."),
        &serde_json::json!({"client_id": client_id, "client_secret": secret}),
    );
    Ok(())
}

/// Resource indicators: absolute URIs without a fragment (RFC 8707 §2).
fn check_audiences(list: Vec<String>) -> anyhow::Result<Vec<String>> {
    latchkey_core::client::check_audiences(&list).map_err(|e| anyhow!("--{e}"))?;
    Ok(list)
}

fn client_json(c: &Client) -> serde_json::Value {
    let mut v = c.metadata_json();
    v["skip_consent"] = c.settings.skip_consent.into();
    v["dynamically_registered"] = c.settings.dynamically_registered.into();
    v["audiences"] = c.settings.audiences.clone().into();
    v["introspection"] = c.settings.introspection.into();
    v["require_mfa"] = c.settings.require_mfa.into();
    v["updated_at"] = c.updated_at.into();
    v
}

fn describe(c: &Client) -> String {
    let s = &c.settings;
    let list = |v: &[String]| {
        if v.is_empty() { "-".to_string() } else { v.join(" ") }
    };
    format!(
        "client_id:      {}\nname:           {}\ntype:           {}\nauth method:    {}\ngrant types:    {}\n\
         redirect URIs:  {}\npost-logout:    {}\nscope:          {}\nskip consent:   {}\nrequire mfa:    {}\n\
         default acr:    {}\ncreated:        {}",
        c.client_id,
        s.client_name,
        if c.is_public() { "public" } else { "confidential" },
        s.token_endpoint_auth_method.as_str(),
        s.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(" "),
        list(&s.redirect_uris),
        list(&s.post_logout_redirect_uris),
        if s.scope.is_empty() { "-".to_string() } else { s.scope.to_string() },
        s.skip_consent,
        s.require_mfa,
        list(&s.default_acr_values),
        timestamp(c.created_at),
    )
}

impl crate::cli::ClientProtocolArgs {
    /// Sets these flags on `metadata`. A flag left out keeps the value of
    /// `current` (an update), or the metadata's default (a creation).
    fn apply(self, metadata: &mut ClientMetadata, current: Option<&ClientSettings>) {
        let keep = |value: Option<bool>, old: fn(&ClientSettings) -> bool| value.or(current.map(old));
        let keep_alg = |value: Option<String>, old: fn(&ClientSettings) -> &Option<String>| {
            value.or_else(|| current.and_then(|s| old(s).clone()))
        };
        metadata.require_pushed_authorization_requests =
            keep(self.require_par, |s| s.require_pushed_authorization_requests);
        metadata.require_signed_request_object =
            keep(self.require_signed_request_object, |s| s.require_signed_request_object);
        metadata.dpop_bound_access_tokens = keep(self.dpop_bound_access_tokens, |s| s.dpop_bound_access_tokens);
        metadata.fapi2_security_profile = keep(self.fapi2, |s| s.fapi2_security_profile);
        metadata.authorization_signed_response_alg =
            keep_alg(self.authorization_signed_response_alg, |s| &s.authorization_signed_response_alg);
        metadata.id_token_signed_response_alg =
            keep_alg(self.id_token_signed_response_alg, |s| &s.id_token_signed_response_alg);
        metadata.userinfo_signed_response_alg =
            keep_alg(self.userinfo_signed_response_alg, |s| &s.userinfo_signed_response_alg);
    }
}

//! `/admin/clients`: the registered clients, found by id or name and paged;
//! registering one (its secret shown once, on the page after), editing every
//! setting `latchkey client` has, rotating the secret (shown once), deleting
//! one after a confirmation, and who has granted it what (its consents) and
//! is signed in to it.
//!
//! The form is read into the members of the admin API's client body and
//! checked by the same domain operation (`clients::settings_from_json`);
//! a refusal is shown beside the field it names, with what was entered kept.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use latchkey_core::Client;
use latchkey_core::client::{AuthMethod, GrantType};
use latchkey_domain::clients::{self, DeleteClientError, Replaced, RotateSecretError};
use serde_json::{Map, Value};

use crate::page::{Flash, Layout, Nav, Page, Pager, SearchQuery, not_found, render, search_pager, store_failed, when};
use crate::session::redirect_with;
use crate::{Action, Admin, ConsoleState, Posted, record};

/// Clients per page of the list.
const PER_PAGE: usize = 50;
/// At most this many of a client's consents are shown (newest first).
const GRANTS_SHOWN: u32 = 100;

/// The form's values as text, as entered (or as stored, for an edit).
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientForm {
    pub client_name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub scope: String,
    pub contacts: String,
    pub client_uri: String,
    pub logo_uri: String,
    pub policy_uri: String,
    pub tos_uri: String,
    pub backchannel_logout_uri: String,
    pub backchannel_logout_session_required: bool,
    pub jwks_uri: String,
    pub jwks: String,
    pub token_endpoint_auth_signing_alg: String,
    pub require_pushed_authorization_requests: bool,
    pub require_signed_request_object: bool,
    pub dpop_bound_access_tokens: bool,
    pub fapi2_security_profile: bool,
    pub authorization_signed_response_alg: String,
    pub id_token_signed_response_alg: String,
    pub userinfo_signed_response_alg: String,
    pub token_exchange_audiences: String,
    pub token_exchange_subject_clients: String,
    pub require_mfa: bool,
    pub default_acr_values: String,
    pub skip_consent: bool,
    pub introspection: bool,
    pub audiences: String,
}

/// One value per line (lists of URIs, contacts, audiences).
fn lines(v: &[String]) -> String {
    v.join("\n")
}

fn split_lines(text: &str) -> Vec<Value> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| Value::String(l.to_string())).collect()
}

impl ClientForm {
    /// A new client's form: the CLI's defaults (a confidential web app).
    fn blank() -> Self {
        Self {
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            token_endpoint_auth_method: "client_secret_basic".into(),
            scope: "openid profile email".into(),
            ..Self::default()
        }
    }

    fn of(client: &Client) -> Self {
        let s = &client.settings;
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        Self {
            client_name: s.client_name.clone(),
            redirect_uris: lines(&s.redirect_uris),
            post_logout_redirect_uris: lines(&s.post_logout_redirect_uris),
            grant_types: s.grant_types.iter().map(|g| g.as_str().to_string()).collect(),
            token_endpoint_auth_method: s.token_endpoint_auth_method.as_str().to_string(),
            scope: s.scope.to_string(),
            contacts: lines(&s.contacts),
            client_uri: text(&s.client_uri),
            logo_uri: text(&s.logo_uri),
            policy_uri: text(&s.policy_uri),
            tos_uri: text(&s.tos_uri),
            backchannel_logout_uri: text(&s.backchannel_logout_uri),
            backchannel_logout_session_required: s.backchannel_logout_session_required,
            jwks_uri: text(&s.jwks_uri),
            jwks: s.jwks.as_ref().map(|j| serde_json::to_string_pretty(j).unwrap_or_default()).unwrap_or_default(),
            token_endpoint_auth_signing_alg: text(&s.token_endpoint_auth_signing_alg),
            require_pushed_authorization_requests: s.require_pushed_authorization_requests,
            require_signed_request_object: s.require_signed_request_object,
            dpop_bound_access_tokens: s.dpop_bound_access_tokens,
            fapi2_security_profile: s.fapi2_security_profile,
            authorization_signed_response_alg: text(&s.authorization_signed_response_alg),
            id_token_signed_response_alg: text(&s.id_token_signed_response_alg),
            userinfo_signed_response_alg: text(&s.userinfo_signed_response_alg),
            token_exchange_audiences: lines(&s.token_exchange_audiences),
            token_exchange_subject_clients: lines(&s.token_exchange_subject_clients),
            require_mfa: s.require_mfa,
            default_acr_values: s.default_acr_values.join(" "),
            skip_consent: s.skip_consent,
            introspection: s.introspection,
            audiences: lines(&s.audiences),
        }
    }

    /// The posted fields (a checkbox is present only when ticked; grant
    /// types repeat).
    fn posted(pairs: &[(String, String)]) -> Self {
        let mut f = Self::default();
        for (k, v) in pairs {
            let v = v.clone();
            match k.as_str() {
                "client_name" => f.client_name = v,
                "redirect_uris" => f.redirect_uris = v,
                "post_logout_redirect_uris" => f.post_logout_redirect_uris = v,
                "grant_types" => f.grant_types.push(v),
                "token_endpoint_auth_method" => f.token_endpoint_auth_method = v,
                "scope" => f.scope = v,
                "contacts" => f.contacts = v,
                "client_uri" => f.client_uri = v,
                "logo_uri" => f.logo_uri = v,
                "policy_uri" => f.policy_uri = v,
                "tos_uri" => f.tos_uri = v,
                "backchannel_logout_uri" => f.backchannel_logout_uri = v,
                "backchannel_logout_session_required" => f.backchannel_logout_session_required = true,
                "jwks_uri" => f.jwks_uri = v,
                "jwks" => f.jwks = v,
                "token_endpoint_auth_signing_alg" => f.token_endpoint_auth_signing_alg = v,
                "require_pushed_authorization_requests" => f.require_pushed_authorization_requests = true,
                "require_signed_request_object" => f.require_signed_request_object = true,
                "dpop_bound_access_tokens" => f.dpop_bound_access_tokens = true,
                "fapi2_security_profile" => f.fapi2_security_profile = true,
                "authorization_signed_response_alg" => f.authorization_signed_response_alg = v,
                "id_token_signed_response_alg" => f.id_token_signed_response_alg = v,
                "userinfo_signed_response_alg" => f.userinfo_signed_response_alg = v,
                "token_exchange_audiences" => f.token_exchange_audiences = v,
                "token_exchange_subject_clients" => f.token_exchange_subject_clients = v,
                "require_mfa" => f.require_mfa = true,
                "default_acr_values" => f.default_acr_values = v,
                "skip_consent" => f.skip_consent = true,
                "introspection" => f.introspection = true,
                "audiences" => f.audiences = v,
                _ => {}
            }
        }
        f
    }

    /// The admin API's client body for these values (blank optional
    /// values left out, so they take their defaults), or the field whose
    /// text is not what it must be.
    fn to_json(&self, keep: Option<&Client>) -> Result<Map<String, Value>, (&'static str, String)> {
        let mut m = Map::new();
        let mut text = |name: &str, v: &str| {
            let v = v.trim();
            if !v.is_empty() {
                m.insert(name.into(), Value::String(v.to_string()));
            }
        };
        text("client_name", &self.client_name);
        text("token_endpoint_auth_method", &self.token_endpoint_auth_method);
        text("scope", &self.scope);
        text("client_uri", &self.client_uri);
        text("logo_uri", &self.logo_uri);
        text("policy_uri", &self.policy_uri);
        text("tos_uri", &self.tos_uri);
        text("backchannel_logout_uri", &self.backchannel_logout_uri);
        text("jwks_uri", &self.jwks_uri);
        text("token_endpoint_auth_signing_alg", &self.token_endpoint_auth_signing_alg);
        text("authorization_signed_response_alg", &self.authorization_signed_response_alg);
        text("id_token_signed_response_alg", &self.id_token_signed_response_alg);
        text("userinfo_signed_response_alg", &self.userinfo_signed_response_alg);
        m.insert("redirect_uris".into(), Value::Array(split_lines(&self.redirect_uris)));
        m.insert("post_logout_redirect_uris".into(), Value::Array(split_lines(&self.post_logout_redirect_uris)));
        m.insert("contacts".into(), Value::Array(split_lines(&self.contacts)));
        m.insert("token_exchange_audiences".into(), Value::Array(split_lines(&self.token_exchange_audiences)));
        m.insert(
            "token_exchange_subject_clients".into(),
            Value::Array(split_lines(&self.token_exchange_subject_clients)),
        );
        m.insert("audiences".into(), Value::Array(split_lines(&self.audiences)));
        let acr: Vec<Value> =
            self.default_acr_values.split_whitespace().map(|v| Value::String(v.to_string())).collect();
        m.insert("default_acr_values".into(), Value::Array(acr));
        m.insert("grant_types".into(), self.grant_types.iter().map(|g| Value::String(g.clone())).collect());
        for (name, on) in [
            ("backchannel_logout_session_required", self.backchannel_logout_session_required),
            ("require_pushed_authorization_requests", self.require_pushed_authorization_requests),
            ("require_signed_request_object", self.require_signed_request_object),
            ("dpop_bound_access_tokens", self.dpop_bound_access_tokens),
            ("fapi2_security_profile", self.fapi2_security_profile),
            ("require_mfa", self.require_mfa),
            ("skip_consent", self.skip_consent),
            ("introspection", self.introspection),
        ] {
            m.insert(name.into(), Value::Bool(on));
        }
        if !self.jwks.trim().is_empty() {
            let jwks: Value = serde_json::from_str(&self.jwks)
                .map_err(|e| ("jwks", format!("is not JSON (a JWK Set, {{\"keys\": [...]}}): {e}")))?;
            m.insert("jwks".into(), jwks);
        }
        // What the form does not show, an edit keeps (as the CLI's update).
        if let Some(client) = keep {
            let s = &client.settings;
            if let Some(v) = &s.software_id {
                m.insert("software_id".into(), v.clone().into());
            }
            if let Some(v) = &s.software_version {
                m.insert("software_version".into(), v.clone().into());
            }
        }
        Ok(m)
    }
}

/// Errors of a form, by member.
#[derive(Debug, Default)]
pub(crate) struct Errors(BTreeMap<&'static str, String>);

impl Errors {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn add(&mut self, name: &'static str, message: impl Into<String>) {
        self.0.entry(name).or_insert_with(|| message.into());
    }
}

/// A choice of a select or a set of checkboxes.
pub(crate) struct Choice {
    pub value: &'static str,
    pub label: &'static str,
}

const GRANT_TYPES: &[Choice] = &[
    Choice { value: "authorization_code", label: "Authorization code" },
    Choice { value: "refresh_token", label: "Refresh token" },
    Choice { value: "client_credentials", label: "Client credentials" },
    Choice { value: latchkey_core::device::GRANT_TYPE, label: "Device authorization (RFC 8628)" },
    Choice { value: latchkey_core::client::TOKEN_EXCHANGE, label: "Token exchange (RFC 8693)" },
];

const AUTH_METHODS: &[Choice] = &[
    Choice { value: "client_secret_basic", label: "client_secret_basic: a secret in the Authorization header" },
    Choice { value: "client_secret_post", label: "client_secret_post: a secret in the form" },
    Choice { value: "client_secret_jwt", label: "client_secret_jwt: a JWT signed with the secret" },
    Choice { value: "private_key_jwt", label: "private_key_jwt: a JWT signed with the client's key" },
    Choice { value: "none", label: "none: a public client (PKCE, no secret)" },
];

const ASSERTION_ALGS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA", "HS256", "HS384", "HS512"];
const RESPONSE_ALGS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];

#[derive(Template)]
#[template(path = "console/client_edit.html")]
struct EditPage<'a> {
    layout: Layout,
    /// `None` for a new client.
    client: Option<&'a Client>,
    form: ClientForm,
    errors: Errors,
    /// A refusal not tied to one field.
    problem: Option<String>,
    may_manage: bool,
    grant_types: &'static [Choice],
    auth_methods: &'static [Choice],
    assertion_algs: &'static [&'static str],
    response_algs: &'static [&'static str],
    protected: bool,
    /// Where the form posts (and the client's page).
    action: String,
    has_secret: bool,
    grants: Vec<GrantRow>,
    sessions: Vec<SessionRow>,
    created: String,
    updated: String,
}

pub(crate) struct GrantRow {
    pub user_id: String,
    pub username: String,
    pub scope: String,
    pub granted: String,
    pub updated: String,
}

pub(crate) struct SessionRow {
    pub username: String,
    pub user_id: String,
    pub sid: String,
    pub started: String,
    pub last_seen: String,
}

/// A path segment, percent-encoded.
pub(crate) fn enc(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect::<String>().replace('+', "%20")
}

pub(crate) struct ClientRow {
    pub client_id: String,
    pub name: String,
    pub kind: &'static str,
    pub auth_method: &'static str,
    pub grant_types: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "console/clients.html")]
struct ListPage {
    layout: Layout,
    query: String,
    clients: Vec<ClientRow>,
    pager: Pager,
    may_manage: bool,
}

pub(crate) async fn list(State(state): State<ConsoleState>, admin: Admin, Query(query): Query<SearchQuery>) -> Page {
    let (q, page, first) = query.parts();
    let (found, more) =
        clients::search(&*state.store, &q, first, PER_PAGE).await.map_err(|e| store_failed(&state, e))?;
    let pager = search_pager("/admin/clients", &q, (page, first), found.len(), more);
    let rows = found
        .iter()
        .map(|c| ClientRow {
            client_id: c.client_id.clone(),
            name: c.settings.client_name.clone(),
            kind: if c.is_public() { "public" } else { "confidential" },
            auth_method: c.settings.token_endpoint_auth_method.as_str(),
            grant_types: c.settings.grant_types.iter().map(|g| short_grant(*g)).collect::<Vec<_>>().join(", "),
            created: when(c.created_at),
        })
        .collect();
    let page = ListPage {
        layout: Layout::new(&state, &admin, Nav::Clients),
        query: q,
        clients: rows,
        pager,
        may_manage: admin.may(Action::ManageClients),
    };
    Ok(render(&state, StatusCode::OK, &page))
}

fn short_grant(g: GrantType) -> &'static str {
    match g {
        GrantType::AuthorizationCode => "code",
        GrantType::RefreshToken => "refresh",
        GrantType::ClientCredentials => "client credentials",
        GrantType::DeviceCode => "device",
        GrantType::TokenExchange => "exchange",
    }
}

fn edit_page<'a>(state: &ConsoleState, admin: &Admin, client: Option<&'a Client>, form: ClientForm) -> EditPage<'a> {
    EditPage {
        layout: Layout::new(state, admin, Nav::Clients),
        client,
        form,
        errors: Errors::default(),
        problem: None,
        may_manage: admin.may(Action::ManageClients),
        grant_types: GRANT_TYPES,
        auth_methods: AUTH_METHODS,
        assertion_algs: ASSERTION_ALGS,
        response_algs: RESPONSE_ALGS,
        protected: client.is_some_and(|c| clients::is_protected(&c.client_id)),
        action: match client {
            Some(c) => format!("/admin/clients/{}", enc(&c.client_id)),
            None => "/admin/clients/new".into(),
        },
        has_secret: client.is_some_and(has_secret),
        grants: Vec::new(),
        sessions: Vec::new(),
        created: client.map(|c| when(c.created_at)).unwrap_or_default(),
        updated: client.map(|c| when(c.updated_at)).unwrap_or_default(),
    }
}

pub(crate) async fn new_form(State(state): State<ConsoleState>, admin: Admin) -> Page {
    admin.require(&state, Action::ManageClients)?;
    Ok(render(&state, StatusCode::OK, &edit_page(&state, &admin, None, ClientForm::blank())))
}

/// Checks the posted form as the admin API checks its body; the errors by
/// field when refused.
fn checked(
    state: &ConsoleState,
    form: &ClientForm,
    keep: Option<&Client>,
) -> Result<latchkey_core::client::ClientSettings, Errors> {
    let mut errors = Errors::default();
    let body = match form.to_json(keep) {
        Ok(body) => body,
        Err((field, message)) => {
            errors.add(field, message);
            return Err(errors);
        }
    };
    clients::settings_from_json(&state.policy, body).map_err(|e| {
        errors.add(e.member().unwrap_or("form"), e.to_string());
        errors
    })
}

fn refused(
    state: &ConsoleState,
    admin: &Admin,
    client: Option<&Client>,
    form: ClientForm,
    mut errors: Errors,
) -> Response {
    let mut page = edit_page(state, admin, client, form);
    page.problem = errors.0.remove("form");
    if page.problem.is_none() {
        page.problem = Some("The client was not saved: see the fields marked below.".into());
    }
    page.errors = errors;
    render(state, StatusCode::UNPROCESSABLE_ENTITY, &page)
}

#[derive(Template)]
#[template(path = "console/client_secret.html")]
struct SecretPage<'a> {
    layout: Layout,
    client: &'a Client,
    secret: &'a str,
    /// "registered", "rotated", "changed".
    what: &'a str,
}

pub(crate) async fn create(
    State(state): State<ConsoleState>,
    Posted { admin, form }: Posted<Vec<(String, String)>>,
) -> Page {
    admin.require(&state, Action::ManageClients)?;
    let form = ClientForm::posted(&form);
    let settings = match checked(&state, &form, None) {
        Ok(s) => s,
        Err(errors) => return Ok(refused(&state, &admin, None, form, errors)),
    };
    let now = state.clock.now();
    let (client, secret) =
        clients::create_client(&*state.store, settings, now, state.policy.client_secret_key.as_ref())
            .await
            .map_err(|e| store_failed(&state, e))?;
    let event = admin
        .event(now, "client.created")
        .subject(&client.client_id)
        .client(&client.client_id)
        .detail("client_name", client.settings.client_name.as_str());
    record(&state, event).await;
    let to = format!("/admin/clients/{}", enc(&client.client_id));
    match secret {
        // The secret is on this page only (never stored in the clear, never in a cookie).
        Some(secret) => {
            let page = SecretPage {
                layout: Layout::new(&state, &admin, Nav::Clients),
                client: &client,
                secret: &secret,
                what: "registered",
            };
            Ok(render(&state, StatusCode::CREATED, &page))
        }
        None => Ok(redirect_with(
            &state,
            &to,
            Flash::ok(format!("Registered {} (a public client: no secret).", client.settings.client_name)),
        )),
    }
}

async fn find(state: &ConsoleState, admin: &Admin, client_id: &str) -> Result<Client, Response> {
    match state.store.get_client(client_id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(not_found(state, admin, &format!("There is no client {client_id}."))),
        Err(e) => Err(store_failed(state, e)),
    }
}

pub(crate) async fn show(State(state): State<ConsoleState>, admin: Admin, Path(client_id): Path<String>) -> Page {
    let client = find(&state, &admin, &client_id).await?;
    let failed = |e| store_failed(&state, e);
    let mut page = edit_page(&state, &admin, Some(&client), ClientForm::of(&client));
    let now = state.clock.now();
    let consents = state.store.list_client_consents(&client.client_id, GRANTS_SHOWN).await.map_err(failed)?;
    for c in consents {
        let user = state.store.get_user(&c.user_id).await.map_err(failed)?;
        let username = user.map(|u| u.username).unwrap_or_else(|| "(deleted)".into());
        // The people who granted it and are signed in to it now.
        for s in state.store.list_user_sessions(&c.user_id, now).await.map_err(failed)? {
            if s.client_ids.contains(&client.client_id) {
                page.sessions.push(SessionRow {
                    username: username.clone(),
                    user_id: c.user_id.clone(),
                    sid: s.auth.sid,
                    started: when(s.created_at),
                    last_seen: when(s.last_seen_at),
                });
            }
        }
        page.grants.push(GrantRow {
            user_id: c.user_id,
            username,
            scope: c.scope.to_string(),
            granted: when(c.granted_at),
            updated: when(c.updated_at),
        });
    }
    Ok(render(&state, StatusCode::OK, &page))
}

pub(crate) async fn update(
    State(state): State<ConsoleState>,
    Path(client_id): Path<String>,
    Posted { admin, form }: Posted<Vec<(String, String)>>,
) -> Page {
    admin.require(&state, Action::ManageClients)?;
    let mut client = find(&state, &admin, &client_id).await?;
    let form = ClientForm::posted(&form);
    let settings = match checked(&state, &form, Some(&client)) {
        Ok(s) => s,
        Err(errors) => return Ok(refused(&state, &admin, Some(&client.clone()), form, errors)),
    };
    let now = state.clock.now();
    let secret_key = state.policy.client_secret_key.as_ref();
    let replaced = clients::operator_replace(&*state.store, &mut client, settings, now, secret_key)
        .await
        .map_err(|e| store_failed(&state, e))?;
    let Some(Replaced { new_secret }) = replaced else {
        return Err(not_found(&state, &admin, &format!("Client {client_id} was deleted meanwhile.")));
    };
    let event = admin.event(now, "client.updated").subject(&client.client_id).client(&client.client_id);
    record(&state, event).await;
    match new_secret {
        Some(secret) => {
            let page = SecretPage {
                layout: Layout::new(&state, &admin, Nav::Clients),
                client: &client,
                secret: &secret,
                what: "changed",
            };
            Ok(render(&state, StatusCode::OK, &page))
        }
        None => Ok(redirect_with(
            &state,
            &format!("/admin/clients/{}", enc(&client.client_id)),
            Flash::ok(format!("Saved {}.", client.settings.client_name)),
        )),
    }
}

pub(crate) async fn rotate_secret(
    State(state): State<ConsoleState>,
    Path(client_id): Path<String>,
    Posted { admin, form: _ }: Posted<crate::session::Ignored>,
) -> Page {
    admin.require(&state, Action::ManageClients)?;
    let mut client = find(&state, &admin, &client_id).await?;
    let now = state.clock.now();
    let back = format!("/admin/clients/{}", enc(&client_id));
    let secret =
        match clients::rotate_secret(&*state.store, &mut client, now, state.policy.client_secret_key.as_ref()).await {
            Ok(secret) => secret,
            Err(RotateSecretError::Store(e)) => return Err(store_failed(&state, e)),
            Err(e) => return Ok(redirect_with(&state, &back, Flash::error(format!("Not rotated: {e}.")))),
        };
    record(&state, admin.event(now, "client.secret_rotated").subject(&client_id).client(&client_id)).await;
    let page = SecretPage {
        layout: Layout::new(&state, &admin, Nav::Clients),
        client: &client,
        secret: &secret,
        what: "rotated",
    };
    Ok(render(&state, StatusCode::OK, &page))
}

#[derive(Template)]
#[template(path = "console/confirm.html")]
pub(crate) struct ConfirmPage {
    pub layout: Layout,
    pub title: String,
    pub message: String,
    pub action: String,
    pub button: String,
    pub back: String,
}

pub(crate) async fn confirm_delete(
    State(state): State<ConsoleState>,
    admin: Admin,
    Path(client_id): Path<String>,
) -> Page {
    admin.require(&state, Action::ManageClients)?;
    let client = find(&state, &admin, &client_id).await?;
    let path = format!("/admin/clients/{}", enc(&client_id));
    let page = ConfirmPage {
        layout: Layout::new(&state, &admin, Nav::Clients),
        title: format!("Delete {}?", client.settings.client_name),
        message: format!(
            "Deleting client {} also deletes the consents people gave it and its refresh tokens; its access tokens \
             stop working. Its users will have to sign in again once it is registered anew, with a new id.",
            client.client_id
        ),
        action: format!("{path}/delete"),
        button: format!("Delete {}", client.settings.client_name),
        back: path,
    };
    Ok(render(&state, StatusCode::OK, &page))
}

pub(crate) async fn delete(
    State(state): State<ConsoleState>,
    Path(client_id): Path<String>,
    Posted { admin, form: _ }: Posted<crate::session::Ignored>,
) -> Page {
    admin.require(&state, Action::ManageClients)?;
    let back = format!("/admin/clients/{}", enc(&client_id));
    match clients::delete_client(&*state.store, &client_id).await {
        Ok(true) => {
            let now = state.clock.now();
            record(&state, admin.event(now, "client.deleted").subject(&client_id).client(&client_id)).await;
            Ok(redirect_with(&state, "/admin/clients", Flash::ok(format!("Deleted client {client_id}."))))
        }
        Ok(false) => {
            Ok(redirect_with(&state, "/admin/clients", Flash::error(format!("There is no client {client_id}."))))
        }
        Err(DeleteClientError::Protected(_)) => {
            let e = DeleteClientError::Protected(client_id.clone());
            Ok(redirect_with(&state, &back, Flash::error(format!("Not deleted: {e}."))))
        }
        Err(DeleteClientError::Store(e)) => Err(store_failed(&state, e)),
    }
}

/// Whether `method` is one a secret goes with (the rotate button).
pub(crate) fn has_secret(client: &Client) -> bool {
    !matches!(client.settings.token_endpoint_auth_method, AuthMethod::None | AuthMethod::PrivateKeyJwt)
}

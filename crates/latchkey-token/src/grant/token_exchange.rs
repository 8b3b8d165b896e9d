//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693):
//! a confidential client trades a token this server issued (an access token
//! or an ID token) for an access token aimed at another service. With an
//! actor token the new token records who acts in `act`, nested over the
//! subject's own (delegation); without, the client acts as the subject
//! (impersonation), and the subject's `act` chain is kept all the same.
//!
//! Policy (docs/device-and-exchange.md, "Token exchange"): the subject token
//! must be issued to the caller or name it in `aud`; the target is another
//! registered client's `client_id` or a resource the server knows; the
//! client's `token_exchange_*` lists narrow both. The scope never grows,
//! and the new token never outlives its subject.

use latchkey_core::claims::{AccessTokenClaims, Actor, Audience, IdTokenClaims, groups};
use latchkey_core::{Client, GrantType, Scope, random};
use url::Url;

use crate::access::{AccessTokenError, validate};
use crate::mint::TokenResponse;
use crate::{TokenError, TokenState};

/// Token type identifiers (RFC 8693 §3).
pub const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";
pub const ID_TOKEN: &str = "urn:ietf:params:oauth:token-type:id_token";
pub const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The parameters of an exchange (RFC 8693 §2.1), as the token endpoint's
/// form carries them.
#[derive(Debug, serde::Deserialize)]
pub struct ExchangeRequest {
    pub subject_token: String,
    pub subject_token_type: String,
    pub actor_token: Option<String>,
    pub actor_token_type: Option<String>,
    pub resource: Option<String>,
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub requested_token_type: Option<String>,
}

/// A subject or actor token, read and checked, whichever kind it was.
#[derive(Debug)]
struct Presented {
    sub: String,
    /// The client the token was issued to.
    client_id: String,
    aud: Audience,
    scope: Scope,
    /// How the person signed in; `None` for a client's own token.
    person: Option<(i64, Option<String>, Option<Vec<String>>)>,
    act: Option<Actor>,
    may_act: Option<Actor>,
    exp: i64,
    /// The DPoP key an access token is bound to.
    jkt: Option<String>,
}

impl Presented {
    /// A DPoP-bound token is usable only with a proof by its key (RFC 9449
    /// §7.2): here, the exchange request's proof.
    fn check_binding(&self, proof_jkt: Option<&str>, name: &str) -> Result<(), TokenError> {
        match &self.jkt {
            Some(bound) if proof_jkt != Some(bound.as_str()) => {
                Err(refused(format!("the {name} is DPoP-bound: send a DPoP proof by its key")))
            }
            _ => Ok(()),
        }
    }

    fn as_actor(&self) -> Actor {
        Actor {
            sub: self.sub.clone(),
            client_id: (self.client_id != self.sub).then(|| self.client_id.clone()),
            act: None,
        }
    }
}

fn refused(why: impl Into<String>) -> TokenError {
    // RFC 8693 §2.2.2: an invalid or unacceptable subject or actor token is
    // `invalid_request`.
    TokenError::InvalidRequest(why.into())
}

pub async fn exchange(
    state: &TokenState,
    client: &Client,
    req: ExchangeRequest,
    jkt: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if client.is_public() || !client.allows_grant(GrantType::TokenExchange) {
        return Err(TokenError::UnauthorizedClient("token exchange"));
    }
    match req.requested_token_type.as_deref() {
        None | Some(ACCESS_TOKEN) => {}
        Some(other) => {
            return Err(refused(format!(
                "requested_token_type {other} is not supported; this server issues {ACCESS_TOKEN}"
            )));
        }
    }
    if req.actor_token.is_some() != req.actor_token_type.is_some() {
        return Err(refused("actor_token and actor_token_type go together"));
    }
    if req.resource.is_some() && req.audience.is_some() {
        return Err(refused("send resource or audience, not both"));
    }

    let subject = read_token(state, &req.subject_token, &req.subject_token_type, "subject_token").await?;
    subject.check_binding(jkt, "subject_token")?;
    let issued_to_caller = subject.client_id == client.client_id || subject.aud.contains(&client.client_id);
    if !issued_to_caller {
        return Err(refused("the subject token was not issued to this client and does not name it in aud"));
    }
    let subject_clients = &client.settings.token_exchange_subject_clients;
    if !subject_clients.is_empty() && !subject_clients.contains(&subject.client_id) {
        return Err(refused("this client may not exchange tokens issued to that client"));
    }

    let act = match (&req.actor_token, &req.actor_token_type) {
        (Some(token), Some(kind)) => {
            let actor = read_token(state, token, kind, "actor_token").await?;
            actor.check_binding(jkt, "actor_token")?;
            if actor.client_id != client.client_id {
                return Err(refused("the actor token was not issued to this client"));
            }
            let mut act = actor.as_actor();
            if let Some(may_act) = &subject.may_act
                && !act.satisfies(may_act)
            {
                return Err(refused("the subject token's may_act does not name this actor"));
            }
            act.act = subject.act.clone().map(Box::new);
            Some(act)
        }
        // Impersonation keeps the history of who acted before.
        _ => subject.act.clone(),
    };

    let (audience, target_is_client) = target(state, client, req.resource.as_deref(), req.audience.as_deref()).await?;
    let scope = match req.scope.as_deref() {
        None => subject.scope.clone(),
        Some(s) => {
            let asked = Scope::parse(s).map_err(|e| TokenError::InvalidScope(e.to_string()))?;
            if asked.is_empty() || !asked.is_subset(&subject.scope) {
                return Err(TokenError::InvalidScope("the scope exceeds the subject token's".into()));
            }
            asked
        }
    };

    let now = state.clock.now();
    let s = &state.settings;
    // Never longer than the subject token: exchanging cannot extend a grant.
    let expires_at = (now + s.tokens.access_token_ttl_seconds.secs()).min(subject.exp);
    let jti = random::token(16);
    let mut claims = match &subject.person {
        Some((auth_time, acr, amr)) => {
            let user = state.users.get_user(&subject.sub).await?.filter(|u| !u.disabled).ok_or(TokenError::UserGone)?;
            AccessTokenClaims {
                acr: acr.clone(),
                amr: amr.clone(),
                aud: audience.as_str().into(),
                auth_time: Some(*auth_time),
                client_id: client.client_id.clone(),
                exp: expires_at,
                groups: groups(&user, &scope),
                iat: now,
                iss: s.issuer.clone(),
                jti: jti.clone(),
                scope: Some(scope.clone()),
                sub: subject.sub.clone(),
                act: None,
                may_act: None,
                userinfo_claims: Vec::new(),
                cnf: None,
            }
        }
        None => {
            let mut c = AccessTokenClaims::client(
                &s.issuer,
                &audience,
                &client.client_id,
                &scope,
                jti.clone(),
                now,
                expires_at,
            );
            c.sub.clone_from(&subject.sub);
            c
        }
    };
    claims.act = act;
    claims.cnf = crate::mint::confirmation(jkt);
    // A token for another client: only that client may act with it later.
    claims.may_act = target_is_client.then(|| Actor { sub: audience.clone(), client_id: None, act: None });

    let keys = state.keys.current();
    let key = crate::mint::access_key(state, &keys)?;
    let access_token = key.sign_jwt("at+jwt", &claims).map_err(|e| TokenError::Signing(e.to_string()))?;

    tracing::info!(event = "token_exchanged", client_id = %client.client_id, subject_client = %subject.client_id, "token exchanged");
    let actors: Vec<&str> = claims.act.iter().flat_map(Actor::chain).map(|a| a.sub.as_str()).collect();
    let event = latchkey_core::audit::AuditEvent::new(now, "token.exchanged", format!("client:{}", client.client_id))
        .subject(&subject.sub)
        .client(&client.client_id)
        .detail("subject_client", subject.client_id.as_str())
        .detail("audience", audience.as_str())
        .detail("scope", scope.to_string())
        .detail("actors", actors)
        .detail("jti", jti.as_str());
    latchkey_http::audit(state.audit.as_ref(), event).await;

    Ok(TokenResponse {
        access_token,
        token_type: crate::mint::token_type(jkt.is_some()),
        expires_in: expires_at - now,
        scope: scope.to_string(),
        id_token: None,
        refresh_token: None,
        issued_token_type: Some(ACCESS_TOKEN),
    })
}

/// The audience of the new token and whether it is a registered client:
/// `audience` may name a client or a known resource, `resource` a known
/// resource; without either, the default audience.
async fn target(
    state: &TokenState,
    client: &Client,
    resource: Option<&str>,
    audience: Option<&str>,
) -> Result<(String, bool), TokenError> {
    let default = state.settings.default_audience();
    let (target, is_client) = match (resource, audience) {
        (Some(r), _) => {
            if Url::parse(r).is_err() || r.contains('#') {
                return Err(TokenError::InvalidTarget("resource must be an absolute URI without a fragment".into()));
            }
            (r, false)
        }
        (None, Some(a)) => (a, state.clients.get_client(a).await?.is_some()),
        (None, None) => (default, false),
    };
    let allowed = &client.settings.token_exchange_audiences;
    if !allowed.is_empty() && !allowed.iter().any(|a| a == target) {
        return Err(TokenError::InvalidTarget("this client may not exchange tokens for this target".into()));
    }
    if !is_client && !known_resource(state, client, target).await? {
        return Err(TokenError::InvalidTarget("the target is neither a registered client nor a known resource".into()));
    }
    Ok((target.to_string(), is_client))
}

/// A resource the server knows: the default audience, or one any client
/// may ask tokens for (its `audiences`, RFC 8707).
async fn known_resource(state: &TokenState, client: &Client, target: &str) -> Result<bool, TokenError> {
    if target == state.settings.default_audience() || client.settings.audiences.iter().any(|a| a == target) {
        return Ok(true);
    }
    let clients = state.codes.list_clients().await?;
    Ok(clients.iter().any(|c| c.settings.audiences.iter().any(|a| a == target)))
}

/// Reads a presented token of type `kind`: one of our access tokens or ID
/// tokens, valid now (signature, issuer, expiry, not revoked, its client and
/// person still there).
async fn read_token(state: &TokenState, token: &str, kind: &str, name: &str) -> Result<Presented, TokenError> {
    let (access, id) = match kind {
        ACCESS_TOKEN => (true, false),
        ID_TOKEN => (false, true),
        JWT => (true, true),
        other => {
            return Err(refused(format!(
                "{name}_type {other} is not supported; use {ACCESS_TOKEN}, {ID_TOKEN} or {JWT}"
            )));
        }
    };
    let invalid = || refused(format!("the {name} is invalid, expired or revoked"));
    if access {
        match validate(state, token).await {
            Ok(claims) => return access_token(state, claims).await?.ok_or_else(invalid),
            Err(AccessTokenError::Store(e)) => return Err(e.into()),
            Err(AccessTokenError::Invalid(_)) => {}
        }
    }
    if id && let Some(presented) = id_token(state, token).await? {
        return Ok(presented);
    }
    Err(invalid())
}

async fn access_token(state: &TokenState, c: AccessTokenClaims) -> Result<Option<Presented>, TokenError> {
    let person = !c.is_client_token();
    // A token of a person who is gone or disabled is no longer good (as at introspection).
    if person && state.users.get_user(&c.sub).await?.is_none_or(|u| u.disabled) {
        return Ok(None);
    }
    Ok(Some(Presented {
        person: person.then(|| (c.auth_time.unwrap_or_default(), c.acr, c.amr)),
        scope: c.scope.unwrap_or_default(),
        sub: c.sub,
        client_id: c.client_id,
        aud: c.aud,
        act: c.act,
        may_act: c.may_act,
        exp: c.exp,
        jkt: c.cnf.map(|c| c.jkt),
    }))
}

/// An ID token of ours: its client still registered, the person active,
/// the session it names not ended, and the person's consent for that
/// client still given (its scope is the token's).
async fn id_token(state: &TokenState, token: &str) -> Result<Option<Presented>, TokenError> {
    let Ok(jwt) = state.keys.current().verify_jwt::<IdTokenClaims>(token) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let c = jwt.claims;
    if jwt.header.typ.as_deref() != Some("JWT") || c.iss != state.settings.issuer || c.exp <= now {
        return Ok(None);
    }
    let Some(client_id) = c.azp.clone().or_else(|| c.aud.first().map(str::to_string)) else {
        return Ok(None);
    };
    let Some(client) = state.clients.get_client(&client_id).await? else {
        return Ok(None);
    };
    if state.users.get_user(&c.sub).await?.is_none_or(|u| u.disabled) {
        return Ok(None);
    }
    if let Some(sid) = &c.sid
        && state.codes.find_session_by_sid(sid, now).await?.is_none_or(|s| s.auth.user_id != c.sub)
    {
        return Ok(None);
    }
    let scope = match state.codes.get_consent(&c.sub, &client_id).await? {
        Some(consent) => consent.scope,
        None if client.settings.skip_consent => client.settings.scope.clone(),
        None => return Ok(None),
    };
    Ok(Some(Presented {
        person: Some((c.auth_time.unwrap_or(c.iat), c.acr, c.amr)),
        sub: c.sub,
        client_id,
        aud: c.aud,
        scope,
        act: None,
        may_act: None,
        exp: c.exp,
        jkt: None,
    }))
}

//! Signing in to the console through Latchkey itself, the console session,
//! and CSRF.
//!
//! Sign-in is the authorization code flow with PKCE (S256), `state` and
//! `nonce` through the real `/authorize`, as any relying party does. The
//! code is redeemed in this process through the same domain operation the
//! token endpoint uses (`latchkey_domain::tokens::redeem_code`: single use,
//! bound to the console's client), and the code's record is checked as an
//! ID token's claims would be: the redirect URI, the PKCE verifier, the
//! nonce. No HTTP request to our own public URL (which fails behind load
//! balancers that do not hairpin), and no token is minted that nobody uses.
//!
//! The console session is a cookie holding a JWT signed with the server's
//! signing key (every replica can check it): the admin's user id and the
//! `sid` of their Latchkey session. On each request the Latchkey session is
//! looked up by `sid` and the user read again: signing out anywhere, `latchkey
//! session end`, disabling the account or leaving the groups ends console
//! access at once.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_core::audit::AuditEvent;
use latchkey_core::secret::{constant_time_eq, hash_token};
use latchkey_store::Redemption;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::page::{Flash, signed_out_page};
use crate::{Action, BASE, CONSOLE_CLIENT_ID, ConsoleState, Role, record};

/// The console session cookie (path `/admin`).
pub const SESSION_COOKIE: &str = "latchkey_console";
/// The sign-in in progress (state, nonce, PKCE verifier), for ten minutes.
pub const SIGN_IN_COOKIE: &str = "latchkey_console_sign_in";
const SIGN_IN_SECONDS: i64 = 600;
/// A console session never outlives this, even while its Latchkey session
/// lives on (then the next page signs in again, silently if it can).
const SESSION_SECONDS: i64 = 12 * 3600;
const SESSION_TYP: &str = "latchkey-console+jwt";
const SIGN_IN_TYP: &str = "latchkey-console-sign-in+jwt";
/// The `aud` of the console's cookies: never an ID token's or an access
/// token's audience, so no cookie passes for a token elsewhere.
const AUDIENCE: &str = "latchkey-admin-console#cookie";

#[derive(Debug, Serialize, Deserialize)]
struct SessionClaims {
    aud: String,
    sub: String,
    sid: String,
    /// Random: the CSRF token is derived from it.
    jti: String,
    iat: i64,
    exp: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct SignInClaims {
    aud: String,
    state: String,
    nonce: String,
    verifier: String,
    /// The console page to return to (a path under /admin).
    back: String,
    exp: i64,
}

/// The signed-in admin, checked on every request: a valid console cookie,
/// the Latchkey session it names still active, the account enabled and in
/// one of `admin.console_groups`.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user_id: String,
    pub username: String,
    pub role: Role,
    /// The Latchkey session's public id.
    pub sid: String,
    /// The CSRF token every form of this session carries (field `csrf`).
    pub csrf: String,
    pub ip: Option<IpAddr>,
    /// A message from the previous request (after a POST), shown once.
    pub flash: Option<Flash>,
}

impl Admin {
    /// The audit log's name for this admin.
    pub fn actor(&self) -> String {
        format!("console:{}", self.user_id)
    }

    /// An audit event done by this admin (actor, address, `via`, username).
    pub fn event(&self, now: i64, kind: &str) -> AuditEvent {
        let mut event = AuditEvent::new(now, kind, self.actor())
            .detail("via", "admin console")
            .detail("admin", self.username.as_str());
        if let Some(ip) = self.ip {
            event = event.ip(ip);
        }
        event
    }

    /// Whether this admin's role allows `action`.
    pub fn may(&self, action: Action) -> bool {
        self.role >= action.needs()
    }

    /// Refuses (a 403 page) unless this admin's role allows `action`.
    pub fn require(&self, state: &ConsoleState, action: Action) -> Result<(), Response> {
        if self.may(action) {
            Ok(())
        } else {
            Err(crate::page::forbidden(
                state,
                Some(self),
                &format!("Your role ({}) may not {}.", self.role.as_str(), action.describe()),
            ))
        }
    }
}

/// The CSRF token of a console session: bound to it (derived from its
/// random `jti`, which only the HttpOnly cookie holds), so another site can
/// neither read nor guess it.
fn csrf_of(jti: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(format!("latchkey-console-csrf\0{jti}").as_bytes()))
}

fn peer_ip(parts: &Parts, state: &ConsoleState) -> Option<IpAddr> {
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(latchkey_http::client_address(peer.0.ip(), &parts.headers, &state.trusted_proxies))
}

/// Why there is no admin: not signed in (or the session ended), or signed
/// in without a console role.
enum Missing {
    SignIn,
    NoRole,
}

async fn admin_of(parts: &Parts, state: &ConsoleState) -> Result<Admin, Missing> {
    let cookie = latchkey_http::cookies::get(&parts.headers, SESSION_COOKIE).ok_or(Missing::SignIn)?;
    let now = state.clock.now();
    let keys = state.keys.current();
    let verified = keys.verify_jwt::<SessionClaims>(cookie).map_err(|_| Missing::SignIn)?;
    let claims = verified.claims;
    if verified.header.typ.as_deref() != Some(SESSION_TYP) || claims.aud != AUDIENCE || claims.exp <= now {
        return Err(Missing::SignIn);
    }
    let store_failed = |e: latchkey_store::StoreError| {
        tracing::warn!(error = %e, "console: cannot check the session");
        Missing::SignIn
    };
    let session = state.store.find_session_by_sid(&claims.sid, now).await.map_err(store_failed)?;
    if session.is_none_or(|s| s.auth.user_id != claims.sub) {
        return Err(Missing::SignIn);
    }
    let user = state.store.get_user(&claims.sub).await.map_err(store_failed)?.ok_or(Missing::SignIn)?;
    if user.disabled {
        return Err(Missing::SignIn);
    }
    let role = state.settings.role_of(&user.claims.groups).ok_or(Missing::NoRole)?;
    Ok(Admin {
        user_id: user.id,
        username: user.username,
        role,
        sid: claims.sid,
        csrf: csrf_of(&claims.jti),
        ip: peer_ip(parts, state),
        flash: Flash::read(&parts.headers),
    })
}

impl<S> FromRequestParts<S> for Admin
where
    S: Send + Sync,
    ConsoleState: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let state = ConsoleState::from_ref(state);
        match admin_of(parts, &state).await {
            Ok(admin) => Ok(admin),
            Err(Missing::NoRole) => Err(crate::page::forbidden(
                &state,
                None,
                "Your account is not in a group that may use the admin console.",
            )),
            // A page: sign in, then come back to it. A form: its session is
            // gone; nothing is done (the page it came from signs in again).
            Err(Missing::SignIn) if parts.method == Method::GET => {
                let back = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or(BASE);
                let target = url::form_urlencoded::Serializer::new(format!("{BASE}/sign-in?"))
                    .append_pair("back", back)
                    .finish();
                Err(Redirect::to(&target).into_response())
            }
            Err(Missing::SignIn) => Err(crate::page::forbidden(
                &state,
                None,
                "Your console session has ended. Sign in again, then repeat what you did.",
            )),
        }
    }
}

/// A form posted by a signed-in admin, its CSRF token checked: the `csrf`
/// field must be this session's token, else the request is refused with a
/// 403 page before the handler runs. `T` gets the other fields (it must not
/// deny unknown fields: `csrf` is among them).
pub struct Posted<T> {
    pub admin: Admin,
    pub form: T,
}

impl<S, T> FromRequest<S> for Posted<T>
where
    S: Send + Sync,
    ConsoleState: FromRef<S>,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let console = ConsoleState::from_ref(state);
        let (mut parts, body) = req.into_parts();
        let admin = Admin::from_request_parts(&mut parts, state).await?;
        let is_form = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| crate::page::bad_request(&console, &admin, "The form could not be read."))?;
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
        let presented: Vec<&str> = pairs.iter().filter(|(k, _)| k == "csrf").map(|(_, v)| v.as_str()).collect();
        let valid = is_form && presented.len() == 1 && constant_time_eq(presented[0].as_bytes(), admin.csrf.as_bytes());
        if !valid {
            tracing::warn!(admin = %admin.username, "console: a form without this session's CSRF token was refused");
            return Err(crate::page::forbidden(
                &console,
                Some(&admin),
                "This form was refused: it did not carry this console session's security token. \
                 Reload the page and try again.",
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| crate::page::bad_request(&console, &admin, &format!("The form could not be read: {e}")))?;
        Ok(Posted { admin, form })
    }
}

fn cookie(settings: &crate::ConsoleSettings, name: &str, value: &str, max_age: i64) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={BASE}; HttpOnly; SameSite=Lax; Max-Age={max_age}");
    if settings.secure_cookies {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).expect("cookie values are base64url")
}

/// A console path to return to: ours, never another site's.
fn safe_back(back: Option<&str>) -> String {
    match back {
        Some(b)
            if (b == BASE || b.starts_with("/admin/") || b.starts_with("/admin?"))
                && !b.contains("//")
                && !b.contains('\\') =>
        {
            b.to_string()
        }
        _ => BASE.to_string(),
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct SignInQuery {
    back: Option<String>,
}

/// `GET /admin/sign-in`: off to the authorization endpoint, as the
/// console's client, with PKCE, state and nonce.
pub(crate) async fn sign_in(
    State(state): State<ConsoleState>,
    query: Result<Query<SignInQuery>, QueryRejection>,
) -> Response {
    let back = safe_back(query.as_ref().ok().and_then(|q| q.back.as_deref()));
    let verifier = latchkey_core::random::token(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let claims = SignInClaims {
        aud: AUDIENCE.into(),
        state: latchkey_core::random::token(16),
        nonce: latchkey_core::random::token(16),
        verifier,
        back,
        exp: state.clock.now() + SIGN_IN_SECONDS,
    };
    let Some(jwt) = sign(&state, SIGN_IN_TYP, &claims) else {
        return crate::page::unavailable(&state);
    };
    let mut authorize = url::Url::parse(&format!("{}/authorize", state.settings.issuer)).expect("the issuer is a URL");
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", CONSOLE_CLIENT_ID)
        .append_pair("redirect_uri", &state.settings.redirect_uri())
        .append_pair("scope", "openid profile groups")
        .append_pair("state", &claims.state)
        .append_pair("nonce", &claims.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut res = Redirect::to(authorize.as_str()).into_response();
    res.headers_mut().append(header::SET_COOKIE, cookie(&state.settings, SIGN_IN_COOKIE, &jwt, SIGN_IN_SECONDS));
    res
}

fn sign<C: Serialize>(state: &ConsoleState, typ: &str, claims: &C) -> Option<String> {
    let keys = state.keys.current();
    let key = keys.signing_key()?;
    key.sign_jwt(typ, claims).map_err(|e| tracing::error!(error = %e, "console: cannot sign a cookie")).ok()
}

#[derive(Debug, Deserialize)]
pub(crate) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// `GET /admin/callback`: the authorization response. The code is redeemed
/// here (see the module's comment), the admin's groups decide, and the
/// console session starts.
pub(crate) async fn callback(
    State(state): State<ConsoleState>,
    peer: ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response {
    let refuse = |message: &str| crate::page::sign_in_failed(&state, message);
    let Ok(Query(query)) = query else { return refuse("The sign-in answer could not be read.") };
    let now = state.clock.now();
    let pending = latchkey_http::cookies::get(&headers, SIGN_IN_COOKIE)
        .and_then(|c| state.keys.current().verify_jwt::<SignInClaims>(c).ok())
        .filter(|v| v.header.typ.as_deref() == Some(SIGN_IN_TYP))
        .map(|v| v.claims)
        .filter(|c| c.aud == AUDIENCE && c.exp > now);
    let Some(pending) = pending else {
        return refuse("This sign-in was not started here, or took too long. Start again.");
    };
    if !query.state.as_deref().is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes())) {
        return refuse("The sign-in answer does not belong to this sign-in. Start again.");
    }
    if let Some(error) = &query.error {
        let why = query.error_description.as_deref().unwrap_or(error);
        return refuse(&format!("Latchkey did not sign you in: {why}"));
    }
    let Some(code) = query.code.as_deref() else { return refuse("The sign-in answer has no code.") };
    let redeemed =
        match latchkey_domain::tokens::redeem_code(state.store.as_ref(), &hash_token(code), CONSOLE_CLIENT_ID, now)
            .await
        {
            Ok(Redemption::Redeemed(code)) => code,
            Ok(Redemption::AlreadyUsed(_)) => {
                let _ =
                    latchkey_domain::tokens::revoke_replayed_code(state.store.as_ref(), &hash_token(code), now).await;
                return refuse("This sign-in answer was used before. Start again.");
            }
            Ok(_) => return refuse("The sign-in code is unknown or expired. Start again."),
            Err(e) => {
                tracing::warn!(error = %e, "console: cannot redeem a code");
                return crate::page::unavailable(&state);
            }
        };
    // What an ID token's validation would check, on the code's own record.
    let pkce_ok =
        redeemed.code_challenge.as_deref().is_some_and(|c| latchkey_core::pkce::verify_s256(&pending.verifier, c));
    let nonce_ok = redeemed.nonce.as_deref().is_some_and(|n| constant_time_eq(n.as_bytes(), pending.nonce.as_bytes()));
    if redeemed.redirect_uri != state.settings.redirect_uri() || !pkce_ok || !nonce_ok || redeemed.device {
        return refuse("The sign-in code does not match this sign-in. Start again.");
    }
    let auth = redeemed.auth;
    let user = match state.store.get_user(&auth.user_id).await {
        Ok(Some(user)) if !user.disabled => user,
        Ok(_) => return refuse("Your account is not available."),
        Err(e) => {
            tracing::warn!(error = %e, "console: cannot read the admin's account");
            return crate::page::unavailable(&state);
        }
    };
    let ip = Some(latchkey_http::client_address(peer.0.ip(), &headers, &state.trusted_proxies));
    let Some(role) = state.settings.role_of(&user.claims.groups) else {
        let mut event = AuditEvent::new(now, "console.refused", format!("user:{}", user.id))
            .subject(&user.id)
            .detail("username", user.username.as_str())
            .detail("sid", auth.sid.as_str());
        if let Some(ip) = ip {
            event = event.ip(ip);
        }
        record(&state, event).await;
        let mut res = crate::page::forbidden(
            &state,
            None,
            &format!(
                "You are signed in as {}, but your account is not in a group that may use the admin console. \
                 Ask an administrator to add you to one.",
                user.username
            ),
        );
        res.headers_mut().append(header::SET_COOKIE, cookie(&state.settings, SIGN_IN_COOKIE, "", 0));
        return res;
    };
    let claims = SessionClaims {
        aud: AUDIENCE.into(),
        sub: user.id.clone(),
        sid: auth.sid.clone(),
        jti: latchkey_core::random::token(16),
        iat: now,
        exp: now + SESSION_SECONDS,
    };
    let Some(jwt) = sign(&state, SESSION_TYP, &claims) else { return crate::page::unavailable(&state) };
    let mut event = AuditEvent::new(now, "console.signed_in", format!("console:{}", user.id))
        .subject(&user.id)
        .detail("username", user.username.as_str())
        .detail("role", role.as_str())
        .detail("sid", auth.sid.as_str())
        .detail("amr", auth.amr.join(" "));
    if let Some(ip) = ip {
        event = event.ip(ip);
    }
    record(&state, event).await;
    let mut res = Redirect::to(&pending.back).into_response();
    let h = res.headers_mut();
    h.append(header::SET_COOKIE, cookie(&state.settings, SIGN_IN_COOKIE, "", 0));
    h.append(header::SET_COOKIE, cookie(&state.settings, SESSION_COOKIE, &jwt, SESSION_SECONDS));
    res
}

/// `POST /admin/sign-out`: ends the Latchkey session behind the console
/// (as signing out at `/logout` does: refresh tokens per
/// `sessions.end_revokes`, clients told over the back channel), so the
/// next visit asks for the password again.
pub(crate) async fn sign_out(State(state): State<ConsoleState>, Posted { admin, .. }: Posted<Ignored>) -> Response {
    let now = state.clock.now();
    match state.store.find_session_by_sid(&admin.sid, now).await {
        Ok(Some(session)) => {
            if let Err(e) = latchkey_domain::end_session(
                state.store.as_ref(),
                &state.notifier,
                state.end_revokes,
                &session.id_hash,
                now,
            )
            .await
            {
                tracing::warn!(error = %e, "console: cannot end the session");
                return crate::page::unavailable(&state);
            }
        }
        Ok(None) => {}
        Err(e) => {
            tracing::warn!(error = %e, "console: cannot find the session");
            return crate::page::unavailable(&state);
        }
    }
    record(&state, admin.event(now, "console.signed_out").subject(&admin.user_id).detail("sid", admin.sid.as_str()))
        .await;
    let mut res = signed_out_page(&state);
    res.headers_mut().append(header::SET_COOKIE, cookie(&state.settings, SESSION_COOKIE, "", 0));
    res
}

/// A form with nothing but its CSRF token.
#[derive(Debug, Deserialize)]
pub struct Ignored {}

/// Clears the flash cookie (set on the response of the page that shows it).
pub(crate) fn clear_flash(settings: &crate::ConsoleSettings) -> HeaderValue {
    cookie(settings, crate::page::FLASH_COOKIE, "", 0)
}

/// Sets the flash cookie for the next page.
pub(crate) fn set_flash(settings: &crate::ConsoleSettings, value: &str) -> HeaderValue {
    cookie(settings, crate::page::FLASH_COOKIE, value, 120)
}

/// `303 See Other` to `to` with a message for the next page.
pub fn redirect_with(state: &ConsoleState, to: &str, flash: Flash) -> Response {
    let mut res = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response();
    res.headers_mut().append(header::SET_COOKIE, set_flash(&state.settings, &flash.encode()));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_console_paths_are_returned_to() {
        assert_eq!(safe_back(Some("/admin/keys")), "/admin/keys");
        assert_eq!(safe_back(Some("/admin?x=1")), "/admin?x=1");
        assert_eq!(safe_back(Some("/admin/audit?kind=login.success")), "/admin/audit?kind=login.success");
        for bad in [
            "https://evil.example/admin",
            "//evil.example/admin",
            "/admin//evil",
            "/administrator",
            "/account",
            "/admin/\\evil",
        ] {
            assert_eq!(safe_back(Some(bad)), "/admin", "{bad}");
        }
        assert_eq!(safe_back(None), "/admin");
    }

    #[test]
    fn csrf_tokens_are_per_session() {
        assert_ne!(csrf_of("a"), csrf_of("b"));
        assert_eq!(csrf_of("a"), csrf_of("a"));
        assert_eq!(csrf_of("a").len(), 43);
    }
}

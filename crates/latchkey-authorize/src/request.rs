//! Validation of authorization requests, in two phases (RFC 6749 §4.1.2.1):
//! until the client and its redirect URI are proven, errors are shown to the
//! person; after that they go back to the client.

use latchkey_core::claims_request::ClaimsRequest;
use latchkey_core::pkce::is_valid_s256_challenge;
use latchkey_core::{Client, ErrorCode, GrantType, OAuthError, Scope};
use latchkey_http::Params;
use serde::{Deserialize, Serialize};

/// How the response reaches the client (OAuth 2.0 Multiple Response Types,
/// Form Post, and JARM's signed responses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    Query,
    FormPost,
    /// JARM `query.jwt` (and `jwt`, its default for `code`): one `response`
    /// parameter, a JWT we sign, in the query.
    QueryJwt,
    /// JARM `fragment.jwt`: the `response` JWT in the fragment.
    FragmentJwt,
    /// JARM `form_post.jwt`: the `response` JWT posted by the browser.
    FormPostJwt,
}

impl ResponseMode {
    /// The mode a `response_mode` value names (OAuth 2.0 Multiple Response
    /// Types §2.1, Form Post §2, JARM §2.3), if we serve it.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "query" => Self::Query,
            "form_post" => Self::FormPost,
            "jwt" | "query.jwt" => Self::QueryJwt,
            "fragment.jwt" => Self::FragmentJwt,
            "form_post.jwt" => Self::FormPostJwt,
            _ => return None,
        })
    }

    /// Whether the response is a signed JWT (JARM).
    pub fn is_jwt(self) -> bool {
        matches!(self, Self::QueryJwt | Self::FragmentJwt | Self::FormPostJwt)
    }
}

/// The `response_mode` values discovery lists.
pub const RESPONSE_MODES: [&str; 6] = ["query", "form_post", "jwt", "query.jwt", "fragment.jwt", "form_post.jwt"];

/// The `prompt` values (OIDC Core §3.1.2.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    pub select_account: bool,
    /// `create` (Initiating User Registration via OpenID Connect 1.0): the
    /// person wants a new account, so the sign-up form comes first.
    #[serde(default)]
    pub create: bool,
}

/// A request whose client and redirect URI are proven: errors from here on
/// are sent to `redirect_uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub client_id: String,
    pub redirect_uri: String,
    pub redirect_uri_sent: bool,
    pub response_mode: ResponseMode,
    pub state: Option<String>,
    /// The client's `authorization_signed_response_alg` (JARM), if it
    /// registered one: what a JWT response is signed with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_signing_alg: Option<String>,
}

/// A fully validated authorization request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub target: Target,
    pub scope: Scope,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// `sub` of a valid `id_token_hint`.
    pub hint_sub: Option<String>,
    /// A device's request entered at `/device` (RFC 8628): then the sign-in
    /// ends at the device's consent page, not with a code for a redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceRequest>,
    /// `acr_values`, in the request's order (OIDC Core §3.1.2.1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acr_values: Vec<String>,
    /// The `claims` parameter (OIDC Core §5.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimsRequest>,
    /// What the person proved before the second sign-in page or the setup
    /// of a factor; kept with the request while those pages are shown.
    #[serde(default, skip_serializing_if = "FirstFactor::is_password")]
    pub first_factor: FirstFactor,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is bound to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_jkt: Option<String>,
    /// `ui_locales` (OIDC Core §3.1.2.1): the languages the client asks the
    /// pages of this flow to speak, first choice first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ui_locales: Option<String>,
    /// The shipped language the browser's `Accept-Language` preferred when
    /// the flow began, so that every page of the flow speaks the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser_language: Option<String>,
}

/// `acr` values a request asks for: `acr_values`, or the claims
/// parameter's `acr`, which may be essential (OIDC Core §5.5.1.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskedAcr {
    pub values: Vec<String>,
    pub essential: bool,
}

impl AuthorizationRequest {
    /// The language of this flow's pages: `ui_locales`, then the account's
    /// `locale` (once the person is known), then the browser's.
    pub fn language(&self, user: Option<&latchkey_core::User>) -> latchkey_i18n::Language {
        let account = user.and_then(|u| u.claims.locale.as_deref());
        latchkey_i18n::negotiate(self.ui_locales.as_deref(), account, self.browser_language.as_deref())
    }

    /// Remembers the language the browser asks for (`Accept-Language`).
    pub fn remember_browser_language(&mut self, headers: &axum::http::HeaderMap) {
        self.browser_language = headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(latchkey_i18n::Language::from_accept_language)
            .map(|l| l.tag().to_string());
    }

    /// The `acr` values asked for, if any: the claims parameter's `acr`
    /// (checked at validation) before `acr_values`.
    pub fn asked_acr(&self) -> Option<AskedAcr> {
        if let Some(acr) = self.claims.as_ref().and_then(|c| c.acr()) {
            let values = acr.acr_values().unwrap_or_default();
            return Some(AskedAcr { values, essential: acr.essential });
        }
        (!self.acr_values.is_empty()).then(|| AskedAcr { values: self.acr_values.clone(), essential: false })
    }

    /// What the person consents to: the scope, and the scopes of claims
    /// asked for one by one that the client may ask for.
    pub fn consent_scope(&self, client: &Client) -> Scope {
        match &self.claims {
            Some(claims) => Scope::from_tokens(self.scope.iter().chain(claims.scopes(&client.settings.scope).iter())),
            None => self.scope.clone(),
        }
    }
}

/// The factor a person gave before the second one is asked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FirstFactor {
    #[default]
    Password,
    /// An upstream provider, with the `amr` the session keeps.
    Upstream { upstream: String, amr: Vec<String> },
    /// The browser's session (`sid`): a step-up, which upgrades it.
    Session { sid: String },
    /// A password set at open sign-up in this sign-in, for an account that
    /// must confirm `email` first: the interaction waits at its continue
    /// step with no session, and the session starts once the address is
    /// confirmed. The same wait holds a sign-up whose address was taken
    /// (no account: no `user_id`), so that the two look alike.
    SignUp { email: String },
}

impl FirstFactor {
    fn is_password(&self) -> bool {
        *self == Self::Password
    }
}

/// What the `/device` flow keeps of the device's request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRequest {
    pub device_code_hash: String,
    /// As shown on the device (`XXXX-XXXX`), for the consent page.
    pub user_code: String,
    pub expires_at: i64,
}

/// Phase-1 failures: shown as a page, never redirected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("The request does not name an application (client_id is missing).")]
    MissingClientId,
    #[error("The request names the application more than once.")]
    RepeatedClientId,
    #[error("The application is not registered here.")]
    UnknownClient,
    #[error("The request names more than one redirect URI.")]
    RepeatedRedirectUri,
    #[error("The request does not say where to return (redirect_uri is required for this application).")]
    MissingRedirectUri,
    #[error("The return address (redirect_uri) is not registered for this application.")]
    UnregisteredRedirectUri,
    /// A `request_uri` (RFC 9126) that is not one of ours, not this
    /// client's, expired or used before.
    #[error("This sign-in request has expired or was already used. Go back to the application and start again.")]
    InvalidRequestUri,
}

impl PageError {
    /// What the error page says, in the catalog (the `Display` text is English, for logs and tests).
    pub fn text(&self) -> latchkey_i18n::Text {
        latchkey_i18n::Text::new(match self {
            Self::MissingClientId => "error-missing-client-id",
            Self::RepeatedClientId => "error-repeated-client-id",
            Self::UnknownClient => "error-app-unknown",
            Self::RepeatedRedirectUri => "error-repeated-redirect-uri",
            Self::MissingRedirectUri => "error-missing-redirect-uri",
            Self::UnregisteredRedirectUri => "error-unregistered-redirect-uri",
            Self::InvalidRequestUri => "error-interaction-expired",
        })
    }
}

/// Most values we accept in any one parameter.
const MAX_PARAM: usize = 4096;

/// Phase 1: the client and where errors may be sent.
pub fn target(params: &Params, repeated: &[String], client: Option<&Client>) -> Result<Target, PageError> {
    if repeated.iter().any(|r| r == "client_id") {
        return Err(PageError::RepeatedClientId);
    }
    if repeated.iter().any(|r| r == "redirect_uri") {
        return Err(PageError::RepeatedRedirectUri);
    }
    params.get("client_id").ok_or(PageError::MissingClientId)?;
    let client = client.ok_or(PageError::UnknownClient)?;
    let (redirect_uri, sent) = match params.get("redirect_uri") {
        Some(uri) if client.redirect_uri_matches(uri) => (uri.to_string(), true),
        Some(_) => return Err(PageError::UnregisteredRedirectUri),
        None => match client.settings.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            _ => return Err(PageError::MissingRedirectUri),
        },
    };
    // An unknown mode is refused in phase 2, answered in the query.
    let response_mode = params.get("response_mode").and_then(ResponseMode::parse).unwrap_or(ResponseMode::Query);
    let state = if repeated.iter().any(|r| r == "state") { None } else { params.get("state").map(str::to_string) };
    Ok(Target {
        client_id: client.client_id.clone(),
        redirect_uri,
        redirect_uri_sent: sent,
        response_mode,
        state,
        response_signing_alg: client.settings.authorization_signed_response_alg.clone(),
    })
}

fn invalid(msg: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_request(msg)
}

/// Phase 2: everything else; errors go back to the client.
pub fn validate(
    params: &Params,
    repeated: &[String],
    client: &Client,
    target: Target,
    require_pkce: bool,
) -> Result<AuthorizationRequest, OAuthError> {
    if let Some(name) = repeated.first() {
        return Err(invalid(format!("parameter {name} is repeated")));
    }
    if params.contains("request") {
        return Err(OAuthError::new(ErrorCode::RequestNotSupported, "request objects are not supported"));
    }
    if params.contains("request_uri") {
        return Err(OAuthError::new(ErrorCode::RequestUriNotSupported, "request_uri is not supported"));
    }
    for name in [
        "state",
        "nonce",
        "login_hint",
        "code_challenge",
        "scope",
        "acr_values",
        "ui_locales",
        "claims_locales",
        "claims",
    ] {
        if params.get(name).is_some_and(|v| v.len() > MAX_PARAM) {
            return Err(invalid(format!("{name} is too long")));
        }
    }
    match params.get("response_type") {
        None => return Err(invalid("response_type is required")),
        Some("code") => {}
        Some(_) => {
            return Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "only response_type=code is supported"));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) || !client.settings.response_types.iter().any(|r| r == "code")
    {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "the client is not registered for the authorization code flow",
        ));
    }
    if params.get("response_mode").is_some_and(|m| ResponseMode::parse(m).is_none()) {
        return Err(invalid("response_mode must be query, form_post, jwt, query.jwt, fragment.jwt or form_post.jwt"));
    }

    let scope = match params.get("scope") {
        None => return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is required")),
        Some(s) => Scope::parse(s).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e.to_string()))?,
    };
    if scope.is_empty() {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "scope is required"));
    }
    if let Some(extra) = scope.iter().find(|s| !client.settings.scope.contains(s)) {
        return Err(OAuthError::new(ErrorCode::InvalidScope, format!("the client may not request scope {extra}")));
    }

    let code_challenge = match (params.get("code_challenge"), params.get("code_challenge_method")) {
        (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge")),
        (Some(_), None) => return Err(invalid("code_challenge_method must be S256 (plain is not allowed)")),
        (Some(_), Some(m)) if m != "S256" => {
            return Err(invalid("code_challenge_method must be S256 (plain is not allowed)"));
        }
        (Some(c), Some(_)) if !is_valid_s256_challenge(c) => {
            return Err(invalid("code_challenge must be 43 base64url characters (S256)"));
        }
        (Some(c), Some(_)) => Some(c.to_string()),
        (None, None) if client.is_public() || require_pkce => {
            return Err(invalid("PKCE is required: send code_challenge and code_challenge_method=S256"));
        }
        (None, None) => None,
    };

    let mut prompt = Prompt::default();
    if let Some(p) = params.get("prompt") {
        for value in p.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                "create" => prompt.create = true,
                other => return Err(invalid(format!("unknown prompt value {other}"))),
            }
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account || prompt.create) {
            return Err(invalid("prompt=none cannot be combined with other values"));
        }
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n),
            _ => return Err(invalid("max_age must be a non-negative integer")),
        },
    };
    let claims = match params.get("claims") {
        None => None,
        Some(_) if !scope.contains("openid") => {
            return Err(invalid("the claims parameter needs the openid scope"));
        }
        Some(text) => Some(ClaimsRequest::parse(text).map_err(|e| invalid(e.to_string()))?),
    };
    match params.get("display") {
        None | Some("page" | "popup" | "touch" | "wap") => {}
        Some(_) => return Err(invalid("display must be page, popup, touch or wap")),
    }
    let dpop_jkt = match params.get("dpop_jkt") {
        None => None,
        Some(jkt) if latchkey_core::dpop::is_thumbprint(jkt) => Some(jkt.to_string()),
        Some(_) => return Err(invalid("dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)")),
    };
    Ok(AuthorizationRequest {
        target,
        scope,
        nonce: params.get("nonce").map(str::to_string),
        code_challenge,
        prompt,
        max_age,
        login_hint: params.get("login_hint").map(str::to_string),
        hint_sub: None,
        device: None,
        acr_values: params
            .get("acr_values")
            .map(|v| v.split(' ').filter(|a| !a.is_empty()).map(str::to_string).collect())
            .unwrap_or_default(),
        claims,
        first_factor: FirstFactor::Password,
        dpop_jkt,
        ui_locales: params.get("ui_locales").map(str::to_string),
        browser_language: None,
    })
}

#[cfg(test)]
mod tests {
    use latchkey_core::{ClientMetadata, RegistrationPolicy};

    use super::*;

    const CB: &str = "https://app.example/cb";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client(extra: serde_json::Value) -> Client {
        let mut json = serde_json::json!({"redirect_uris": [CB], "scope": "openid profile email"});
        json.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let metadata: ClientMetadata = serde_json::from_value(json).unwrap();
        Client::register(metadata.validate(&RegistrationPolicy::default()).unwrap(), 0, None).0
    }

    fn parse(query: &str) -> (Params, Vec<String>) {
        Params::parse_lenient(query.as_bytes())
    }

    /// Phase 1 then phase 2, as the endpoint runs them.
    fn run(client: &Client, query: &str, require_pkce: bool) -> Result<AuthorizationRequest, OAuthError> {
        let (params, repeated) = parse(query);
        let target = target(&params, &repeated, Some(client)).expect("phase 1 passes");
        validate(&params, &repeated, client, target, require_pkce)
    }

    fn valid(id: &str) -> String {
        format!(
            "response_type=code&client_id={id}&redirect_uri={}&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
            CB.replace(':', "%3A").replace('/', "%2F")
        )
    }

    fn assert_error(result: Result<AuthorizationRequest, OAuthError>, code: ErrorCode, needle: &str, what: &str) {
        let err = result.expect_err(what);
        assert_eq!(err.code, code, "{what}: {err:?}");
        assert!(err.description.as_deref().unwrap_or_default().contains(needle), "{what}: {err:?}");
    }

    #[test]
    fn phase_one_proves_the_client_and_its_redirect_uri_or_shows_a_page() {
        let c = client(serde_json::json!({}));
        let t = target(&parse(&valid(&c.client_id)).0, &[], Some(&c)).unwrap();
        assert_eq!((t.redirect_uri.as_str(), t.redirect_uri_sent, t.response_mode), (CB, true, ResponseMode::Query));
        assert_eq!(t.state.as_deref(), Some("s"));
        // With one registered URI, redirect_uri may be left out (RFC 6749 §3.1.2.3).
        let t = target(&parse(&format!("client_id={}", c.client_id)).0, &[], Some(&c)).unwrap();
        assert_eq!((t.redirect_uri.as_str(), t.redirect_uri_sent), (CB, false));
        let two = client(serde_json::json!({"redirect_uris": [CB, "https://app.example/other"]}));
        let only_id = format!("client_id={}", two.client_id);
        assert_eq!(target(&parse(&only_id).0, &[], Some(&two)), Err(PageError::MissingRedirectUri));
        for (query, client, want) in [
            ("redirect_uri=x".to_string(), Some(&c), PageError::MissingClientId),
            (format!("client_id={}", c.client_id), None, PageError::UnknownClient),
            (
                format!("client_id={}&redirect_uri=https%3A%2F%2Fapp.example%2Fcb%2F", c.client_id),
                Some(&c),
                PageError::UnregisteredRedirectUri,
            ),
            (format!("client_id={0}&client_id={0}", c.client_id), Some(&c), PageError::RepeatedClientId),
            (format!("{}&redirect_uri=x", valid(&c.client_id)), Some(&c), PageError::RepeatedRedirectUri),
        ] {
            let (params, repeated) = parse(&query);
            assert_eq!(target(&params, &repeated, client), Err(want.clone()), "{query}");
        }
        // A repeated state is not echoed, since neither value can be trusted.
        let (params, repeated) = parse(&format!("{}&state=t&response_mode=form_post", valid(&c.client_id)));
        let t = target(&params, &repeated, Some(&c)).unwrap();
        assert_eq!((t.state, t.response_mode), (None, ResponseMode::FormPost));
    }

    #[test]
    fn a_valid_request_is_read_in_full() {
        let c = client(serde_json::json!({}));
        let query = format!(
            "{}&nonce=n&prompt=login+consent&max_age=0&login_hint=alice&display=popup&scope=openid+email&acr_values=phr+urn%3Alatchkey%3Aacr%3Amfa",
            valid(&c.client_id)
        );
        let req = run(&c, &query.replace("&scope=openid&", "&"), false).unwrap();
        assert_eq!(req.scope.to_string(), "email openid");
        assert_eq!(req.code_challenge.as_deref(), Some(CHALLENGE));
        assert_eq!(req.nonce.as_deref(), Some("n"));
        assert_eq!(req.max_age, Some(0));
        assert_eq!(req.login_hint.as_deref(), Some("alice"));
        assert_eq!(req.prompt, Prompt { login: true, consent: true, ..Default::default() });
        assert_eq!(req.acr_values, ["phr", "urn:latchkey:acr:mfa"]);
    }

    #[test]
    fn phase_two_errors_name_their_rfc_code() {
        let c = client(serde_json::json!({}));
        let ok = valid(&c.client_id);
        let without =
            |name: &str| ok.split('&').filter(|p| !p.starts_with(&format!("{name}="))).collect::<Vec<_>>().join("&");
        use ErrorCode::*;
        for (query, code, needle) in [
            (format!("{ok}&nonce=a&nonce=b"), InvalidRequest, "nonce is repeated"),
            (format!("{ok}&request=eyJ"), RequestNotSupported, "request objects"),
            (format!("{ok}&request_uri=urn%3Ax"), RequestUriNotSupported, "request_uri"),
            (without("response_type"), InvalidRequest, "response_type is required"),
            (ok.replace("response_type=code", "response_type=token"), UnsupportedResponseType, "code"),
            (format!("{ok}&response_mode=fragment"), InvalidRequest, "response_mode"),
            (without("scope"), InvalidScope, "scope is required"),
            (ok.replace("scope=openid", "scope=+"), InvalidScope, "scope is required"),
            (ok.replace("scope=openid", "scope=openid+admin"), InvalidScope, "may not request scope admin"),
            (ok.replace("scope=openid", "scope=a%22b"), InvalidScope, ""),
            (without("code_challenge"), InvalidRequest, "without code_challenge"),
            (without("code_challenge_method"), InvalidRequest, "must be S256"),
            (ok.replace("method=S256", "method=plain"), InvalidRequest, "plain is not allowed"),
            (ok.replace(CHALLENGE, &CHALLENGE[1..]), InvalidRequest, "43 base64url"),
            (format!("{ok}&prompt=none+login"), InvalidRequest, "cannot be combined"),
            (format!("{ok}&prompt=create+none"), InvalidRequest, "cannot be combined"),
            (format!("{ok}&prompt=sometimes"), InvalidRequest, "unknown prompt value sometimes"),
            (format!("{ok}&max_age=-1"), InvalidRequest, "max_age"),
            (format!("{ok}&max_age=soon"), InvalidRequest, "max_age"),
            (format!("{ok}&display=tv"), InvalidRequest, "display"),
        ] {
            assert_error(run(&c, &query, false), code, needle, &query);
        }
    }

    #[test]
    fn parameters_are_limited_to_4096_bytes() {
        let c = client(serde_json::json!({}));
        for name in ["state", "nonce", "login_hint"] {
            let at = format!("{}&{name}={}", valid(&c.client_id).replace("&state=s", ""), "x".repeat(MAX_PARAM));
            assert!(run(&c, &at, false).is_ok(), "{name} at the limit");
            let over = format!("{at}x");
            assert_error(run(&c, &over, false), ErrorCode::InvalidRequest, &format!("{name} is too long"), name);
        }
    }

    #[test]
    fn pkce_is_required_of_public_clients_and_where_configured() {
        let confidential = client(serde_json::json!({}));
        let public = client(serde_json::json!({"token_endpoint_auth_method": "none"}));
        let no_pkce = |c: &Client| {
            valid(&c.client_id).split('&').filter(|p| !p.starts_with("code_challenge")).collect::<Vec<_>>().join("&")
        };
        assert_eq!(run(&confidential, &no_pkce(&confidential), false).unwrap().code_challenge, None);
        assert_error(
            run(&confidential, &no_pkce(&confidential), true),
            ErrorCode::InvalidRequest,
            "PKCE is required",
            "required by config",
        );
        assert_error(
            run(&public, &no_pkce(&public), false),
            ErrorCode::InvalidRequest,
            "PKCE is required",
            "public client",
        );
        assert!(run(&public, &valid(&public.client_id), true).is_ok());
    }

    #[test]
    fn only_clients_registered_for_the_code_flow_may_use_it() {
        let machine = client(serde_json::json!({"grant_types": ["client_credentials"], "response_types": []}));
        assert_error(
            run(&machine, &valid(&machine.client_id), false),
            ErrorCode::UnauthorizedClient,
            "authorization code flow",
            "a client_credentials client",
        );
    }
}

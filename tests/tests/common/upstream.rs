//! Helpers for the federation tests: an upstream Latchkey behind a proxy
//! that can forge its JWKS, a downstream Latchkey configured to use it, the
//! app as an `openidconnect` relying party, and the browser steps of the
//! chain.
//!
//! Include with
//! ```ignore
//! mod common;
//! #[path = "common/upstream.rs"]
//! mod upstream;
//! ```
#![allow(dead_code)]

use std::sync::Arc;

use latchkey_tests::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, TokenResponse,
};
use tokio::sync::Mutex;

use crate::common::flow::*;

/// A reverse proxy in front of the upstream. It forwards every request;
/// with `forge_id_tokens(true)` it re-signs the ID token of every token
/// response with another RSA key (same header, same `kid`, same claims), so
/// that it no longer verifies with the upstream's published keys.
pub struct Proxy {
    pub url: String,
    target: Arc<Mutex<String>>,
    forged: Arc<Mutex<bool>>,
}

impl Proxy {
    pub async fn start() -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        // "localhost", not 127.0.0.1: browsers keep cookies per host (not per
        // port), and the two servers' cookies share names.
        let url = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let target = Arc::new(Mutex::new(String::new()));
        let forged = Arc::new(Mutex::new(false));
        let (t, f) = (target.clone(), forged.clone());
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
            let (t, f, client) = (t.clone(), f.clone(), client.clone());
            async move {
                let target = t.lock().await.clone();
                let forge = *f.lock().await;
                forward(&client, &target, forge, req).await
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Proxy { url, target, forged }
    }

    pub async fn point_at(&self, target: &str) {
        *self.target.lock().await = target.to_string();
    }

    pub async fn forge_id_tokens(&self, on: bool) {
        *self.forged.lock().await = on;
    }
}

async fn forward(
    client: &reqwest::Client,
    target: &str,
    forge: bool,
    req: axum::extract::Request,
) -> axum::response::Response {
    let path = req.uri().path_and_query().map(|p| p.to_string()).unwrap_or_else(|| "/".into());
    let method = req.method().clone();
    let mut headers = req.headers().clone();
    headers.remove("host");
    let body = axum::body::to_bytes(req.into_body(), 1 << 20).await.unwrap();
    let res = client.request(method, format!("{target}{path}")).headers(headers).body(body).send().await.unwrap();
    let status = res.status();
    let mut out_headers = res.headers().clone();
    let mut bytes = res.bytes().await.unwrap().to_vec();
    if forge && path.starts_with("/token") && status.is_success() {
        let mut json: Value = serde_json::from_slice(&bytes).unwrap();
        if let Some(id_token) = json["id_token"].as_str() {
            json["id_token"] = resign(id_token).into();
        }
        bytes = json.to_string().into_bytes();
    }
    for h in ["transfer-encoding", "connection", "content-length"] {
        out_headers.remove(h);
    }
    let mut response = axum::response::Response::new(axum::body::Body::from(bytes));
    *response.status_mut() = status;
    *response.headers_mut() = out_headers;
    response
}

/// The same JWS header and claims, signed with a freshly generated key.
fn resign(jwt: &str) -> String {
    use base64::Engine;
    use josekit::jws::JwsSigner;
    let (signing_input, _) = jwt.rsplit_once('.').unwrap();
    let key = josekit::jws::RS256.generate_key_pair(2048).unwrap();
    let signer = josekit::jws::RS256.signer_from_der(key.to_der_private_key()).unwrap();
    let signature = signer.sign(signing_input.as_bytes()).unwrap();
    format!("{signing_input}.{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature))
}

/// The upstream identity provider: a Latchkey on SQLite whose issuer is the
/// proxy's URL, with a confidential client for the downstream Latchkey.
pub struct Upstream {
    pub issuer: String,
    pub db: TestDb,
    pub server: Server,
    pub proxy: Proxy,
    pub client: TestClient,
}

impl Upstream {
    pub async fn start() -> Upstream {
        let proxy = Proxy::start().await;
        let db = TestDb::new(Backend::Sqlite).await;
        let server = Server::start(&db, &[("LATCHKEY_ISSUER", &proxy.url)]).await;
        proxy.point_at(&format!("http://127.0.0.1:{}", server.port)).await;
        let client = create_client(
            &db,
            "Latchkey downstream",
            &["--redirect-uri", "https://placeholder.example/cb", "--scope", "openid email profile"],
        );
        Upstream { issuer: proxy.url.clone(), db, server, proxy, client }
    }

    /// A person at the upstream (their password is their username twice).
    pub fn user(&self, username: &str, email: &str, verified: bool) -> User {
        let password = format!("{username}-{username}-pw");
        let mut extra = vec!["--email", email, "--name", "Ursula Upstream"];
        if verified {
            extra.push("--email-verified");
        }
        create_user(&self.db, username, &password, &extra)
    }

    /// Lets the downstream's client at the upstream ask for `groups` too.
    pub fn allow_groups_scope(&self) {
        let args = ["client", "update", &self.client.id, "--scope", "openid email profile groups"];
        cli(&self.db, &args, &[], None).ok();
    }

    /// Registers the downstream's callback with the upstream's client.
    pub fn allow_callback(&self, callback: &str) {
        cli(&self.db, &["client", "update", &self.client.id, "--redirect-uri", callback], &[], None).ok();
    }
}

/// The Latchkey under test, with the upstream as provider `corp` (plus a
/// provider `gone` whose issuer does not answer).
pub struct Downstream {
    pub db: TestDb,
    pub server: Server,
    pub alice: User,
    config_file: std::path::PathBuf,
    _config: tempfile::TempDir,
}

impl Downstream {
    /// `extra` is appended to the `corp` table.
    pub async fn start(backend: Backend, up: &Upstream, extra: &str) -> Downstream {
        let config = format!(
            r#"
[[upstream]]
id = "corp"
display_name = "Corp SSO"
issuer = "{issuer}"
client_id = "{id}"
client_secret = "{secret}"
email_domains = ["corp.example"]
allowed_email_domains = ["corp.example"]
timeout_seconds = 3
{extra}

[[upstream]]
id = "gone"
display_name = "Gone IdP"
issuer = "http://127.0.0.1:{closed}"
client_id = "nobody"
timeout_seconds = 1
"#,
            issuer = up.issuer,
            id = up.client.id,
            secret = up.client.secret(),
            closed = free_port(),
        );
        let down = Downstream::with_config(backend, &config).await;
        up.allow_callback(&format!("{}/upstream/corp/callback", down.server.issuer));
        down
    }

    /// The configuration file's path.
    pub fn config_path(&self) -> &str {
        self.config_file.to_str().unwrap()
    }

    /// A downstream Latchkey with this configuration file.
    pub async fn with_config(backend: Backend, config: &str) -> Downstream {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("latchkey.toml");
        std::fs::write(&path, config).unwrap();
        let Env { db, server, alice } = env(backend, &[("LATCHKEY_CONFIG", path.to_str().unwrap())]).await;
        Downstream { db, server, alice, config_file: path, _config: dir }
    }
}

/// A browser on another origin sharing `b`'s cookies.
pub fn at(b: &Browser, issuer: &str) -> Browser {
    Browser { http: b.http.clone(), jar: b.jar.clone(), issuer: issuer.to_string() }
}

/// Presses the provider's button on the login page; returns where the
/// browser is sent upstream.
pub async fn start_upstream(b: &Browser, login: &Page, provider: &str) -> String {
    let form = Params::new()
        .set("interaction", &login.input("interaction").expect("interaction"))
        .set("csrf", &login.input("csrf").expect("csrf"));
    let res = b.post_form(&format!("/upstream/{provider}/start"), &form).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    res.location().unwrap()
}

/// Signs in at the upstream from `url` (its authorization request) and
/// answers its consent with `decision`; returns the callback URL the
/// upstream sends the browser to.
pub async fn upstream_login(up: &Upstream, b: &Browser, url: &str, user: &User, decision: &str) -> String {
    assert!(url.starts_with(&format!("{}/authorize?", up.issuer)), "sent upstream: {url}");
    let ub = at(b, &up.issuer);
    let flow = ub.drive(ub.get(url).await, Some(user), decision).await;
    assert!(flow.location.contains("/upstream/"), "back to the callback: {}", flow.location);
    flow.location
}

/// Button → upstream login → the callback URL (not yet visited).
pub async fn to_callback(b: &Browser, up: &Upstream, login: &Page, provider: &str, user: &User) -> String {
    let url = start_upstream(b, login, provider).await;
    upstream_login(up, b, &url, user, "allow").await
}

/// Button → upstream login → the callback's response.
pub async fn sign_in_upstream(
    b: &Browser,
    up: &Upstream,
    login: &Page,
    provider: &str,
    user: &User,
    decision: &str,
) -> Page {
    let url = start_upstream(b, login, provider).await;
    let callback = upstream_login(up, b, &url, user, decision).await;
    b.get(&callback).await
}

/// `url` with query parameter `name` set to `value`.
pub fn set_param(url: &str, name: &str, value: &str) -> String {
    let mut u = url::Url::parse(url).unwrap();
    let pairs: Vec<(String, String)> =
        u.query_pairs().into_owned().map(|(k, v)| if k == name { (k, value.to_string()) } else { (k, v) }).collect();
    u.query_pairs_mut().clear().extend_pairs(pairs);
    u.to_string()
}

/// An error page (HTML, never a redirect) with `status` that says `message`.
pub fn assert_error_page(page: &Page, status: u16, message: &str, what: &str) {
    assert_eq!(page.status.as_u16(), status, "{what}: {}", page.describe());
    assert!(page.header("content-type").unwrap_or_default().starts_with("text/html"), "{what}: a page");
    assert!(page.location().is_none(), "{what}: no redirect");
    assert!(page.body.contains(message), "{what}: the page says {message:?}: {}", page.describe());
}

/// The app: an `openidconnect` relying party of the downstream Latchkey.
pub struct Rp {
    client: CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    issuer: String,
}

fn rp_http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

impl Rp {
    pub async fn discover(server: &Server, app: &TestClient) -> Rp {
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &rp_http())
            .await
            .unwrap();
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(app.id.clone()),
            app.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());
        Rp { client, issuer: server.issuer.clone() }
    }

    /// The authorization URL (PKCE, state, nonce) with `scopes` beside openid.
    pub fn authorize_url(&self, scopes: &[&str]) -> (String, Nonce, PkceCodeVerifier) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = self.client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in scopes {
            req = req.add_scope(Scope::new(s.to_string()));
        }
        let (url, _, nonce) = req.set_pkce_challenge(challenge).url();
        (url.to_string(), nonce, verifier)
    }

    /// Exchanges the code and validates the ID token as an app would;
    /// returns its claims, and the raw claims for what the library does not model.
    pub async fn exchange(&self, code: &str, verifier: &PkceCodeVerifier, nonce: &Nonce) -> (CoreIdTokenClaims, Value) {
        let (claims, raw, _) = self.exchange_all(code, verifier, nonce).await;
        (claims, raw)
    }

    /// `exchange`, and the access token too.
    pub async fn exchange_all(
        &self,
        code: &str,
        verifier: &PkceCodeVerifier,
        nonce: &Nonce,
    ) -> (CoreIdTokenClaims, Value, String) {
        use openidconnect::OAuth2TokenResponse;
        let tokens = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_string()))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.secret().clone()))
            .request_async(&rp_http())
            .await
            .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
        let id_token = tokens.id_token().expect("an ID token");
        let claims = id_token
            .claims(&self.client.id_token_verifier(), nonce)
            .unwrap_or_else(|e| panic!("ID token rejected: {e:?}"))
            .clone();
        let (_, raw) = jwt_parts(&id_token.to_string());
        assert_eq!(raw["iss"], self.issuer.as_str(), "Latchkey stays the issuer the app sees");
        (claims, raw, tokens.access_token().secret().clone())
    }

    /// UserInfo with `access_token`, as JSON.
    pub async fn userinfo(&self, access_token: &str) -> Value {
        let res = rp_http().get(format!("{}/userinfo", self.issuer)).bearer_auth(access_token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

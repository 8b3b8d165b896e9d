//! In-process test harness (feature `testing`): the application `serve`
//! builds ([`crate::serve::build`]), on an in-memory SQLite database of its own, driven
//! with `tower::ServiceExt::oneshot` instead of a socket, time from a
//! [`MockClock`], and fixtures made by the CLI's own code
//! ([`crate::commands::execute`]) rather than CLI processes.
//!
//! What needs processes (replicas, outages, the browser, federation, the CLI
//! as people run it, PostgreSQL and Redis) stays in the end-to-end tests
//! (`tests/`); this tier is for endpoint logic.
//!
//! ```ignore
//! let app = TestApp::start().await;
//! let client = app.create_client("App", &["--redirect-uri", "https://app.example/cb"]).await;
//! let res = app.post("/token").basic(&client.id, client.secret()).form(&[("grant_type", "password")]).await;
//! assert_eq!(res.json()["error"], "unsupported_grant_type");
//! ```

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use clap::Parser as _;
use latchkey_core::{Clock, MockClock, SystemClock};
use latchkey_keys::{GeneratedKey, generate_rsa, seal_private_key};
use latchkey_store::{KeyState, Store, StoredKey};
use latchkey_store_sql::{OpenMode, SqlStore};
use serde_json::Value;
use tower::ServiceExt as _;

use crate::commands::{Context, Io};
use crate::config::{self, Settings};
use crate::serve::App;

/// The issuer of every test app (plain http: cookies without `Secure`, as
/// the end-to-end servers on loopback have).
pub const ISSUER: &str = "http://localhost:8080";

/// The address requests come from unless a test says otherwise.
pub const PEER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// How often the test app's caches read the change feed (the minimum).
const CACHE_POLL_MS: u64 = 10;

/// Two RSA key pairs (the active and the next key), generated once per test
/// binary: RSA generation takes hundreds of milliseconds.
fn key_pairs() -> &'static [GeneratedKey; 2] {
    static KEYS: OnceLock<[GeneratedKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        let generate = || generate_rsa(2048).expect("RSA key generation");
        [generate(), generate()]
    })
}

/// The application, as `serve` builds it, with its router, database, clock
/// and configuration.
pub struct TestApp {
    pub settings: Settings,
    pub app: App,
    pub clock: MockClock,
    router: Router,
    /// The database as the CLI opens it: the backend itself, writes recorded
    /// in the change feed for the server's caches.
    cli_store: Arc<dyn Store>,
    /// The backend alone: writes here reach no cache and no change feed.
    backend: Arc<dyn Store>,
    /// Keeps the in-memory database alive (a pooled connection, never used).
    _anchor: Mutex<Box<dyn std::any::Any + Send>>,
}

impl TestApp {
    /// An app on the default configuration.
    pub async fn start() -> TestApp {
        Self::with_env(&[]).await
    }

    /// An app configured as a server started with these `LATCHKEY_*`
    /// variables (nothing is read from the process's own environment).
    pub async fn with_env(env: &[(&str, &str)]) -> TestApp {
        Self::build(env, crate::Hooks::default()).await
    }

    /// Like [`TestApp::with_env`], with what a binary adds (e.g. a store
    /// wrapper that injects faults).
    pub async fn build(env: &[(&str, &str)], hooks: crate::Hooks) -> TestApp {
        Self::try_build(env, hooks).await.unwrap_or_else(|e| panic!("build the app: {e:#}"))
    }

    /// Like [`TestApp::with_env`], or why a server with this configuration
    /// would not start (the message `latchkey serve` prints).
    pub async fn try_with_env(env: &[(&str, &str)]) -> Result<TestApp, String> {
        Self::try_build(env, crate::Hooks::default()).await.map_err(|e| format!("{e:#}"))
    }

    async fn try_build(env: &[(&str, &str)], hooks: crate::Hooks) -> anyhow::Result<TestApp> {
        // A named in-memory database, shared by the pool's connections and
        // gone with the last of them: nothing touches the disk.
        let database_url =
            format!("sqlite:file:latchkey-test-{}?mode=memory&cache=shared", latchkey_core::random::token(12));
        let poll = CACHE_POLL_MS.to_string();
        let mut vars: Vec<(&str, &str)> = vec![
            ("LATCHKEY_DATABASE_URL", &database_url),
            ("LATCHKEY_ISSUER", ISSUER),
            ("LATCHKEY_CACHE_POLL_INTERVAL_MS", &poll),
        ];
        vars.extend_from_slice(env);
        let lookup = |name: &str| vars.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        let settings = config::load(None, &lookup, None)?;
        let clock = MockClock::new(SystemClock.now());
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let sql = SqlStore::open(
            &settings.config.database_url,
            settings.config.database.max_connections,
            settings.config.database.acquire_timeout_seconds.duration(),
            OpenMode::Create,
        )
        .await
        .expect("open the test database");
        sql.migrate().await.expect("migrate the test database");
        // An in-memory database ends with its last connection; one held for
        // the app's life keeps it whatever the pool closes.
        let anchor: Box<dyn std::any::Any + Send> =
            Box::new(sql.pool().acquire().await.expect("a connection that keeps the database"));
        let raw: Arc<dyn Store> = Arc::new(sql.clone());
        for (pair, state) in key_pairs().iter().zip([KeyState::Active, KeyState::Next]) {
            raw.insert_key(&stored_key(pair, state, &settings, clock.now())).await.expect("insert a signing key");
        }
        let app = crate::serve::build(settings.clone(), (raw.clone(), sql, None), shared.clone(), None, hooks).await?;
        let router = app.router(&settings);
        let cli_store: Arc<dyn Store> = Arc::new(crate::cached::Cached::new(raw.clone(), None, shared));
        Ok(TestApp { settings, app, clock, router, cli_store, backend: raw, _anchor: Mutex::new(anchor) })
    }

    /// Reloads the signing keys from the store now, as every server does
    /// each `keys.refresh_interval_seconds` (after a rotation by the CLI).
    pub async fn reload_keys(&self) {
        let set = crate::keys::load_key_set(
            self.app.store.as_ref(),
            self.settings.encryption_key.as_ref(),
            self.clock.now(),
            None,
        )
        .await
        .expect("reload the signing keys")
        .expect("a load without a previous set builds");
        self.app.ring.replace(set);
    }

    /// The mock clock's time, in Unix seconds.
    pub fn clock_now(&self) -> i64 {
        self.clock.now()
    }

    /// The store the endpoints use (every layer `serve` puts on it).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.app.store
    }

    /// The backend alone, below every layer: a write here is one the caches
    /// never hear of (a writer that crashed before its change-feed entry).
    pub fn backend(&self) -> &Arc<dyn Store> {
        &self.backend
    }

    /// `ISSUER` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.config.issuer)
    }

    pub fn get(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> TestRequest<'_> {
        self.request(Method::POST, path)
    }

    /// A request to `path` (with its query), relative to the host root.
    pub fn request(&self, method: Method, path: &str) -> TestRequest<'_> {
        TestRequest {
            app: self,
            method,
            path: path.to_string(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
            peer: PEER,
        }
    }

    /// Sends `req` through the router as the connection handler does.
    pub async fn send(&self, mut req: Request<Body>, peer: SocketAddr) -> TestResponse {
        req.extensions_mut().insert(ConnectInfo(peer));
        let res = self.router.clone().oneshot(req).await.expect("the router is infallible");
        let (parts, body) = res.into_parts();
        let body = axum::body::to_bytes(body, usize::MAX).await.expect("read the response body");
        TestResponse { status: parts.status, headers: parts.headers, body }
    }

    /// Runs `latchkey ARGS` in this process, on this app's database and
    /// configuration, as the CLI does (its own store, writes told to the
    /// caches through the change feed). After a command that changes what
    /// the server caches, waits until the server has read the feed.
    pub async fn cli(&self, args: &[&str]) -> CliOutput {
        self.cli_with_input(args, "").await
    }

    /// [`TestApp::cli`] with `input` as standard input (`--password-stdin`).
    pub async fn cli_with_input(&self, args: &[&str], input: &str) -> CliOutput {
        let cli = match crate::cli::Cli::try_parse_from(std::iter::once("latchkey").chain(args.iter().copied())) {
            Ok(cli) => cli,
            Err(e) => return CliOutput { ok: false, stdout: String::new(), error: e.to_string() },
        };
        let ctx = Context {
            settings: self.settings.clone(),
            store: self.cli_store.clone(),
            sql: self.app.sql.clone(),
            clock: Arc::new(self.clock.clone()),
            json: cli.json,
            io: Io::Captured { input: input.to_string(), output: Mutex::default() },
        };
        let result = crate::commands::execute(&ctx, cli.command).await;
        if result.is_ok() && changes_cached_rows(args) {
            self.wait_for_change_feed().await;
        }
        let Io::Captured { output, .. } = ctx.io else { unreachable!("captured above") };
        CliOutput {
            ok: result.is_ok(),
            stdout: output.into_inner().unwrap_or_else(|p| p.into_inner()),
            error: result.err().map(|e| format!("{e:#}")).unwrap_or_default(),
        }
    }

    /// Waits until the server's caches have read the change feed from
    /// start to end at least once after this call (at once without caches):
    /// then every change recorded before it applies here.
    pub async fn wait_for_change_feed(&self) {
        let Some(caches) = &self.app.caches else { return };
        // A read in progress may have passed the newest entry already; the
        // next one starts after this call.
        let target = caches.polls() + 2;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while caches.polls() < target {
            assert!(tokio::time::Instant::now() < deadline, "the change feed was not read within 10 s");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// `latchkey ARGS --json`, which must succeed.
    pub async fn cli_json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        self.cli(&all).await.ok().json()
    }

    /// `latchkey client create --name NAME ARGS`.
    pub async fn create_client(&self, name: &str, args: &[&str]) -> TestClient {
        let mut all = vec!["client", "create", "--name", name];
        all.extend_from_slice(args);
        let out = self.cli_json(&all).await;
        TestClient {
            id: out["client_id"].as_str().expect("client_id").to_string(),
            secret: out["client_secret"].as_str().map(String::from),
        }
    }

    /// `latchkey user create --username USERNAME --password-stdin ARGS`.
    pub async fn create_user(&self, username: &str, password: &str, args: &[&str]) -> TestUser {
        let mut all = vec!["user", "create", "--username", username, "--password-stdin", "--json"];
        all.extend_from_slice(args);
        let out = self.cli_with_input(&all, &format!("{password}\n")).await.ok().json();
        TestUser {
            id: out["id"].as_str().expect("user id").to_string(),
            username: username.to_string(),
            password: password.to_string(),
        }
    }

    /// A cookie jar for browser flows against this app.
    pub fn browser(&self) -> Browser<'_> {
        Browser { app: self, cookies: Mutex::default() }
    }

    /// Stops the background tasks and closes the database.
    pub async fn close(self) {
        self.app.close().await;
    }
}

/// The signing key `pair` as stored in `state`, sealed with the configured
/// encryption key (if any) as `ensure_keys` would have.
fn stored_key(pair: &GeneratedKey, state: KeyState, settings: &Settings, now: i64) -> StoredKey {
    StoredKey {
        private_key: seal_private_key(&pair.private_pem, &pair.kid, settings.encryption_key.as_ref())
            .expect("seal the key"),
        public_jwk: pair.public_jwk.to_string(),
        kid: pair.kid.clone(),
        alg: "RS256".into(),
        state,
        created_at: now,
        activated_at: (state == KeyState::Active).then_some(now),
        retired_at: None,
        remove_after: None,
    }
}

/// CLI commands that change what servers cache (clients, users, revocations).
fn changes_cached_rows(args: &[&str]) -> bool {
    matches!(
        args,
        ["client", "update" | "delete" | "rotate-secret", ..]
            | ["user", "update" | "set-password" | "disable" | "enable" | "delete", ..]
            | ["session", "revoke", ..]
    )
}

/// What an in-process CLI command printed, or why it failed.
#[derive(Debug)]
pub struct CliOutput {
    pub ok: bool,
    pub stdout: String,
    /// The error, as the CLI would print it after `error: `.
    pub error: String,
}

impl CliOutput {
    /// Panics unless the command succeeded.
    pub fn ok(self) -> Self {
        assert!(self.ok, "command failed: {}\nstdout: {}", self.error, self.stdout);
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// A client made by `client create`.
#[derive(Debug, Clone)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
}

impl TestClient {
    pub fn secret(&self) -> &str {
        self.secret.as_deref().expect("a confidential client")
    }
}

/// An account made by `user create`.
#[derive(Debug, Clone)]
pub struct TestUser {
    /// The stable `sub`.
    pub id: String,
    pub username: String,
    pub password: String,
}

/// A request being put together; `.await` sends it.
pub struct TestRequest<'a> {
    app: &'a TestApp,
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Bytes,
    peer: SocketAddr,
}

impl<'a> TestRequest<'a> {
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let name = HeaderName::try_from(name).expect("header name");
        self.headers.append(name, HeaderValue::try_from(value).expect("header value"));
        self
    }

    /// An `application/x-www-form-urlencoded` body of `pairs`, in order
    /// (repeated names allowed).
    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
        self.form_raw(&body)
    }

    /// A form body sent exactly as given.
    pub fn form_raw(mut self, body: &str) -> Self {
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-www-form-urlencoded"));
        self.body = Bytes::from(body.to_string());
        self
    }

    pub fn json(mut self, value: &Value) -> Self {
        self.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.body = Bytes::from(value.to_string());
        self
    }

    /// HTTP Basic with both parts form-encoded first (RFC 6749 §2.3.1).
    pub fn basic(self, user: &str, password: &str) -> Self {
        use base64::Engine as _;
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", enc(user), enc(password)));
        self.header("authorization", &format!("Basic {credentials}"))
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// The peer address the connection comes from.
    pub fn from_peer(mut self, peer: SocketAddr) -> Self {
        self.peer = peer;
        self
    }

    pub async fn send(self) -> TestResponse {
        let mut req = Request::builder().method(self.method).uri(&self.path);
        *req.headers_mut().expect("a valid request") = self.headers;
        let req = req.body(Body::from(self.body)).expect("a valid request");
        self.app.send(req, self.peer).await
    }
}

impl<'a> IntoFuture for TestRequest<'a> {
    type Output = TestResponse;
    type IntoFuture = Pin<Box<dyn Future<Output = TestResponse> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A response read in full.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl TestResponse {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The query of the `Location` header, decoded (repeated names kept).
    pub fn location_params(&self) -> Vec<(String, String)> {
        let location = self.location().unwrap_or_else(|| panic!("no Location: {}", self.describe()));
        let url = url::Url::parse(location).or_else(|_| url::Url::parse(ISSUER)?.join(location));
        url.unwrap_or_else(|e| panic!("bad Location {location:?}: {e}")).query_pairs().into_owned().collect()
    }

    /// The value of the first `<input>` or `<button>` named `name`.
    pub fn input(&self, name: &str) -> Option<String> {
        input_value(&self.text(), name)
    }

    /// Status, location and (the start of) the body, for assertion messages.
    pub fn describe(&self) -> String {
        let text = self.text();
        let cut = (0..=text.len().min(2000)).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        format!("{} location={:?}\n{}", self.status, self.location(), &text[..cut])
    }
}

/// The value of the first `<input>` or `<button>` named `name` in `html`
/// (attribute values in double quotes, with `&amp;`-style escapes, as the
/// templates write them).
pub fn input_value(html: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\"");
    let mut rest = html;
    while let Some(start) = rest.find('<') {
        let tag_end = rest[start..].find('>').map_or(rest.len(), |e| start + e);
        let tag = &rest[start..tag_end];
        rest = &rest[tag_end..];
        if !(tag.starts_with("<input") || tag.starts_with("<button")) || !tag.contains(&needle) {
            continue;
        }
        let Some(v) = tag.find("value=\"") else { return Some(String::new()) };
        let value = &tag[v + 7..];
        let value = &value[..value.find('"').unwrap_or(value.len())];
        return Some(unescape(value));
    }
    None
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A cookie jar in front of a [`TestApp`]: sends the cookies the app set
/// (one host, so every path), and keeps what responses set or delete.
pub struct Browser<'a> {
    app: &'a TestApp,
    cookies: Mutex<BTreeMap<String, String>>,
}

impl Browser<'_> {
    /// The value of cookie `name`, if set.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    /// Sets cookie `name` (another browser's, say).
    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies.lock().unwrap().insert(name.into(), value.into());
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.app.get(path)).await
    }

    /// `POST path` with a form body.
    pub async fn post_form(&self, path: &str, pairs: &[(&str, &str)]) -> TestResponse {
        self.send(self.app.post(path).form(pairs)).await
    }

    /// Sends `req` with the jar's cookies and keeps the ones it sets.
    pub async fn send(&self, req: TestRequest<'_>) -> TestResponse {
        let cookie = {
            let jar = self.cookies.lock().unwrap();
            jar.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
        };
        let req = if cookie.is_empty() { req } else { req.header("cookie", &cookie) };
        let res = req.send().await;
        let mut jar = self.cookies.lock().unwrap();
        for set in res.headers.get_all(header::SET_COOKIE) {
            let set = set.to_str().unwrap_or_default();
            let first = set.split(';').next().unwrap_or_default();
            let Some((name, value)) = first.split_once('=') else { continue };
            let lower = set.to_ascii_lowercase();
            if value.is_empty() || lower.contains("max-age=0") || lower.contains("1970") {
                jar.remove(name.trim());
            } else {
                jar.insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        res
    }

    /// Follows redirects within the app from `res` on, signs in as `user` on
    /// the login page and allows on the consent page; returns the redirect
    /// that leaves the app (or the `form_post` page).
    pub async fn drive(&self, mut res: TestResponse, user: &TestUser) -> TestResponse {
        for _ in 0..10 {
            if let Some(location) = res.location().filter(|_| res.status.is_redirection()) {
                let Some(path) = location.strip_prefix(ISSUER).or_else(|| location.strip_prefix('/').map(|_| location))
                else {
                    return res;
                };
                res = self.get(path).await;
            } else if res.status == StatusCode::OK && res.input("password").is_some() {
                let interaction = res.input("interaction").expect("interaction field");
                let csrf = res.input("csrf").expect("csrf field");
                let form = [
                    ("interaction", interaction.as_str()),
                    ("csrf", csrf.as_str()),
                    ("username", user.username.as_str()),
                    ("password", user.password.as_str()),
                ];
                res = self.post_form("/login", &form).await;
            } else if res.status == StatusCode::OK && res.text().contains("data-step=\"continue\"") {
                // A notice in the flow (recovery codes): on with it.
                let interaction = res.input("interaction").expect("interaction field");
                let csrf = res.input("csrf").expect("csrf field");
                let form = [("interaction", interaction.as_str()), ("csrf", csrf.as_str())];
                res = self.post_form("/login/continue", &form).await;
            } else if res.status == StatusCode::OK && res.input("decision").is_some() {
                let interaction = res.input("interaction").expect("interaction field");
                let csrf = res.input("csrf").expect("csrf field");
                let form = [("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")];
                res = self.post_form("/consent", &form).await;
            } else {
                return res;
            }
        }
        panic!("more than 10 steps in the flow: {}", res.describe());
    }
}

//! Helpers for the token-lifecycle test files (docs/token-lifecycle.md):
//! clients with the lifecycle flags, the refresh / introspection / revocation
//! calls as a client makes them, and a tiny HTTP receiver standing in for a
//! relying party's back-channel logout endpoint.
//!
//! Include with
//! ```ignore
//! mod common;
//! #[path = "common/lifecycle.rs"]
//! mod lifecycle;
//! ```

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_tests::*;

use crate::common::flow::*;

/// The scopes of an offline client.
pub const OFFLINE_SCOPES: &str = "openid profile email offline_access";

/// The flags of `client create` that the lifecycle added. Every test that
/// needs them also re-applies them with `client update` (so a defect in
/// `create` is pinned by one test, `client_create_registers_the_lifecycle_flags`,
/// instead of hiding every other behaviour).
const LIFECYCLE_FLAGS: &[&str] = &["--audience", "--introspection", "--backchannel-logout-uri"];

/// `latchkey client create --name NAME ARGS`; then, when ARGS hold one of the
/// lifecycle flags, `latchkey client update ID` with those flags again.
pub fn register(db: &TestDb, name: &str, args: &[&str]) -> TestClient {
    let client = create_client(db, name, args);
    let mut update: Vec<&str> = vec!["client", "update", client.id.as_str()];
    let mut i = 0;
    let mut any = false;
    while i < args.len() {
        if LIFECYCLE_FLAGS.contains(&args[i]) {
            any = true;
            update.push(args[i]);
            if args[i] == "--introspection" {
                // An optional value.
                if args.get(i + 1).is_some_and(|v| *v == "true" || *v == "false") {
                    update.push(args[i + 1]);
                    i += 1;
                }
            } else {
                update.push(args[i + 1]);
                i += 1;
            }
        }
        i += 1;
    }
    if any {
        update.push("--json");
        cli(db, &update, &[], None).ok();
    }
    client
}

/// A confidential client for the code flow with the `refresh_token` grant and
/// [`OFFLINE_SCOPES`] (unless `extra` has a `--scope`), plus `extra`.
pub fn offline_client(db: &TestDb, name: &str, extra: &[&str]) -> TestClient {
    let mut args = vec!["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"];
    if !extra.contains(&"--scope") {
        args.extend_from_slice(&["--scope", OFFLINE_SCOPES]);
    }
    args.extend_from_slice(extra);
    register(db, name, &args)
}

/// The public twin of [`offline_client`].
pub fn public_offline_client(db: &TestDb, name: &str) -> TestClient {
    register(
        db,
        name,
        &[
            "--redirect-uri",
            CB,
            "--public",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            OFFLINE_SCOPES,
        ],
    )
}

/// A resource server: `client_credentials` only, `--introspection`.
pub fn resource_server(db: &TestDb) -> TestClient {
    register(
        db,
        "Resource Server",
        &[
            "--grant-type",
            "client_credentials",
            "--scope",
            "api:read api:write",
            "--audience",
            "https://api.example",
            "--introspection",
        ],
    )
}

pub fn str_of<'a>(v: &'a Value, name: &str) -> &'a str {
    v[name].as_str().unwrap_or_else(|| panic!("{name} is not a string in {v}"))
}

// ---------------------------------------------------------------------------
// The endpoints.

/// `grant_type=refresh_token`, with `scope` when given.
pub async fn refresh(server: &Server, auth: Auth<'_>, refresh_token: &str, scope: Option<&str>) -> Page {
    let mut form = Params::new().set("grant_type", "refresh_token").set("refresh_token", refresh_token);
    if let Some(s) = scope {
        form = form.set("scope", s);
    }
    token(server, auth, &form).await
}

/// A refresh that must succeed; returns the token response.
pub async fn refresh_ok(server: &Server, client: &TestClient, refresh_token: &str) -> Value {
    let res = refresh(server, auth_of(client), refresh_token, None).await;
    assert_eq!(res.status, 200, "refresh: {}", res.describe());
    res.json()
}

fn token_form(token: &str, hint: Option<&str>) -> Params {
    let mut p = Params::new().set("token", token);
    if let Some(h) = hint {
        p = p.set("token_type_hint", h);
    }
    p
}

/// `POST /introspect`.
pub async fn introspect(server: &Server, auth: Auth<'_>, token: &str, hint: Option<&str>) -> Page {
    post_with_auth(server, "/introspect", auth, &token_form(token, hint)).await
}

/// `POST /introspect` that must answer 200; returns the JSON.
pub async fn introspect_ok(server: &Server, auth: Auth<'_>, token: &str) -> Value {
    let page = introspect(server, auth, token, None).await;
    assert_eq!(page.status, 200, "introspection: {}", page.describe());
    page.json()
}

/// Whether `client` (or a resource server) sees `token` as active.
pub async fn is_active(server: &Server, auth: Auth<'_>, token: &str) -> bool {
    let v = introspect_ok(server, auth, token).await;
    match v["active"] {
        Value::Bool(b) => b,
        _ => panic!("`active` must be a boolean: {v}"),
    }
}

/// Asserts the exact inactive answer `{"active": false}`.
pub fn assert_inactive(v: &Value, what: &str) {
    assert_eq!(v, &json!({"active": false}), "{what}: an inactive token reveals nothing");
}

/// `POST /revoke`.
pub async fn revoke(server: &Server, auth: Auth<'_>, token: &str, hint: Option<&str>) -> Page {
    post_with_auth(server, "/revoke", auth, &token_form(token, hint)).await
}

/// A revocation answer: 200 with an empty body.
pub fn assert_revoke_ok(page: &Page, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.describe());
    assert!(page.body.is_empty(), "{what}: the body must be empty, got {:?}", page.body);
}

/// UserInfo status for a bearer token.
pub async fn userinfo_status(server: &Server, access_token: &str) -> u16 {
    userinfo_get(server, Some(&format!("Bearer {access_token}"))).await.status.as_u16()
}

/// The claims of a JWT, unverified.
pub fn claims(jwt: &str) -> Value {
    jwt_parts(jwt).1
}

pub fn scope_words(s: &str) -> std::collections::BTreeSet<String> {
    s.split(' ').filter(|w| !w.is_empty()).map(String::from).collect()
}

/// The last `n` lines of a log, for assertion messages.
pub fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Decodes base64url without padding into JSON.
pub fn b64json(s: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("base64url")).expect("JSON")
}

// ---------------------------------------------------------------------------
// A relying party's back-channel logout endpoint.

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The form fields of the body.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.body.as_bytes()).into_owned().collect()
    }
}

/// A plain HTTP/1.1 server on 127.0.0.1 that records every request and
/// answers with `status` (or never answers, when `status` is 0), after
/// `set_delay` if one is set.
pub struct Receiver {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
    delay_ms: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start(status: u16) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(status));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (requests, status, delay_ms, stop) = (requests.clone(), status.clone(), delay_ms.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (requests, status, stop) = (requests.clone(), status.clone(), stop.clone());
                            let delay = Duration::from_millis(delay_ms.load(Ordering::SeqCst));
                            std::thread::spawn(move || serve_one(stream, &requests, &status, delay, &stop));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            });
        }
        Receiver { port, requests, status, delay_ms, stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set_status(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Answers only `delay` after each request arrived.
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// Waits up to `within` for at least `n` requests; returns them all.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        let deadline = Instant::now() + within;
        while self.count() < n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn serve_one(
    mut stream: TcpStream,
    requests: &Mutex<Vec<Received>>,
    status: &AtomicU16,
    delay: Duration,
    stop: &AtomicBool,
) {
    stream.set_nonblocking(false).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    // Head.
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let path = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers.iter().find(|(k, _)| k == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
    while buf.len() < head_end + len {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..(head_end + len).min(buf.len())]).into_owned();
    requests.lock().unwrap().push(Received { at: Instant::now(), method, path, headers, body });
    std::thread::sleep(delay);
    let code = status.load(Ordering::SeqCst);
    if code == 0 {
        // Never answer: hold the connection until the test ends.
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50));
        }
        return;
    }
    let _ = stream.write_all(format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes());
    let _ = stream.flush();
}

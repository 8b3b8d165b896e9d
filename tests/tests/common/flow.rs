//! A small "browser" for the authorization code flow (a cookie jar, no
//! redirect following), a parser for the few HTML forms the pages contain,
//! PKCE, and the token endpoint as a client calls it.
//!
//! Everything here follows docs/authorization-flow.md and nothing else: the
//! helpers know the field and cookie names the contract gives, not how the
//! server is built.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use latchkey_tests::reqwest::cookie::{CookieStore, Jar};
use latchkey_tests::reqwest::header::HeaderMap;
use latchkey_tests::reqwest::{self, Response, StatusCode};
use latchkey_tests::*;
use sha2::{Digest, Sha256};

/// The redirect URI most tests register.
pub const CB: &str = "https://app.example/cb";
/// Alice's password: spaces, `&`, `=`, `+`, `%` and non-ASCII must survive
/// form encoding.
pub const PASSWORD: &str = "Tr0ub4dor & 3 = +% ünï";
/// Scopes most tests request.
pub const SCOPES: &str = "openid profile email phone";
/// A state that needs every kind of escaping: spaces, unicode, `&`, `=`, `+`, `%`.
pub const NASTY_STATE: &str = "st ate/ü☃&x=1+2%41%zz?#;'\"";
/// The message every failed sign-in shows.
pub const BAD_LOGIN: &str = "Incorrect username or password.";

// ---------------------------------------------------------------------------
// Accounts and clients, through the CLI.

#[derive(Debug, Clone)]
pub struct User {
    /// The stable `sub`.
    pub id: String,
    pub username: String,
    pub password: String,
}

/// Alice, with every claim the CLI can set.
pub fn create_alice(db: &TestDb) -> User {
    create_user(
        db,
        "alice",
        PASSWORD,
        &[
            "--email",
            "alice@example.com",
            "--email-verified",
            "--name",
            "Alice Liddell",
            "--given-name",
            "Alice",
            "--family-name",
            "Liddell",
            "--phone",
            "+1 555 0100",
        ],
    )
}

pub fn create_user(db: &TestDb, username: &str, password: &str, extra: &[&str]) -> User {
    let mut args = vec!["user", "create", "--username", username, "--password-stdin"];
    args.extend_from_slice(extra);
    args.push("--json");
    let out = cli(db, &args, &[], Some(&format!("{password}\n"))).ok().json();
    User {
        id: out["id"].as_str().expect("user id").to_string(),
        username: username.to_string(),
        password: password.to_string(),
    }
}

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

/// `latchkey client create --name NAME ARGS --json`.
pub fn create_client(db: &TestDb, name: &str, args: &[&str]) -> TestClient {
    let mut all = vec!["client", "create", "--name", name];
    all.extend_from_slice(args);
    let out = cli_json(db, &all);
    TestClient {
        id: out["client_id"].as_str().expect("client_id").to_string(),
        secret: out["client_secret"].as_str().map(String::from),
    }
}

/// A confidential (`client_secret_basic`) client registered for [`CB`].
pub fn confidential(db: &TestDb) -> TestClient {
    create_client(db, "Test App", &["--redirect-uri", CB])
}

/// A public client registered for [`CB`].
pub fn public(db: &TestDb) -> TestClient {
    create_client(db, "Public App", &["--redirect-uri", CB, "--public"])
}

/// A database, Alice, and a running server.
pub struct Env {
    pub db: TestDb,
    pub server: Server,
    pub alice: User,
}

pub async fn env(backend: Backend, server_env: &[(&str, &str)]) -> Env {
    let db = TestDb::new(backend).await;
    // `serve` applies the migrations; the CLI needs them for the user.
    let server = Server::start(&db, server_env).await;
    let alice = create_alice(&db);
    Env { db, server, alice }
}

// ---------------------------------------------------------------------------
// Request parameters.

/// An ordered list of request parameters (duplicates allowed on purpose).
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces every `name` with one `name=value`.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.to_string(), value.to_string()));
        self
    }

    /// Appends `name=value`, keeping any earlier one.
    pub fn add(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.to_string(), value.to_string()));
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.0.retain(|(k, _)| k != name);
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// `application/x-www-form-urlencoded` serialization.
    pub fn encode(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.0 {
            s.append_pair(k, v);
        }
        s.finish()
    }
}

/// A PKCE pair for a code request.
#[derive(Debug, Clone)]
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

/// A fresh verifier (64 base64url characters from 48 random bytes) and its
/// S256 challenge.
pub fn pkce() -> Pkce {
    let bytes: [u8; 48] = rand::random();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = s256(&verifier);
    Pkce { verifier, challenge }
}

/// `BASE64URL(SHA256(ASCII(verifier)))` (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn random_state() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>())
}

/// A complete, valid code request for `client_id` at [`CB`] with [`SCOPES`],
/// a random state and the PKCE challenge.
pub fn code_request(client_id: &str, pkce: &Pkce) -> Params {
    Params::new()
        .set("response_type", "code")
        .set("client_id", client_id)
        .set("redirect_uri", CB)
        .set("scope", SCOPES)
        .set("state", &random_state())
        .set("code_challenge", &pkce.challenge)
        .set("code_challenge_method", "S256")
}

// ---------------------------------------------------------------------------
// Responses and the HTML in them.

/// A response read in full.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
    pub url: String,
}

impl Page {
    pub async fn of(res: Response) -> Page {
        let status = res.status();
        let headers = res.headers().clone();
        let url = res.url().to_string();
        let body = res.text().await.unwrap_or_default();
        Page { status, headers, body, url }
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    /// Every value of a header (joined lists are not split).
    pub fn header_all(&self, name: &str) -> Vec<String> {
        self.headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()).collect()
    }

    pub fn location(&self) -> Option<String> {
        self.header("location")
    }

    pub fn is_redirect(&self) -> bool {
        matches!(self.status.as_u16(), 302 | 303)
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {}: {}", self.status, self.body))
    }

    /// The `Set-Cookie` header that sets `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<SetCookie> {
        self.header_all("set-cookie").into_iter().map(|raw| SetCookie::parse(&raw)).find(|c| c.name == name)
    }

    /// Every cookie name this response sets.
    pub fn set_cookie_names(&self) -> Vec<String> {
        self.header_all("set-cookie").into_iter().map(|raw| SetCookie::parse(&raw).name).collect()
    }

    /// The value of the first `<input>`/`<button>` named `name`.
    pub fn input(&self, name: &str) -> Option<String> {
        input_value(&self.body, name)
    }

    pub fn is_login(&self) -> bool {
        elements(&self.body).iter().any(|e| e.attr("name") == Some("password"))
    }

    pub fn is_consent(&self) -> bool {
        elements(&self.body).iter().any(|e| e.attr("name") == Some("decision") && e.attr("value") == Some("allow"))
    }

    /// The `form_post` page: a form to somewhere else than our own pages.
    pub fn is_form_post(&self) -> bool {
        !self.is_login() && !self.is_consent() && form_action(&self.body).is_some_and(|a| a.starts_with("http"))
    }

    /// A short description for assertion messages.
    pub fn describe(&self) -> String {
        let mut body = self.body.clone();
        if body.len() > 3000 {
            let cut = (0..=3000).rev().find(|&i| body.is_char_boundary(i)).unwrap_or(0);
            body.truncate(cut);
            body.push('…');
        }
        format!("{} {} location={:?}\n{}", self.status, self.url, self.location(), body)
    }
}

/// One `Set-Cookie` header.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub raw: String,
    pub name: String,
    pub value: String,
    /// Attributes in lower case, `name` or `name=value`.
    pub attrs: Vec<String>,
}

impl SetCookie {
    pub fn parse(raw: &str) -> SetCookie {
        let mut parts = raw.split(';');
        let first = parts.next().unwrap_or_default().trim();
        let (name, value) = first.split_once('=').unwrap_or((first, ""));
        SetCookie {
            raw: raw.to_string(),
            name: name.trim().to_string(),
            value: value.trim().to_string(),
            attrs: parts
                .map(|a| {
                    let a = a.trim().to_ascii_lowercase();
                    match a.split_once('=') {
                        Some((k, v)) => format!("{}={}", k.trim(), v.trim()),
                        None => a,
                    }
                })
                .collect(),
        }
    }

    pub fn has(&self, attr: &str) -> bool {
        self.attrs.iter().any(|a| a == &attr.to_ascii_lowercase())
    }

    /// The value of attribute `name` (lower-cased).
    pub fn attr(&self, name: &str) -> Option<String> {
        let prefix = format!("{}=", name.to_ascii_lowercase());
        self.attrs.iter().find_map(|a| a.strip_prefix(&prefix).map(String::from))
    }

    /// Whether this header deletes the cookie.
    pub fn deletes(&self) -> bool {
        self.value.is_empty()
            || self.attr("max-age").is_some_and(|v| v == "0" || v.starts_with('-'))
            || self.attr("expires").is_some_and(|v| v.contains("1970"))
    }
}

/// An HTML element with its attributes, values unescaped.
#[derive(Debug, Clone)]
pub struct Element {
    pub tag: String,
    pub attrs: Vec<(String, String)>,
}

impl Element {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Every `<input>`, `<button>` and `<form>` start tag, in document order.
pub fn elements(html: &str) -> Vec<Element> {
    let mut out = Vec::new();
    let lower = html.to_ascii_lowercase();
    let mut i = 0;
    while let Some(off) = lower[i..].find('<') {
        let start = i + off + 1;
        let name_end = lower[start..].find(|c: char| !c.is_ascii_alphanumeric()).map_or(lower.len(), |n| start + n);
        let tag = &lower[start..name_end];
        i = name_end.max(start);
        if !matches!(tag, "input" | "button" | "form") {
            continue;
        }
        let (attrs, end) = parse_attrs(html, name_end);
        out.push(Element { tag: tag.to_string(), attrs });
        i = end;
    }
    out
}

/// Attributes from `pos` up to the closing `>`; returns them and the index
/// after the tag.
fn parse_attrs(html: &str, mut pos: usize) -> (Vec<(String, String)>, usize) {
    let b = html.as_bytes();
    let mut attrs = Vec::new();
    loop {
        while pos < b.len() && (b[pos].is_ascii_whitespace() || b[pos] == b'/') {
            pos += 1;
        }
        if pos >= b.len() {
            return (attrs, pos);
        }
        if b[pos] == b'>' {
            return (attrs, pos + 1);
        }
        let name_start = pos;
        while pos < b.len() && !b[pos].is_ascii_whitespace() && !matches!(b[pos], b'=' | b'>' | b'/') {
            pos += 1;
        }
        let name = html[name_start..pos].to_ascii_lowercase();
        while pos < b.len() && b[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let mut value = String::new();
        if pos < b.len() && b[pos] == b'=' {
            pos += 1;
            while pos < b.len() && b[pos].is_ascii_whitespace() {
                pos += 1;
            }
            if pos < b.len() && (b[pos] == b'"' || b[pos] == b'\'') {
                let quote = b[pos];
                let vstart = pos + 1;
                let vend = html[vstart..].find(quote as char).map_or(b.len(), |n| vstart + n);
                value = unescape(&html[vstart..vend]);
                pos = (vend + 1).min(b.len());
            } else {
                let vstart = pos;
                while pos < b.len() && !b[pos].is_ascii_whitespace() && b[pos] != b'>' {
                    pos += 1;
                }
                value = unescape(&html[vstart..pos]);
            }
        }
        if name.is_empty() {
            pos += 1;
            continue;
        }
        attrs.push((name, value));
    }
}

/// The value of the first `<input>`/`<button>` named `name`.
pub fn input_value(html: &str, name: &str) -> Option<String> {
    elements(html)
        .into_iter()
        .filter(|e| e.tag != "form")
        .find(|e| e.attr("name") == Some(name))
        .map(|e| e.attr("value").unwrap_or_default().to_string())
}

/// The values of every `<input>`/`<button>` named `name`.
pub fn input_values(html: &str, name: &str) -> Vec<String> {
    elements(html)
        .into_iter()
        .filter(|e| e.tag != "form" && e.attr("name") == Some(name))
        .map(|e| e.attr("value").unwrap_or_default().to_string())
        .collect()
}

/// The `action` of the first `<form>`.
pub fn form_action(html: &str) -> Option<String> {
    elements(html).into_iter().find(|e| e.tag == "form").and_then(|e| e.attr("action").map(String::from))
}

/// The `method` of the first `<form>`, lower-cased.
pub fn form_method(html: &str) -> Option<String> {
    elements(html).into_iter().find(|e| e.tag == "form").and_then(|e| e.attr("method").map(|m| m.to_ascii_lowercase()))
}

/// The hidden inputs of the page's form, as (name, value) pairs.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    elements(html)
        .into_iter()
        .filter(|e| e.tag == "input" && e.attr("type").is_some_and(|t| t.eq_ignore_ascii_case("hidden")))
        .filter_map(|e| Some((e.attr("name")?.to_string(), e.attr("value").unwrap_or_default().to_string())))
        .collect()
}

/// Decodes HTML character references (named: amp, lt, gt, quot, apos, and
/// numeric ones).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let Some(end) = rest.find(';').filter(|&e| e <= 12) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Query pairs of a URL, decoded.
pub fn query_pairs(url: &str) -> Vec<(String, String)> {
    let parsed = url::Url::parse(url).unwrap_or_else(|e| panic!("bad URL {url:?}: {e}"));
    parsed.query_pairs().into_owned().collect()
}

/// The single value of `name`; panics when absent or repeated.
pub fn one(pairs: &[(String, String)], name: &str) -> String {
    let found: Vec<&String> = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect();
    assert_eq!(found.len(), 1, "exactly one {name:?} in {pairs:?}");
    found[0].clone()
}

pub fn get(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// Splits a `Content-Security-Policy` into (directive, sources).
pub fn csp_directives(csp: &str) -> Vec<(String, Vec<String>)> {
    csp.split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.map(String::from).collect()))
        })
        .collect()
}

pub fn csp_sources(csp: &str, directive: &str) -> Option<Vec<String>> {
    csp_directives(csp).into_iter().find(|(n, _)| n == directive).map(|(_, s)| s)
}

/// The headers every page carries (contract, "Pages").
pub fn assert_page_headers(page: &Page, what: &str) {
    let cc = page.header("cache-control").unwrap_or_default();
    assert!(
        cc.split(',').any(|d| d.trim().eq_ignore_ascii_case("no-store")),
        "{what}: Cache-Control must be no-store, got {cc:?}"
    );
    assert_eq!(
        page.header("x-frame-options").map(|v| v.to_ascii_uppercase()),
        Some("DENY".into()),
        "{what}: X-Frame-Options"
    );
    let ct = page.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/html"), "{what}: content-type {ct:?}");
    let csp = page.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert_eq!(
        csp_sources(&csp, "default-src"),
        Some(vec!["'none'".to_string()]),
        "{what}: default-src 'none' in {csp:?}"
    );
    assert_eq!(
        csp_sources(&csp, "frame-ancestors"),
        Some(vec!["'none'".to_string()]),
        "{what}: frame-ancestors 'none' in {csp:?}"
    );
}

/// Like [`assert_page_headers`], and `form-action` is exactly `'self'` plus
/// the origin of `redirect_origin` (when given).
pub fn assert_page_headers_with_form_action(page: &Page, what: &str, redirect_origin: Option<&str>) {
    assert_page_headers(page, what);
    let csp = page.header("content-security-policy").unwrap();
    let sources = csp_sources(&csp, "form-action").unwrap_or_else(|| panic!("{what}: no form-action in {csp:?}"));
    assert!(sources.iter().any(|s| s == "'self'"), "{what}: form-action 'self' in {csp:?}");
    if let Some(origin) = redirect_origin {
        assert!(
            sources.iter().any(|s| s.trim_end_matches('/') == origin),
            "{what}: form-action must allow the redirect URI's origin {origin}: {csp:?}"
        );
    }
}

/// RFC 6749 §5.2/§4.1.2.1: error_description uses %x20-21 / %x23-5B / %x5D-7E.
pub fn assert_description_charset(desc: &str, what: &str) {
    assert!(!desc.is_empty(), "{what}: empty error_description");
    assert!(
        desc.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "{what}: error_description has characters RFC 6749 forbids: {desc:?}"
    );
}

/// A phase-1 error (contract, "Phase 1"): an HTML page, 400, no redirect, no
/// form or script that could send the browser anywhere.
pub fn assert_phase1_page(page: &Page, what: &str) {
    assert_eq!(page.status, 400, "{what}: {}", page.describe());
    assert!(page.location().is_none(), "{what}: a phase-1 error must not redirect, Location = {:?}", page.location());
    let ct = page.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("text/html"), "{what}: content-type {ct:?}");
    let lower = page.body.to_ascii_lowercase();
    assert!(!lower.contains("<form"), "{what}: the error page must not carry a form: {}", page.body);
    assert!(!lower.contains("<script"), "{what}: the error page must not carry a script: {}", page.body);
    assert!(!lower.contains("http-equiv"), "{what}: no meta refresh: {}", page.body);
    assert_page_headers(page, what);
    if let Some(csp) = page.header("content-security-policy")
        && let Some(sources) = csp_sources(&csp, "form-action")
    {
        for s in &sources {
            assert!(s == "'self'" || s == "'none'", "{what}: a phase-1 page allows form-action {s} ({csp})");
        }
    }
}

/// A phase-2 error redirect (contract, "Phase 2") to `base` in query mode;
/// returns the pairs.
pub fn assert_error_redirect(
    page: &Page,
    base: &str,
    error: &str,
    state: Option<&str>,
    issuer: &str,
    what: &str,
) -> Vec<(String, String)> {
    assert!(page.is_redirect(), "{what}: expected a 302/303 redirect with error={error}, got {}", page.describe());
    let loc = page.location().unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    assert!(loc.starts_with(&format!("{base}{sep}")), "{what}: redirect must go to {base} (query mode), got {loc}");
    assert!(!loc.contains('#'), "{what}: no fragment in {loc}");
    let pairs = query_pairs(&loc);
    assert_eq!(one(&pairs, "error"), error, "{what}: {loc}");
    assert_description_charset(&one(&pairs, "error_description"), what);
    match state {
        Some(s) => assert_eq!(one(&pairs, "state"), s, "{what}: state echoed byte for byte"),
        None => assert!(get(&pairs, "state").is_none(), "{what}: no state was sent"),
    }
    assert_eq!(one(&pairs, "iss"), issuer, "{what}: iss (RFC 9207)");
    assert!(get(&pairs, "code").is_none(), "{what}: an error carries no code");
    pairs
}

// ---------------------------------------------------------------------------
// The browser.

pub struct Browser {
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
    pub issuer: String,
}

impl Browser {
    pub fn new(server: &Server) -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Browser { http, jar, issuer: server.issuer.clone() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The value of cookie `name` the browser would send to the issuer.
    pub fn cookie(&self, name: &str) -> Option<String> {
        let url: url::Url = self.issuer.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header.to_str().ok()?.split(';').find_map(|kv| {
            let (k, v) = kv.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }

    /// Stores a cookie as if the server had set it.
    pub fn set_cookie(&self, name: &str, value: &str) {
        let url: url::Url = self.issuer.parse().unwrap();
        self.jar.add_cookie_str(&format!("{name}={value}; Path=/"), &url);
    }

    pub async fn get(&self, url: &str) -> Page {
        Page::of(self.http.get(url).send().await.unwrap()).await
    }

    /// `GET /authorize?params`.
    pub async fn authorize(&self, params: &Params) -> Page {
        let url = format!("{}?{}", self.url("/authorize"), params.encode());
        self.get(&url).await
    }

    /// `POST /authorize` with the parameters as a form.
    pub async fn authorize_post(&self, params: &Params) -> Page {
        Page::of(
            self.http
                .post(self.url("/authorize"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(params.encode())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    pub async fn post_form(&self, path: &str, form: &Params) -> Page {
        Page::of(
            self.http
                .post(self.url(path))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.encode())
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Submits the login form of `page`.
    pub async fn login(&self, page: &Page, username: &str, password: &str) -> Page {
        assert!(page.is_login(), "not the login page: {}", page.describe());
        let form = Params::new()
            .set("interaction", &page.input("interaction").expect("interaction field"))
            .set("csrf", &page.input("csrf").expect("csrf field"))
            .set("username", username)
            .set("password", password);
        self.post_form("/login", &form).await
    }

    /// Submits the consent form of `page` with `decision` (allow or deny).
    pub async fn consent(&self, page: &Page, decision: &str) -> Page {
        assert!(page.is_consent(), "not the consent page: {}", page.describe());
        let form = Params::new()
            .set("interaction", &page.input("interaction").expect("interaction field"))
            .set("csrf", &page.input("csrf").expect("csrf field"))
            .set("decision", decision);
        self.post_form("/consent", &form).await
    }

    /// Drives the browser from `page` on: follows redirects within the issuer,
    /// signs in as `user` when the login page shows (panics if `user` is
    /// None), answers the consent page with `decision`; stops at the first
    /// redirect away from the issuer or at a `form_post` page.
    pub async fn drive(&self, mut page: Page, user: Option<&User>, decision: &str) -> Flow {
        let mut flow = Flow::default();
        for _ in 0..12 {
            if page.is_redirect() {
                let loc = page.location().unwrap();
                let abs = url::Url::parse(&page.url).unwrap().join(&loc).unwrap().to_string();
                if abs.starts_with(&format!("{}/", self.issuer)) {
                    page = self.get(&abs).await;
                    continue;
                }
                flow.params = query_pairs(&abs);
                flow.location = abs;
                flow.last = Some(page);
                return flow;
            }
            if page.status == 200 && page.is_login() {
                flow.saw_login += 1;
                let user = user.unwrap_or_else(|| panic!("unexpected login page: {}", page.describe()));
                page = self.login(&page, &user.username, &user.password).await;
                continue;
            }
            if page.status == 200 && page.is_consent() {
                flow.saw_consent += 1;
                page = self.consent(&page, decision).await;
                continue;
            }
            if page.status == 200 && page.body.contains("data-step=\"continue\"") {
                // A notice in the flow (recovery codes): on with it.
                let form = Params::new()
                    .set("interaction", &page.input("interaction").unwrap())
                    .set("csrf", &page.input("csrf").unwrap());
                page = self.post_form("/login/continue", &form).await;
                continue;
            }
            if page.status == 200 && page.is_form_post() {
                flow.location = form_action(&page.body).unwrap();
                flow.params = hidden_fields(&page.body);
                flow.form_post = true;
                flow.last = Some(page);
                return flow;
            }
            panic!("the flow stopped: {}", page.describe());
        }
        panic!("too many steps");
    }

    /// authorize → login (as `user`, when asked) → consent (allow, when
    /// asked) → the redirect to the client.
    pub async fn follow_to_code(&self, params: &Params, user: &User) -> Flow {
        let page = self.authorize(params).await;
        self.drive(page, Some(user), "allow").await
    }
}

/// Where a flow ended.
#[derive(Debug, Default)]
pub struct Flow {
    /// The URL the browser was sent to (or the form_post action).
    pub location: String,
    /// Its query pairs (or the form_post fields).
    pub params: Vec<(String, String)>,
    pub saw_login: usize,
    pub saw_consent: usize,
    pub form_post: bool,
    pub last: Option<Page>,
}

impl Flow {
    pub fn code(&self) -> String {
        assert!(get(&self.params, "error").is_none(), "the flow ended in an error: {:?}", self.params);
        one(&self.params, "code")
    }

    pub fn error(&self) -> Option<String> {
        get(&self.params, "error")
    }
}

// ---------------------------------------------------------------------------
// The token endpoint.

/// How a client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// `client_secret_basic`; id and secret are form-url-encoded first.
    Basic(&'a str, &'a str),
    /// An `Authorization: Basic` header with this exact base64 content.
    BasicRaw(&'a str),
    /// `client_secret_post`.
    Post(&'a str, &'a str),
    /// `none`: only `client_id` in the body.
    None(&'a str),
    /// No client identification at all.
    Nothing,
}

pub fn form_urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn basic_header(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{}:{}", form_urlencode(id), form_urlencode(secret))))
}

/// `POST /token` with `form` plus the client authentication.
pub async fn token(server: &Server, auth: Auth<'_>, form: &Params) -> Page {
    post_with_auth(server, "/token", auth, form).await
}

/// `POST path` (token, introspection or revocation endpoint) with `form` and
/// the client authentication `auth`.
pub async fn post_with_auth(server: &Server, path: &str, auth: Auth<'_>, form: &Params) -> Page {
    let mut form = form.clone();
    let mut req = http().post(server.url(path));
    match auth {
        Auth::Basic(id, secret) => req = req.header("authorization", basic_header(id, secret)),
        Auth::BasicRaw(raw) => req = req.header("authorization", format!("Basic {raw}")),
        Auth::Post(id, secret) => form = form.set("client_id", id).set("client_secret", secret),
        Auth::None(id) => form = form.set("client_id", id),
        Auth::Nothing => {}
    }
    Page::of(req.header("content-type", "application/x-www-form-urlencoded").body(form.encode()).send().await.unwrap())
        .await
}

/// Sends `n` identical `POST /token` requests (form `body`, `Authorization:
/// auth` unless empty) released together by a barrier; returns (status, JSON
/// body) of each.
pub async fn concurrent_token_requests(server: &Server, auth: &str, body: &str, n: usize) -> Vec<(u16, Value)> {
    let url = server.url("/token");
    let c = http();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for _ in 0..n {
        let (c, url, body, auth, barrier) =
            (c.clone(), url.clone(), body.to_string(), auth.to_string(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let mut req = c.post(url);
            if !auth.is_empty() {
                req = req.header("authorization", auth);
            }
            let res = req.header("content-type", "application/x-www-form-urlencoded").body(body).send().await.unwrap();
            let status = res.status().as_u16();
            let json: Value = res.json().await.unwrap_or(Value::Null);
            (status, json)
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// The `authorization_code` grant body.
pub fn code_grant(code: &str, verifier: Option<&str>) -> Params {
    let mut p = Params::new().set("grant_type", "authorization_code").set("code", code).set("redirect_uri", CB);
    if let Some(v) = verifier {
        p = p.set("code_verifier", v);
    }
    p
}

/// The client's natural authentication: Basic for confidential clients,
/// `none` for public ones.
pub fn auth_of(client: &TestClient) -> Auth<'_> {
    match &client.secret {
        Some(s) => Auth::Basic(&client.id, s),
        None => Auth::None(&client.id),
    }
}

/// An OAuth error response: status, `error`, JSON body.
pub fn assert_oauth_error(page: &Page, status: u16, error: &str, what: &str) -> Value {
    assert_eq!(page.status, status, "{what}: {}", page.describe());
    let ct = page.header("content-type").unwrap_or_default();
    assert!(ct.starts_with("application/json"), "{what}: content-type {ct:?}: {}", page.body);
    let body = page.json();
    assert_eq!(body["error"], error, "{what}: {body}");
    if let Some(d) = body.get("error_description") {
        assert_description_charset(d.as_str().expect("error_description is a string"), what);
    }
    assert!(body.get("access_token").is_none(), "{what}: {body}");
    body
}

/// Signs in through the browser and returns a fresh code for `params`.
pub async fn code_for(browser: &Browser, params: &Params, user: &User) -> String {
    browser.follow_to_code(params, user).await.code()
}

/// The whole flow for `client` with `scope`: returns the token response.
pub async fn tokens_for(server: &Server, browser: &Browser, client: &TestClient, user: &User, scope: &str) -> Value {
    let pkce = pkce();
    let params = code_request(&client.id, &pkce).set("scope", scope);
    let code = code_for(browser, &params, user).await;
    let res = token(server, auth_of(client), &code_grant(&code, Some(&pkce.verifier))).await;
    assert_eq!(res.status, 200, "token exchange: {}", res.describe());
    res.json()
}

// ---------------------------------------------------------------------------
// JWTs and UserInfo.

/// Header and claims of a JWT, unverified.
pub fn jwt_parts(token: &str) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWS in compact form: {token}");
    let dec =
        |s: &str| -> Value { serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).expect("base64url")).expect("JSON") };
    (dec(parts[0]), dec(parts[1]))
}

/// Verifies `token` with nothing but the served JWKS (independent JOSE
/// library), checking `iss`; returns the claims.
pub async fn verify_jwt(server: &Server, token: &str) -> Value {
    verify_jwt_with(server, token, jsonwebtoken::Algorithm::RS256).await
}

/// [`verify_jwt`] for a token that must be signed with `alg`.
pub async fn verify_jwt_with(server: &Server, token: &str, alg: jsonwebtoken::Algorithm) -> Value {
    let jwks: jsonwebtoken::jwk::JwkSet = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).expect("JWT header");
    assert_eq!(header.alg, alg);
    let kid = header.kid.expect("kid in the header");
    let jwk = jwks.find(&kid).unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[&server.issuer]);
    validation.validate_aud = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap_or_else(|e| panic!("JWT does not verify: {e}"))
        .claims
}

/// Whether `aud` (string or array) names `who`.
pub fn aud_contains(aud: &Value, who: &str) -> bool {
    match aud {
        Value::String(s) => s == who,
        Value::Array(a) => a.iter().any(|v| v == who),
        _ => false,
    }
}

pub async fn userinfo_get(server: &Server, authorization: Option<&str>) -> Page {
    let mut req = http().get(server.url("/userinfo"));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    Page::of(req.send().await.unwrap()).await
}

/// `WWW-Authenticate` of a UserInfo error.
pub fn www_authenticate(page: &Page) -> String {
    page.header("www-authenticate").unwrap_or_else(|| panic!("no WWW-Authenticate: {}", page.describe()))
}

/// A UserInfo refusal: 401 and `Bearer error="invalid_token"`.
pub fn assert_invalid_token(page: &Page, what: &str) {
    assert_eq!(page.status, 401, "{what}: {}", page.describe());
    let www = www_authenticate(page);
    assert!(www.to_ascii_lowercase().starts_with("bearer"), "{what}: WWW-Authenticate {www:?}");
    assert!(
        www.contains("error=\"invalid_token\""),
        "{what}: WWW-Authenticate must carry error=\"invalid_token\": {www:?}"
    );
}

/// Signs `claims` with the key the database marks active (as the server
/// does), with header `typ`.
pub async fn sign_with_active_key(db: &TestDb, typ: &str, claims: &Value) -> String {
    use sqlx::Row;
    let pool = db.pool().await;
    let row =
        sqlx::query("SELECT kid, private_key FROM signing_keys WHERE state = 'active'").fetch_one(&pool).await.unwrap();
    let kid: String = row.get("kid");
    let pem: String = row.get("private_key");
    pool.close().await;
    latchkey_keys::SigningKey::from_pem(&kid, latchkey_keys::Algorithm::RS256, &pem)
        .unwrap()
        .sign_jwt(typ, claims)
        .unwrap()
}

/// Signs `claims` with a key of our own under the active `kid`.
pub async fn sign_with_foreign_key(token_like: &str, claims: &Value) -> String {
    let (header, _) = jwt_parts(token_like);
    let kid = header["kid"].as_str().unwrap();
    let foreign = latchkey_keys::generate_rsa(2048).unwrap();
    latchkey_keys::SigningKey::from_pem(kid, latchkey_keys::Algorithm::RS256, &foreign.private_pem)
        .unwrap()
        .sign_jwt(header["typ"].as_str().unwrap_or("JWT"), claims)
        .unwrap()
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

// ---------------------------------------------------------------------------
// What is stored.

/// Whether `needle` appears anywhere in the test database: the SQLite files
/// byte for byte, or every PostgreSQL row as JSON text.
pub async fn database_contains(db: &TestDb, needle: &str) -> bool {
    match db.backend {
        Backend::Sqlite => {
            let dir = db.dir.path().join("db");
            let mut found = false;
            for entry in std::fs::read_dir(&dir).expect("sqlite folder") {
                let path = entry.unwrap().path();
                if let Ok(bytes) = std::fs::read(&path)
                    && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                {
                    found = true;
                }
            }
            found
        }
        Backend::Postgres | Backend::Cluster => {
            use sqlx::Row;
            if db.redis_dump().await.contains(needle) {
                return true;
            }
            let pool = db.pool().await;
            let tables: Vec<String> = sqlx::query(
                "SELECT CAST(table_name AS TEXT) AS t FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE'",
            )
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<String, _>("t"))
            .collect();
            let mut found = false;
            for t in tables {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT CAST(row_to_json(x) AS TEXT) AS j FROM \"{t}\" x"
                )))
                .fetch_all(&pool)
                .await
                .unwrap();
                if rows.iter().any(|r| r.get::<String, _>("j").contains(needle)) {
                    found = true;
                }
            }
            pool.close().await;
            found
        }
    }
}

// ---------------------------------------------------------------------------
// The helpers' own checks (run in every test binary that includes them).

#[test]
fn html_helpers_read_what_the_pages_contain() {
    let html = r#"<form method="post" action="/login">
<input type="hidden" name="interaction" value="a&amp;b&quot;c&lt;&gt;&#x27;&#39;">
<input type="hidden" name="csrf" value="tok">
<input id="username" name="username" type="text" required value="x &lt;script&gt;">
<input id="password" name="password" type="password" required autofocus>
<button type="submit" name="decision" value="deny">Deny</button>
<button type="submit" name="decision" value="allow" class="primary">Allow</button>
</form>"#;
    assert_eq!(input_value(html, "interaction").as_deref(), Some("a&b\"c<>''"));
    assert_eq!(input_value(html, "csrf").as_deref(), Some("tok"));
    assert_eq!(input_value(html, "username").as_deref(), Some("x <script>"));
    assert_eq!(input_value(html, "password").as_deref(), Some(""));
    assert_eq!(input_values(html, "decision"), vec!["deny", "allow"]);
    assert_eq!(form_action(html).as_deref(), Some("/login"));
    assert_eq!(form_method(html).as_deref(), Some("post"));
    assert_eq!(hidden_fields(html).len(), 2);
    assert_eq!(unescape("&amp;lt; &#x2F; &#47; & &bogus;"), "&lt; / / & &bogus;");
    let c = SetCookie::parse("latchkey_session=abc; Path=/; HttpOnly; SameSite=Lax");
    assert_eq!((c.name.as_str(), c.value.as_str()), ("latchkey_session", "abc"));
    assert!(c.has("httponly") && !c.has("secure"));
    assert_eq!(c.attr("samesite").as_deref(), Some("lax"));
    assert_eq!(c.attr("path").as_deref(), Some("/"));
    assert_eq!(
        csp_sources("default-src 'none'; form-action 'self' https://app.example", "form-action"),
        Some(vec!["'self'".to_string(), "https://app.example".to_string()])
    );
    // RFC 7636 appendix B.
    assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    let p = pkce();
    assert!(p.verifier.len() >= 43 && p.verifier.len() <= 128);
    assert_eq!(p.challenge.len(), 43);
}

/// The RFC 6238 code (SHA-1, 6 digits, 30 s) of base32 `secret` at Unix time `at`.
pub fn totp(secret: &str, at: i64) -> String {
    const SCRIPT: &str = "import base64,hmac,hashlib,struct,sys
s=sys.argv[1]; k=base64.b32decode(s+'='*(-len(s)%8))
h=hmac.new(k,struct.pack('>Q',int(sys.argv[2])//30),hashlib.sha1).digest()
o=h[-1]&15
print('%06d'%((struct.unpack('>I',h[o:o+4])[0]&0x7fffffff)%1000000))";
    let out = std::process::Command::new("python3").args(["-c", SCRIPT, secret, &at.to_string()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// The setup page's key (base32, without the spaces it is shown with).
pub fn setup_secret(page: &Page) -> String {
    let start = "<code class=\"secret\">";
    let from = page.body.find(start).unwrap_or_else(|| panic!("no key: {}", page.describe())) + start.len();
    page.body[from..][..page.body[from..].find("</code>").unwrap()].replace(' ', "")
}

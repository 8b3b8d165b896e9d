//! Headless Chromium through ChromeDriver's W3C WebDriver HTTP API (plain
//! reqwest, no WebDriver crate), for the browser tests (tests/tests/browser.rs,
//! tests/tests/admin_console.rs).
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages
//! `chromium chromium-driver`; `.ci/run` installs them). [`browser_available`]
//! fails the test when `CI` is set and they are missing, and skips it otherwise.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::free_port;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// W3C WebDriver's key for element references.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Whether Chromium and ChromeDriver are installed; in CI their absence fails.
pub fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER].into_iter().filter(|p| !Path::new(p).exists()).collect();
    if missing.is_empty() {
        return true;
    }
    let msg =
        format!("browser test needs {} (Debian: apt-get install -y chromium chromium-driver)", missing.join(" and "));
    if std::env::var_os("CI").is_some() {
        panic!("CI is set but {msg}");
    }
    eprintln!("SKIPPED: {msg}");
    false
}

// ---------------------------------------------------------------------------
// ChromeDriver and one browser session, over the W3C WebDriver HTTP API.

pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    guard: DriverGuard,
}

/// Ends the session and the ChromeDriver process group (ChromeDriver and the
/// Chromium processes it started) also when the test panics.
struct DriverGuard {
    child: Option<Child>,
    port: u16,
    session: Option<String>,
    // Kept until the browser is gone: Chromium's profile lives here.
    _profile: tempfile::TempDir,
    log: PathBuf,
}

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            raw_delete(self.port, &format!("/session/{session}"));
        }
        if let Some(mut child) = self.child.take() {
            // ChromeDriver runs in a process group of its own (see start).
            let _ =
                Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).stderr(Stdio::null()).status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A blocking `DELETE` for Drop, which cannot await.
fn raw_delete(port: u16, path: &str) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = write!(
        stream,
        "DELETE {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let mut sink = Vec::new();
    let _ = stream.read_to_end(&mut sink);
}

impl Browser {
    pub async fn start(dir: &Path) -> Self {
        Self::start_in(dir, None).await
    }

    /// A browser whose languages (`Accept-Language`) are `languages`, e.g. "de-DE,de".
    pub async fn start_in(dir: &Path, languages: Option<&str>) -> Self {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let log = dir.join("chromedriver.log");
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let profile = tempfile::tempdir().expect("profile dir");
        let mut guard = DriverGuard { child: Some(child), port, session: None, _profile: profile, log };
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
        let base = format!("http://127.0.0.1:{port}");

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(res) = http.get(format!("{base}/status")).send().await
                && let Ok(status) = res.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            if let Some(exit) = guard.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("chromedriver exited with {exit}\n{}", guard.log_text());
            }
            assert!(Instant::now() < deadline, "chromedriver not ready after 20 s\n{}", guard.log_text());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--no-proxy-server",
            "--window-size=1024,768",
            &format!("--user-data-dir={}", guard._profile.path().display()),
        ];
        let mut options = json!({"binary": CHROMIUM, "args": args});
        if let Some(languages) = languages {
            options["prefs"] = json!({"intl.accept_languages": languages});
            let lang = format!("--lang={}", languages.split(',').next().unwrap_or(languages));
            options["args"].as_array_mut().unwrap().push(json!(lang));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
        }}});
        let res = http.post(format!("{base}/session")).json(&caps).send().await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert!(status.is_success(), "new session failed ({status}): {body}\n{}", guard.log_text());
        let session = body["value"]["sessionId"].as_str().expect("sessionId").to_string();
        guard.session = Some(session.clone());
        let browser = Self { http, base, session, guard };
        browser.call("POST", "/timeouts", Some(json!({"implicit": 5000, "pageLoad": 30000}))).await;
        browser
    }

    /// One WebDriver command of this session; returns its `value`.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = match method {
            "GET" => self.http.get(&url),
            "POST" => self.http.post(&url).json(&body.unwrap_or_else(|| json!({}))),
            "DELETE" => self.http.delete(&url),
            other => unreachable!("{other}"),
        };
        let res = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = res.status();
        let body: Value = res.json().await.unwrap_or_else(|e| panic!("{method} {path}: not JSON: {e}"));
        assert!(status.is_success(), "WebDriver {method} {path} failed ({status}): {body}");
        body["value"].clone()
    }

    /// Runs `script` in the page (WebDriver "Execute Script": a function
    /// body; `arguments` holds `args`); returns what it returned. Scripts
    /// run this way are not subject to the page's Content-Security-Policy.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.call("POST", "/execute/sync", Some(json!({"script": script, "args": args}))).await
    }

    /// Like [`Browser::execute`], for a script that ends by calling its last
    /// argument (the callback) with the result ("Execute Async Script").
    pub async fn execute_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.call("POST", "/execute/async", Some(json!({"script": script, "args": args}))).await
    }

    pub async fn navigate(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    pub async fn current_url(&self) -> String {
        self.call("GET", "/url", None).await.as_str().unwrap().to_string()
    }

    pub async fn title(&self) -> String {
        self.call("GET", "/title", None).await.as_str().unwrap().to_string()
    }

    pub async fn source(&self) -> String {
        self.call("GET", "/source", None).await.as_str().unwrap().to_string()
    }

    pub async fn cookies(&self) -> Vec<Value> {
        self.call("GET", "/cookie", None).await.as_array().unwrap().clone()
    }

    pub async fn element(&self, css: &str) -> String {
        let found = self.call("POST", "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css}: {found}")).to_string()
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/value"), Some(json!({"text": text}))).await;
    }

    pub async fn clear(&self, css: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/clear"), None).await;
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call("POST", &format!("/element/{id}/click"), None).await;
    }

    pub async fn attribute(&self, css: &str, name: &str) -> String {
        let id = self.element(css).await;
        let value = self.call("GET", &format!("/element/{id}/attribute/{name}"), None).await;
        value.as_str().unwrap_or_else(|| panic!("{css} has no {name}")).to_string()
    }

    /// Polls until the browser is at a URL starting with `prefix` (10 s); returns it.
    pub async fn wait_for_url(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.current_url().await;
            if now.starts_with(prefix) {
                return now;
            }
            assert!(Instant::now() < deadline, "not at {prefix} within 10 s; at {now}:\n{}", self.source().await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn text(&self, css: &str) -> String {
        let id = self.element(css).await;
        self.call("GET", &format!("/element/{id}/text"), None).await.as_str().unwrap().to_string()
    }

    pub async fn texts(&self, css: &str) -> Vec<String> {
        let found = self.call("POST", "/elements", Some(json!({"using": "css selector", "value": css}))).await;
        let mut out = Vec::new();
        for el in found.as_array().unwrap() {
            let id = el[ELEMENT].as_str().unwrap();
            let text = self.call("GET", &format!("/element/{id}/text"), None).await;
            out.push(text.as_str().unwrap().to_string());
        }
        out
    }

    /// Polls the page source until it contains `needle` (10 s); returns it.
    pub async fn wait_for_source(&self, needle: &str, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let source = self.source().await;
            if source.contains(needle) {
                return source;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not appear within 10 s (looked for {needle:?}); at {}:\n{source}",
                self.current_url().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the viewport.
    pub async fn screenshot(&self, path: &Path) {
        let b64 = self.call("GET", "/screenshot", None).await;
        let png = STANDARD.decode(b64.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Ends the session; the guard stops ChromeDriver.
    pub async fn quit(mut self) {
        self.call("DELETE", "", None).await;
        self.guard.session = None;
    }
}

impl DriverGuard {
    fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("chromedriver log ({}):\n{}", self.log.display(), tail.join("\n"))
    }
}

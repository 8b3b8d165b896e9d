//! Multi-step load driver for Latchkey (bench/run calls it).
//!
//! Sets up its state once through the `latchkey` CLI and the real login pages,
//! then runs N concurrent workers (closed loop, like `wrk -c N`) for a warm-up
//! plus a fixed measured window, and prints one JSON line per workload:
//!
//! * `code`:     full authorization code flow with an existing session and a
//!               remembered consent: GET /authorize (session cookie) -> 303 with
//!               code -> POST /token (PKCE S256, client_secret_basic) -> ID token.
//!               One "op" = one flow (2 requests).
//! * `refresh`:  refresh-token rotation; every worker owns its own chain.
//! * `userinfo`: GET /userinfo with one access token per worker.
//! * `login`:    (opt-in) password sign-in without a session: GET /authorize ->
//!               login page -> POST /login (Argon2id) -> 303 with a code.
//!               One "op" = one sign-in (2 requests).
//!
//! Server CPU per op comes from /proc/PID/stat (utime+stime, all threads, and
//! all descendants), memory from /proc/PID/status (VmRSS sampled every 100 ms,
//! VmHWM at the end). Only loopback base URLs are accepted.
//!
//! usage: latchkey-bench-driver --base-url http://127.0.0.1:PORT --latchkey PATH
//!          --server-pid PID [--db-pid PID] [--database-url URL]
//!          [--workloads code,refresh,userinfo[,login]] [--concurrency 32] [--threads 2]
//!          [--duration 10] [--warmup 3] [--label TEXT] [--session-per-worker]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::cookie::{CookieStore as _, Jar};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

const REDIRECT_URI: &str = "http://127.0.0.1:9/cb";
const PASSWORD: &str = "bench-password-1";
const FLOW_SCOPE: &str = "openid profile email offline_access";
const MAX_DURATION_S: u64 = 300;

type Res<T> = Result<T, String>;

#[derive(Clone, Debug)]
struct Opts {
    base: String,
    latchkey: String,
    database_url: Option<String>,
    server_pid: Option<u32>,
    db_pid: Option<u32>,
    workloads: Vec<String>,
    concurrency: usize,
    threads: usize,
    duration: u64,
    warmup: u64,
    label: String,
    session_per_worker: bool,
}

fn usage(msg: &str) -> ! {
    eprintln!("error: {msg}");
    eprintln!(
        "usage: latchkey-bench-driver --base-url http://127.0.0.1:PORT --latchkey PATH --server-pid PID \
         [--db-pid PID] [--database-url URL] [--workloads code,refresh,userinfo[,login]] [--concurrency 32] \
         [--threads 2] [--duration 10] [--warmup 3] [--label TEXT] [--session-per-worker]"
    );
    std::process::exit(2)
}

fn parse_opts() -> Opts {
    let mut o = Opts {
        base: String::new(),
        latchkey: String::new(),
        database_url: None,
        server_pid: None,
        db_pid: None,
        workloads: vec!["code".into(), "refresh".into(), "userinfo".into()],
        concurrency: 32,
        threads: 2,
        duration: 10,
        warmup: 3,
        label: String::new(),
        session_per_worker: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_else(|| usage(&format!("{a} needs a value")));
        let num = |v: String| v.parse::<u64>().unwrap_or_else(|_| usage(&format!("not a number: {v}")));
        match a.as_str() {
            "--base-url" => o.base = val().trim_end_matches('/').to_string(),
            "--latchkey" => o.latchkey = val(),
            "--database-url" => o.database_url = Some(val()),
            "--server-pid" => o.server_pid = Some(num(val()) as u32),
            "--db-pid" => o.db_pid = Some(num(val()) as u32),
            "--workloads" => o.workloads = val().split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
            "--concurrency" => o.concurrency = num(val()).clamp(1, 1024) as usize,
            "--threads" => o.threads = num(val()).clamp(1, 64) as usize,
            "--duration" => o.duration = num(val()).clamp(1, MAX_DURATION_S),
            "--warmup" => o.warmup = num(val()).min(MAX_DURATION_S),
            "--label" => o.label = val(),
            "--session-per-worker" => o.session_per_worker = true,
            "-h" | "--help" => usage("help"),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    let loopback = ["http://127.0.0.1:", "http://127.0.0.1/", "http://localhost:", "http://[::1]:"];
    if !loopback.iter().any(|p| o.base.starts_with(p)) {
        usage("--base-url must be a loopback http URL (http://127.0.0.1:PORT)");
    }
    if o.latchkey.is_empty() {
        usage("--latchkey PATH is required (the release binary, for the CLI set-up)");
    }
    for w in &o.workloads {
        if !matches!(w.as_str(), "code" | "refresh" | "userinfo" | "login") {
            usage(&format!("unknown workload {w}"));
        }
    }
    o
}

// ---------------------------------------------------------------------------
// /proc helpers
// ---------------------------------------------------------------------------

fn clk_tck() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn ncpu() -> f64 {
    std::thread::available_parallelism().map(|n| n.get() as f64).unwrap_or(1.0).max(
        // available_parallelism honours affinity; /proc/stat covers every CPU
        std::fs::read_to_string("/proc/stat")
            .map(|s| s.lines().filter(|l| l.starts_with("cpu") && !l.starts_with("cpu ")).count() as f64)
            .unwrap_or(1.0),
    )
}

/// Fields after "comm)" of /proc/PID/stat (index 0 = state, 1 = ppid, 11 = utime, 12 = stime).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn ticks_of(pid: u32) -> u64 {
    stat_fields(pid)
        .map(|f| f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0))
        .unwrap_or(0)
}

/// PID and all descendants (by parent PID).
fn tree(pid: u32) -> Vec<u32> {
    let mut out = vec![];
    let mut todo = vec![pid];
    while let Some(p) = todo.pop() {
        if !std::path::Path::new(&format!("/proc/{p}")).exists() {
            continue;
        }
        out.push(p);
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{p}/task")) {
            for t in tasks.flatten() {
                if let Ok(c) = std::fs::read_to_string(t.path().join("children")) {
                    todo.extend(c.split_whitespace().filter_map(|x| x.parse::<u32>().ok()));
                }
            }
        }
    }
    out
}

/// utime+stime per PID of a process tree.
fn tree_ticks(pid: Option<u32>) -> BTreeMap<u32, u64> {
    pid.map(|p| tree(p).into_iter().map(|q| (q, ticks_of(q))).collect())
        .unwrap_or_default()
}

/// CPU ticks used between two snapshots (processes that appeared count fully).
fn tick_delta(a: &BTreeMap<u32, u64>, b: &BTreeMap<u32, u64>) -> u64 {
    b.iter().map(|(p, t)| t.saturating_sub(*a.get(p).unwrap_or(&0))).sum()
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// (task = user+nice+system, irq = irq+softirq, steal, total) over all CPUs.
fn machine_ticks() -> [u64; 4] {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let l = s.lines().next().unwrap_or("");
    let v: Vec<u64> = l.split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0)).collect();
    let g = |i: usize| v.get(i).copied().unwrap_or(0);
    let task = g(0) + g(1) + g(2);
    let irq = g(5) + g(6);
    let steal = g(7);
    [task, irq, steal, task + irq + steal + g(3) + g(4)]
}

/// utime+stime of kernel threads (kthreadd and its children).
fn kthread_ticks() -> u64 {
    let mut t = 0;
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(f) = stat_fields(pid)
                && (pid == 2 || f[1] == "2")
            {
                t += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
            }
        }
    }
    t
}

#[derive(Clone)]
struct Snapshot {
    at: Instant,
    server: BTreeMap<u32, u64>,
    db: BTreeMap<u32, u64>,
    me: u64,
    machine: [u64; 4],
    kthreads: u64,
}

fn snapshot(o: &Opts) -> Snapshot {
    Snapshot {
        at: Instant::now(),
        server: tree_ticks(o.server_pid),
        db: tree_ticks(o.db_pid),
        me: ticks_of(std::process::id()),
        machine: machine_ticks(),
        kthreads: kthread_ticks(),
    }
}

// ---------------------------------------------------------------------------
// set-up: CLI and the real login pages
// ---------------------------------------------------------------------------

fn cli(o: &Opts, args: &[&str], stdin: Option<&str>) -> Res<Value> {
    let mut cmd = Command::new(&o.latchkey);
    cmd.args(args).arg("--json").env("LATCHKEY_LOG_LEVEL", "warn");
    if let Some(u) = &o.database_url {
        cmd.env("LATCHKEY_DATABASE_URL", u);
    }
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| format!("cannot run {}: {e}", o.latchkey))?;
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(format!(
            "latchkey {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("latchkey {}: not JSON: {e}", args.join(" ")))
}

fn random_token(n: usize) -> String {
    let bytes: Vec<u8> = (0..n).map(|_| rand::random::<u8>()).collect();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn pkce() -> (String, String) {
    let verifier = random_token(32);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn hidden(html: &str, name: &str) -> Res<String> {
    let pat = format!("name=\"{name}\" value=\"");
    let i = html.find(&pat).ok_or_else(|| format!("no hidden field {name} in the page"))? + pat.len();
    let j = html[i..].find('"').ok_or("unterminated value")?;
    Ok(html[i..i + j].to_string())
}

#[derive(Clone)]
struct Ctx {
    o: Opts,
    http: reqwest::Client,
    client_id: String,
    client_secret: String,
    username: String,
}

impl Ctx {
    fn url(&self, p: &str) -> String {
        format!("{}{p}", self.o.base)
    }

    fn authorize_url(&self, challenge: &str, state: &str, nonce: &str) -> String {
        let mut u = Url::parse(&self.url("/authorize")).expect("base URL parses");
        u.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("scope", FLOW_SCOPE)
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        u.to_string()
    }
}

fn code_from_location(resp: &reqwest::Response, state: &str) -> Res<String> {
    let loc = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or("303 without Location")?;
    let u = Url::parse(loc).map_err(|e| format!("bad Location {loc}: {e}"))?;
    let q: BTreeMap<String, String> = u.query_pairs().into_owned().collect();
    if let Some(e) = q.get("error") {
        return Err(format!("authorization error {e}: {}", q.get("error_description").cloned().unwrap_or_default()));
    }
    if q.get("state").map(String::as_str) != Some(state) {
        return Err("state mismatch".into());
    }
    q.get("code").cloned().ok_or_else(|| format!("no code in {loc}"))
}

/// Signs in once through /authorize + /login (+ /consent the first time) with
/// a fresh cookie jar; returns the Cookie header value (session + CSRF).
async fn sign_in(ctx: &Ctx) -> Res<String> {
    let jar = Arc::new(Jar::default());
    let browser = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let (verifier, challenge) = pkce();
    let state = random_token(12);
    let r = browser
        .get(ctx.authorize_url(&challenge, &state, "n-setup"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != StatusCode::OK {
        return Err(format!("GET /authorize without a session: {} (expected the login page)", r.status()));
    }
    let page = r.text().await.map_err(|e| e.to_string())?;
    let (interaction, csrf) = (hidden(&page, "interaction")?, hidden(&page, "csrf")?);
    let r = browser
        .post(ctx.url("/login"))
        .form(&[
            ("interaction", interaction.as_str()),
            ("csrf", csrf.as_str()),
            ("username", ctx.username.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let r = match r.status() {
        StatusCode::SEE_OTHER => r,
        StatusCode::OK => {
            // the consent page, once per (user, client); it is remembered
            let page = r.text().await.map_err(|e| e.to_string())?;
            let (interaction, csrf) = (hidden(&page, "interaction")?, hidden(&page, "csrf")?);
            let r = browser
                .post(ctx.url("/consent"))
                .form(&[("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")])
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status() != StatusCode::SEE_OTHER {
                return Err(format!("POST /consent: {}", r.status()));
            }
            r
        }
        s => return Err(format!("POST /login: {s}: {}", r.text().await.unwrap_or_default())),
    };
    let code = code_from_location(&r, &state)?;
    exchange(ctx, &code, &verifier, None).await?;
    let cookie = jar
        .cookies(&Url::parse(&ctx.o.base).expect("base URL parses"))
        .ok_or("no cookies after sign-in")?;
    let cookie = cookie.to_str().map_err(|e| e.to_string())?.to_string();
    if !cookie.contains("latchkey_session=") {
        return Err(format!("no session cookie after sign-in: {cookie}"));
    }
    Ok(cookie)
}

#[derive(Debug)]
struct Failure {
    what: &'static str,
    detail: String,
}

fn fail(what: &'static str, detail: impl Into<String>) -> Failure {
    Failure {
        what,
        detail: detail.into(),
    }
}

async fn exchange(ctx: &Ctx, code: &str, verifier: &str, counter: Option<&mut u64>) -> Res<Value> {
    if let Some(c) = counter {
        *c += 1;
    }
    let r = ctx
        .http
        .post(ctx.url("/token"))
        .basic_auth(&ctx.client_id, Some(&ctx.client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .map_err(|e| format!("POST /token (code): {e}"))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| format!("POST /token (code) {status}: {e}"))?;
    if status != StatusCode::OK || body.get("id_token").and_then(Value::as_str).is_none() {
        return Err(format!("POST /token (code) {status}: {body}"));
    }
    Ok(body)
}

/// One full flow with the session cookie: authorize -> 303 -> token.
async fn code_flow(ctx: &Ctx, cookie: &str, requests: &mut u64) -> Result<Value, Failure> {
    let (verifier, challenge) = pkce();
    let state = random_token(12);
    let nonce = random_token(12);
    *requests += 1;
    let r = ctx
        .http
        .get(ctx.authorize_url(&challenge, &state, &nonce))
        .header(reqwest::header::COOKIE, cookie)
        .send()
        .await
        .map_err(|e| fail("authorize", e.to_string()))?;
    if r.status() != StatusCode::SEE_OTHER {
        let s = r.status();
        let body = r.text().await.unwrap_or_default();
        return Err(fail("authorize", format!("{s}: {}", body.chars().take(200).collect::<String>())));
    }
    let code = code_from_location(&r, &state).map_err(|e| fail("authorize", e))?;
    exchange(ctx, &code, &verifier, Some(requests))
        .await
        .map_err(|e| fail("token", e))
}

/// A password sign-in without a session (consent already remembered):
/// GET /authorize -> login page (+ CSRF cookie) -> POST /login -> 303 with a code.
async fn login_flow(ctx: &Ctx, requests: &mut u64) -> Result<(), Failure> {
    let (_verifier, challenge) = pkce();
    let state = random_token(12);
    *requests += 1;
    let r = ctx
        .http
        .get(ctx.authorize_url(&challenge, &state, "n"))
        .send()
        .await
        .map_err(|e| fail("login page", e.to_string()))?;
    if r.status() != StatusCode::OK {
        return Err(fail("login page", r.status().to_string()));
    }
    let csrf_cookie = r
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("latchkey_csrf="))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
        .ok_or_else(|| fail("login page", "no latchkey_csrf cookie"))?;
    let page = r.text().await.map_err(|e| fail("login page", e.to_string()))?;
    let interaction = hidden(&page, "interaction").map_err(|e| fail("login page", e))?;
    let csrf = hidden(&page, "csrf").map_err(|e| fail("login page", e))?;
    *requests += 1;
    let r = ctx
        .http
        .post(ctx.url("/login"))
        .header(reqwest::header::COOKIE, csrf_cookie)
        .form(&[
            ("interaction", interaction.as_str()),
            ("csrf", csrf.as_str()),
            ("username", ctx.username.as_str()),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .map_err(|e| fail("login", e.to_string()))?;
    if r.status() != StatusCode::SEE_OTHER {
        return Err(fail("login", r.status().to_string()));
    }
    code_from_location(&r, &state).map(|_| ()).map_err(|e| fail("login", e))
}

async fn refresh(ctx: &Ctx, rt: &str) -> Result<String, Failure> {
    let r = ctx
        .http
        .post(ctx.url("/token"))
        .basic_auth(&ctx.client_id, Some(&ctx.client_secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .send()
        .await
        .map_err(|e| fail("refresh", e.to_string()))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| fail("refresh", format!("{status}: {e}")))?;
    match body.get("refresh_token").and_then(Value::as_str) {
        Some(next) if status == StatusCode::OK && body.get("access_token").is_some() => Ok(next.to_string()),
        _ => Err(fail("refresh", format!("{status}: {body}"))),
    }
}

async fn userinfo(ctx: &Ctx, at: &str) -> Result<(), Failure> {
    let r = ctx
        .http
        .get(ctx.url("/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .map_err(|e| fail("userinfo", e.to_string()))?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| fail("userinfo", format!("{status}: {e}")))?;
    if status != StatusCode::OK || body.get("sub").is_none() {
        return Err(fail("userinfo", format!("{status}: {body}")));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// the load
// ---------------------------------------------------------------------------

#[derive(Default)]
struct WorkerResult {
    lat_us: Vec<u32>,
    ops: u64,
    requests: u64,
    errors: u64,
    samples: Vec<String>,
}

/// Per-worker state prepared before the clock starts.
struct Seed {
    cookie: String,
    access_token: String,
    refresh_token: String,
}

async fn worker(ctx: Arc<Ctx>, workload: String, mut seed: Seed, start: Instant, end: Instant) -> WorkerResult {
    let mut res = WorkerResult::default();
    let mut scratch = 0u64;
    while Instant::now() < end {
        let t0 = Instant::now();
        let mut reqs = 0u64;
        let outcome: Result<(), Failure> = match workload.as_str() {
            "code" => code_flow(&ctx, &seed.cookie, &mut reqs).await.map(|_| ()),
            "login" => login_flow(&ctx, &mut reqs).await,
            "refresh" => {
                reqs = 1;
                refresh(&ctx, &seed.refresh_token).await.map(|next| seed.refresh_token = next)
            }
            _ => {
                reqs = 1;
                userinfo(&ctx, &seed.access_token).await
            }
        };
        let t1 = Instant::now();
        let measured = t0 >= start && t1 <= end;
        if measured {
            res.requests += reqs;
        }
        match outcome {
            Ok(()) => {
                if measured {
                    res.ops += 1;
                    res.lat_us.push((t1 - t0).as_micros().min(u32::MAX as u128) as u32);
                }
            }
            Err(f) => {
                if measured {
                    res.errors += 1;
                }
                if res.samples.len() < 3 {
                    res.samples.push(format!("{}: {}", f.what, f.detail.chars().take(300).collect::<String>()));
                }
                if f.what == "refresh" {
                    // the chain is broken (or revoked): start a new one, off the clock
                    if let Ok(b) = code_flow(&ctx, &seed.cookie, &mut scratch).await
                        && let Some(rt) = b.get("refresh_token").and_then(Value::as_str)
                    {
                        seed.refresh_token = rt.to_string();
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    res
}

fn pct(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

fn r2(x: f64) -> Value {
    if x.is_finite() {
        json!((x * 100.0).round() / 100.0)
    } else {
        Value::Null
    }
}

async fn run_workload(ctx: Arc<Ctx>, workload: &str, seeds: Vec<Seed>, hz: f64, ncpu: f64) -> Value {
    let o = ctx.o.clone();
    let t0 = Instant::now() + Duration::from_millis(50);
    let start = t0 + Duration::from_secs(o.warmup);
    let end = start + Duration::from_secs(o.duration);
    let handles: Vec<_> = seeds
        .into_iter()
        .map(|s| tokio::spawn(worker(ctx.clone(), workload.to_string(), s, start, end)))
        .collect();

    // monitor: CPU snapshots at the window edges, VmRSS every 100 ms in between
    let mon_o = o.clone();
    let monitor = tokio::task::spawn_blocking(move || {
        std::thread::sleep(start.saturating_duration_since(Instant::now()));
        let a = snapshot(&mon_o);
        let mut rss_peak = 0u64;
        let mut db_rss_peak = 0u64;
        while Instant::now() < end {
            if let Some(p) = mon_o.server_pid {
                rss_peak = rss_peak.max(tree(p).iter().map(|q| status_kb(*q, "VmRSS")).sum());
            }
            if let Some(p) = mon_o.db_pid {
                db_rss_peak = db_rss_peak.max(tree(p).iter().map(|q| status_kb(*q, "VmRSS")).sum());
            }
            std::thread::sleep(Duration::from_millis(100).min(end.saturating_duration_since(Instant::now())));
        }
        let b = snapshot(&mon_o);
        (a, b, rss_peak, db_rss_peak)
    });

    let mut all = WorkerResult::default();
    for h in handles {
        let r = h.await.unwrap_or_default();
        all.lat_us.extend(r.lat_us);
        all.ops += r.ops;
        all.requests += r.requests;
        all.errors += r.errors;
        for s in r.samples {
            if all.samples.len() < 5 && !all.samples.contains(&s) {
                all.samples.push(s);
            }
        }
    }
    let (a, b, rss_peak, db_rss_peak) = monitor.await.expect("monitor");
    all.lat_us.sort_unstable();
    let secs = (b.at - a.at).as_secs_f64();
    let pct_core = |ticks: u64| ticks as f64 / hz / secs * 100.0;
    let server_pct = pct_core(tick_delta(&a.server, &b.server));
    let db_pct = pct_core(tick_delta(&a.db, &b.db));
    let me_pct = pct_core(b.me.saturating_sub(a.me));
    let d: Vec<u64> = (0..4).map(|i| b.machine[i].saturating_sub(a.machine[i])).collect();
    let scale = ncpu * 100.0 / (d[3].max(1) as f64);
    let busy = (d[0] + d[1]) as f64 * scale;
    let kthreads = b.kthreads.saturating_sub(a.kthreads) as f64 * scale;
    let steal = d[2] as f64 * scale;
    let foreign = busy - kthreads - server_pct - me_pct - if o.db_pid.is_some() { db_pct } else { 0.0 };
    let ops_s = all.ops as f64 / o.duration as f64;
    let per_op = |p: f64| if all.ops > 0 { p / 100.0 * secs / all.ops as f64 * 1000.0 } else { f64::NAN };
    let hwm: u64 = o.server_pid.map(|p| tree(p).iter().map(|q| status_kb(*q, "VmHWM")).sum()).unwrap_or(0);
    json!({
        "label": o.label,
        "workload": workload,
        "concurrency": o.concurrency,
        "threads": o.threads,
        "warmup_s": o.warmup,
        "duration_s": o.duration,
        "ops": all.ops,
        "ops_per_s": r2(ops_s),
        "requests": all.requests,
        "req_per_s": r2(all.requests as f64 / o.duration as f64),
        "p50_ms": r2(pct(&all.lat_us, 50.0)),
        "p90_ms": r2(pct(&all.lat_us, 90.0)),
        "p99_ms": r2(pct(&all.lat_us, 99.0)),
        "max_ms": r2(pct(&all.lat_us, 100.0)),
        "errors": all.errors,
        "error_samples": all.samples,
        "server_cpu_pct": r2(server_pct),
        "server_cpu_ms_per_op": r2(per_op(server_pct)),
        "db_cpu_pct": if o.db_pid.is_some() { r2(db_pct) } else { Value::Null },
        "db_cpu_ms_per_op": if o.db_pid.is_some() { r2(per_op(db_pct)) } else { Value::Null },
        "driver_cpu_pct": r2(me_pct),
        "kthreads_cpu_pct": r2(kthreads),
        "foreign_cpu_pct": r2(foreign),
        "steal_pct": r2(steal),
        "server_rss_peak_kb": rss_peak,
        "server_vmhwm_kb": hwm,
        "db_rss_peak_kb": if o.db_pid.is_some() { json!(db_rss_peak) } else { Value::Null },
    })
}

async fn seed_tokens(ctx: &Ctx, cookie: &str) -> Res<(String, String)> {
    let mut n = 0;
    let body = code_flow(ctx, cookie, &mut n)
        .await
        .map_err(|f| format!("{}: {}", f.what, f.detail))?;
    let at = body.get("access_token").and_then(Value::as_str).ok_or("no access_token")?;
    let rt = body
        .get("refresh_token")
        .and_then(Value::as_str)
        .ok_or("no refresh_token (offline_access / refresh_token grant?)")?;
    Ok((at.to_string(), rt.to_string()))
}

async fn real_main(o: Opts) -> Res<()> {
    let hz = clk_tck();
    let ncpu = ncpu();
    let tag = format!("{:08x}", rand::random::<u32>());
    let username = format!("bench-{tag}");
    cli(
        &o,
        &[
            "user", "create", "--username", &username, "--password-stdin", "--email", "bench@example.com",
            "--email-verified", "--name", "Bench User", "--given-name", "Bench", "--family-name", "User",
        ],
        Some(&format!("{PASSWORD}\n")),
    )?;
    let client_name = format!("bench-flow-{tag}");
    let c = cli(
        &o,
        &[
            "client", "create", "--name", &client_name, "--redirect-uri", REDIRECT_URI, "--grant-type",
            "authorization_code", "--grant-type", "refresh_token", "--scope", FLOW_SCOPE,
        ],
        None,
    )?;
    let client_id = c["client_id"].as_str().ok_or("client create: no client_id")?.to_string();
    let client_secret = c["client_secret"].as_str().ok_or("client create: no client_secret")?.to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(o.concurrency * 2)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let ctx = Arc::new(Ctx {
        o: o.clone(),
        http,
        client_id,
        client_secret,
        username,
    });
    let shared_cookie = sign_in(&ctx).await?;
    eprintln!(
        "driver: user {} and client {} set up, signed in{}",
        ctx.username,
        ctx.client_id,
        if o.session_per_worker { "; one session per worker" } else { "; one session shared by all workers" }
    );
    let mut cookies = Vec::with_capacity(o.concurrency);
    for i in 0..o.concurrency {
        cookies.push(if o.session_per_worker && i > 0 { sign_in(&ctx).await? } else { shared_cookie.clone() });
    }
    for w in &o.workloads {
        let mut seeds = Vec::with_capacity(o.concurrency);
        for cookie in &cookies {
            let (at, rt) = if w == "code" || w == "login" {
                (String::new(), String::new())
            } else {
                seed_tokens(&ctx, cookie).await?
            };
            seeds.push(Seed {
                cookie: cookie.clone(),
                access_token: at,
                refresh_token: rt,
            });
        }
        eprintln!(
            "driver: {w}: {} workers, warm-up {} s, measure {} s",
            o.concurrency, o.warmup, o.duration
        );
        let mut line = run_workload(ctx.clone(), w, seeds, hz, ncpu).await;
        line["session_per_worker"] = json!(o.session_per_worker);
        println!("{line}");
        eprintln!(
            "driver: {w}: {} ops/s, p50 {} ms, p99 {} ms, errors {}, server CPU {} ms/op",
            line["ops_per_s"], line["p50_ms"], line["p99_ms"], line["errors"], line["server_cpu_ms_per_op"]
        );
    }
    Ok(())
}

fn main() {
    let o = parse_opts();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(o.threads)
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = rt.block_on(real_main(o)) {
        eprintln!("driver: error: {e}");
        std::process::exit(1);
    }
}

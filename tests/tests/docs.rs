//! What the documentation tells people to run, run as written and read from
//! the documents themselves (so the two cannot drift):
//!
//! - the README's walkthrough: its shell blocks run by bash against a real
//!   server started the way the walkthrough starts it, in one directory, with
//!   the walkthrough's own tools (curl, jq, openssl, Python with PyJWT). The
//!   browser step is an HTTP client that signs in and allows access, as a
//!   person would; the `CODE=` line gets the code it received;
//! - docs/tls.md's nginx `server` block, with a self-signed certificate, in
//!   front of a real server.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::flow::{Browser, User, code_request, confidential, create_alice, pkce};
use latchkey_tests::*;

/// The line of terminal 1, replaced by the test's own start of the server.
const SERVE: &str = "cargo run --release -p latchkey-server -- serve";

/// The blocks fenced as ```` ```LANG ```` in the section of `file` whose
/// heading starts with `heading`, in order.
fn blocks(file: &str, heading: &str, lang: &str) -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
    let start = text.find(&format!("\n{heading}")).unwrap_or_else(|| panic!("{file} has a section {heading}"));
    let section = &text[start + 1..];
    let level = heading.split(' ').next().unwrap();
    let end = section[3..].find(&format!("\n{level} ")).map_or(section.len(), |i| i + 3);
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = &section[..end];
    while let Some(open) = rest.find(&fence) {
        let body = &rest[open + fence.len()..];
        let close = body.find("\n```").expect("closed block");
        out.push(body[..close].to_string());
        rest = &body[close + 4..];
    }
    out
}

/// The shell blocks of the README's walkthrough section, in order.
fn walkthrough_blocks() -> Vec<String> {
    blocks("README.md", "## Walkthrough", "sh")
}

/// The first of `candidates` that can run `check`.
fn tool(candidates: &[&str], check: &[&str]) -> Option<PathBuf> {
    candidates.iter().map(PathBuf::from).find(|c| {
        Command::new(c).args(check).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_walkthrough_runs_as_written() {
    let blocks = walkthrough_blocks();
    assert_eq!(blocks.first().map(String::as_str), Some(SERVE), "the walkthrough starts the server first");
    let script = blocks[1..].join("\n");
    let (username, password) = {
        let line = script.lines().find(|l| l.contains("user create --username")).expect("a user is created");
        let password = line.split('\'').nth(3).expect("printf '%s\\n' 'PASSWORD'").to_string();
        let username = line.split("--username ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
        (username, password)
    };
    assert!(script.lines().any(|l| l.starts_with("CODE=")), "a line sets CODE");

    // The walkthrough's tools. PyJWT from Debian's python3-jwt (.ci/run
    // installs it) or any python3 on the PATH that has it.
    let python = tool(&["/usr/bin/python3", "python3"], &["-c", "import jwt, cryptography"]);
    let missing: Vec<&str> = [
        ("bash", tool(&["bash"], &["-c", "true"])),
        ("curl", tool(&["curl"], &["--version"])),
        ("jq", tool(&["jq"], &["--version"])),
        ("openssl", tool(&["openssl"], &["version"])),
        ("python3 with PyJWT", python.clone()),
    ]
    .into_iter()
    .filter_map(|(name, found)| found.is_none().then_some(name))
    .collect();
    if !missing.is_empty() {
        assert!(std::env::var_os("CI").is_none(), "CI must install {missing:?} (.ci/run)");
        eprintln!("walkthrough not run: {missing:?} not installed");
        return;
    }

    // One directory, as the walkthrough has it: the server's ./data and
    // target/release/latchkey side by side.
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::create_dir_all(work.join("target/release")).unwrap();
    std::os::unix::fs::symlink(&*BIN, work.join("target/release/latchkey")).unwrap();
    std::fs::create_dir_all(work.join("bin")).unwrap();
    std::os::unix::fs::symlink(python.unwrap(), work.join("bin/python3")).unwrap();
    let port = free_port();
    let issuer = format!("http://localhost:{port}");
    let env = |cmd: &mut Command| {
        for (k, _) in std::env::vars() {
            if k.starts_with("LATCHKEY_") {
                cmd.env_remove(k);
            }
        }
        cmd.current_dir(work)
            .env("LATCHKEY_ISSUER", &issuer)
            .env("LATCHKEY_LISTEN", format!("127.0.0.1:{port}"))
            .env("NO_COLOR", "1");
    };

    // Terminal 1.
    let mut serve = Command::new(work.join("target/release/latchkey"));
    env(&mut serve);
    let server_log = work.join("serve.log");
    let server = Killed(
        serve.arg("serve").stdout(Stdio::null()).stderr(std::fs::File::create(&server_log).unwrap()).spawn().unwrap(),
    );
    let up = eventually(Duration::from_secs(30), || {
        let url = format!("http://127.0.0.1:{port}/readyz");
        async move { http().get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    assert!(up, "the server did not start: {}", std::fs::read_to_string(&server_log).unwrap_or_default());

    // Terminal 2: the blocks as written, on the test's port; the code comes
    // from the browser step below.
    let code_file = work.join("code");
    let script: String = script
        .replace("localhost:8080", &format!("localhost:{port}"))
        .replace("localhost%3A8080", &format!("localhost%3A{port}"))
        .lines()
        .map(|l| {
            if l.starts_with("CODE=") {
                format!("CODE=$(until [ -s {0} ]; do sleep 0.1; done; cat {0})", code_file.display())
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let script_file = work.join("walkthrough.sh");
    std::fs::write(&script_file, format!("set -euo pipefail\nshopt -s expand_aliases\n{script}\n")).unwrap();
    let mut bash = Command::new("bash");
    env(&mut bash);
    bash.env("PATH", format!("{}:{}", work.join("bin").display(), std::env::var("PATH").unwrap_or_default()));
    let mut child =
        bash.arg(&script_file).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (lines, output) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let mut child = Killed(child);
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let authorize = format!("{issuer}/authorize?");

    // The browser: open the printed URL, sign in, allow, read the code.
    let url = loop {
        match output.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line.starts_with(&authorize) => {
                printed.push(line.clone());
                break line;
            }
            Ok(line) => printed.push(line),
            Err(_) if Instant::now() > deadline => panic!("no authorization URL printed:\n{}", printed.join("\n")),
            Err(_) => {}
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            while let Ok(line) = output.try_recv() {
                printed.push(line);
            }
            panic!("the walkthrough stopped ({status}) before the browser step:\n{}", printed.join("\n"));
        }
    };
    let browser = Browser::new(&Server::view_of_url(&issuer));
    let page = browser.get(&url).await;
    let user = User { id: String::new(), username, password };
    let flow = browser.drive(page, Some(&user), "allow").await;
    assert!(flow.location.starts_with("http://127.0.0.1:9000/callback?"), "{}", flow.location);
    assert_eq!(flow.saw_login, 1);
    assert_eq!(flow.saw_consent, 1);
    std::fs::write(&code_file, flow.code()).unwrap();

    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the walkthrough did not finish in 120 s:\n{}", printed.join("\n"));
        std::thread::sleep(Duration::from_millis(50));
    };
    std::thread::sleep(Duration::from_millis(100));
    printed.extend(output.try_iter());
    let out = printed.join("\n");
    let errors = err_reader.join().unwrap();
    assert!(status.success(), "the walkthrough failed ({status}):\n{out}\nstderr:\n{errors}");

    // What each step shows.
    for needle in [
        "\"client_id\"",
        "\"token_type\": \"Bearer\"",
        "\"email\": \"alice@example.com\"",
        "\"active\": true",
        "Kind:    access token (RFC 9068 JWT)",
        "Verdict: valid: every check passed",
        "Kind:    refresh token",
        "Verdict: active",
        &format!("'iss': '{issuer}'"),
        "ended 1 session(s) of alice",
    ] {
        assert!(out.contains(needle), "{needle:?} missing from the walkthrough's output:\n{out}\nstderr:\n{errors}");
    }
    drop(server);
    assert!(Path::new(&work.join("data/latchkey.db")).exists(), "one database, the server's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tls_guide_puts_nginx_with_https_in_front() {
    let (Some(nginx), Some(openssl)) = (nginx(), tool(&["openssl"], &["version"])) else {
        assert!(std::env::var_os("CI").is_none(), "CI must install nginx and openssl");
        eprintln!("nginx or openssl not installed: not run");
        return;
    };
    let server_block = blocks("docs/tls.md", "## nginx", "nginx").into_iter().next().expect("an nginx block");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = Command::new(openssl)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost", "-keyout"])
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));

    // Latchkey as the guide configures it, with the proxy's public URL.
    let (https_port, http_port) = (free_port(), free_port());
    let issuer = format!("https://localhost:{https_port}");
    let db = TestDb::new(Backend::Sqlite).await;
    let server =
        Server::start(&db, &[("LATCHKEY_ISSUER", issuer.as_str()), ("LATCHKEY_HTTP_TRUSTED_PROXIES", "127.0.0.1")])
            .await;

    // The guide's block on loopback and free ports, with the test's certificate.
    let mut block = String::new();
    for line in server_block.lines() {
        let t = line.trim_start();
        let line = if t.starts_with("listen 443") {
            format!("listen 127.0.0.1:{https_port} ssl http2;")
        } else if t.starts_with("listen 80") {
            format!("listen 127.0.0.1:{http_port};")
        } else if t.starts_with("ssl_certificate ") {
            format!("ssl_certificate {};", d.join("cert.pem").display())
        } else if t.starts_with("ssl_certificate_key") {
            format!("ssl_certificate_key {};", d.join("key.pem").display())
        } else if t.starts_with("server_name") {
            "server_name localhost;".to_string()
        } else {
            line.replace("http://127.0.0.1:8080", &format!("http://127.0.0.1:{}", server.port))
        };
        block.push_str(&line);
        block.push('\n');
    }
    assert!(block.contains(&format!("proxy_pass http://127.0.0.1:{};", server.port)), "{block}");
    let temp: String = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]
        .iter()
        .map(|t| format!("{t}_temp_path {}/tmp-{t};\n", d.display()))
        .collect();
    let conf = format!(
        "worker_processes 1;\npid {0}/nginx.pid;\nerror_log {0}/error.log notice;\nevents {{}}\n\
         http {{\naccess_log off;\n{temp}{block}}}\n",
        d.display()
    );
    std::fs::write(d.join("nginx.conf"), conf).unwrap();
    let mut proxy = Command::new(nginx);
    proxy.arg("-p").arg(d).arg("-e").arg(d.join("error.log")).arg("-c").arg(d.join("nginx.conf"));
    let _proxy = Killed(proxy.args(["-g", "daemon off;"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap());

    let cert = latchkey_tests::reqwest::Certificate::from_pem(&std::fs::read(d.join("cert.pem")).unwrap()).unwrap();
    let jar = std::sync::Arc::new(latchkey_tests::reqwest::cookie::Jar::default());
    let https = latchkey_tests::reqwest::Client::builder()
        .add_root_certificate(cert)
        .cookie_provider(jar.clone())
        .redirect(latchkey_tests::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let up = eventually(Duration::from_secs(10), || {
        let (https, url) = (https.clone(), discovery.clone());
        async move { https.get(url).send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;
    let errors = std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
    assert!(up, "nginx did not serve the guide's block over TLS: {errors}");
    let res = https.get(&discovery).send().await.unwrap();
    assert!(
        res.headers()["strict-transport-security"].to_str().unwrap().starts_with("max-age="),
        "HSTS from the proxy"
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], issuer.as_str());
    assert_eq!(doc["token_endpoint"], format!("{issuer}/token"));
    // Plain HTTP is sent to HTTPS.
    let res = http().get(format!("http://localhost:{http_port}/account")).send().await.unwrap();
    assert_eq!(res.status(), 301);
    assert_eq!(res.headers()["location"], "https://localhost/account");

    // A sign-in through the proxy: cookies only for HTTPS, the session one `__Host-`.
    let alice = create_alice(&db);
    let client = confidential(&db);
    let browser = Browser { http: https, jar, issuer: issuer.clone() };
    let flow = browser.follow_to_code(&code_request(&client.id, &pkce()), &alice).await;
    assert!(!flow.code().is_empty());
    assert!(browser.cookie("__Host-latchkey_session").is_some(), "a Secure, __Host- session cookie");
}

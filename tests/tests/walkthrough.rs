//! The README's walkthrough, run as written: its shell blocks are read from
//! README.md (so the two cannot drift), run by bash against a real server
//! started the way the walkthrough starts it, in one directory, with the
//! walkthrough's own tools (curl, jq, openssl, Python with PyJWT). The
//! browser step is an HTTP client that signs in and allows access, as a
//! person would; the `CODE=` line gets the code it received.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::flow::{Browser, User};
use latchkey_tests::*;

/// The line of terminal 1, replaced by the test's own start of the server.
const SERVE: &str = "cargo run --release -p latchkey-server -- serve";

/// The shell blocks of the README's walkthrough section, in order.
fn walkthrough_blocks() -> Vec<String> {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    let start = readme.find("\n## Walkthrough").expect("README has a walkthrough section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("\n```").expect("closed block");
        blocks.push(body[..close].to_string());
        rest = &body[close + 4..];
    }
    blocks
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

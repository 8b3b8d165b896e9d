//! Self-service email end to end (docs/self-service.md), with a real SMTP
//! server on loopback (Python's aiosmtpd, `tests/smtp/catcher.py`): the
//! outbox retries while the SMTP server is down and delivers once it is up,
//! every email exactly once even with two replicas sending (cluster
//! variant), and a password reset from the email's link to the new
//! password, with the notification, and an account's email in its own
//! language (German). On every backend. The pages' rules in
//! detail (expired and reused links, the limits, verification, features
//! off) are tested in-process (`latchkey-server/tests/in_process/self_service.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;

on_both_backends!(email_is_retried_until_delivered_once_and_resets_a_password);

/// The SMTP catcher: aiosmtpd writing each message to a folder.
struct Smtp {
    child: Child,
    dir: tempfile::TempDir,
}

impl Smtp {
    /// A python3 that has aiosmtpd (Debian's python3-aiosmtpd, which
    /// `.ci/run` installs, or any python3 on the PATH with it).
    fn python() -> Option<&'static str> {
        let found = ["/usr/bin/python3", "python3"].into_iter().find(|python| {
            Command::new(python)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        });
        if found.is_none() {
            assert!(std::env::var_os("CI").is_none(), "CI must install python3-aiosmtpd (.ci/run)");
            eprintln!("python3-aiosmtpd not installed: email test not run");
        }
        found
    }

    fn start(python: &str, port: u16) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("smtp/catcher.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(dir.path())
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP catcher");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line.trim(), "ready", "the SMTP catcher did not start");
        Smtp { child, dir }
    }

    fn messages(&self) -> Vec<Value> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()).collect()
    }

    /// Waits until at least `n` messages arrived; returns them all.
    async fn wait_for(&self, n: usize, server: &Server) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(45);
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < deadline, "{} of {n} emails after 45 s:\n{}", got.len(), server.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn str_at<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// The token of the link to `issuer + path` in an email's text.
fn token_in(message: &Value, issuer: &str, path: &str) -> String {
    let text = str_at(message, "text");
    let prefix = format!("{issuer}{path}?token=");
    let start = text.find(&prefix).unwrap_or_else(|| panic!("no {prefix} in {text}")) + prefix.len();
    text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

/// Asks for a reset link for `identifier` the way a browser does.
async fn ask_reset(b: &Browser, identifier: &str) {
    let form = b.get(&format!("{}/forgot-password", b.issuer)).await;
    assert_eq!(form.status, 200, "{}", form.describe());
    let csrf = form.input("csrf").expect("a CSRF field");
    let res = b.post_form("/forgot-password", &Params::new().set("csrf", &csrf).set("identifier", identifier)).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.body.contains("Check your email"), "{}", res.describe());
}

async fn email_is_retried_until_delivered_once_and_resets_a_password(backend: Backend) {
    let Some(python) = Smtp::python() else { return };
    // The SMTP server's port, with nothing listening on it yet.
    let port = free_port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let email_env = [
        ("LATCHKEY_EMAIL_SMTP_URL", smtp_url.as_str()),
        ("LATCHKEY_EMAIL_FROM", "Example ID <id@example.com>"),
        ("LATCHKEY_EMAIL_TIMEOUT_SECONDS", "2"),
    ];
    let Env { db, server, alice } = env(backend, &email_env).await;
    let people = ["bea", "carl", "dora", "emil", "fay"];
    for name in people {
        create_user(&db, name, PASSWORD, &["--email", &format!("{name}@example.com")]);
    }
    // Emil reads German (docs/languages.md): his email is in German, from an English browser.
    cli(&db, &["user", "update", "emil", "--claim", "locale=de-DE"], &[], None).ok();
    let b = Browser::new(&server);
    let signed_in = Browser::new(&server);
    let page = signed_in.get(&format!("{}/account", server.issuer)).await;
    let csrf = page.input("csrf").unwrap();
    let login = Params::new().set("csrf", &csrf).set("username", "alice").set("password", PASSWORD);
    assert_eq!(signed_in.post_form("/account/login", &login).await.status, 303);

    // Six emails queued while the SMTP server is down: the answers do not
    // wait for it, and each sender logs its failed attempt.
    for name in people {
        ask_reset(&b, name).await;
    }
    ask_reset(&b, "alice").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server.log().contains("will retry") {
        assert!(Instant::now() < deadline, "no failed attempt logged:\n{}", server.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every replica runs a sender.
    assert_eq!(server.log().matches("email sender started").count(), server.replicas.len(), "{}", server.log());

    // The SMTP server comes up: every email arrives, once, however many
    // replicas send.
    let smtp = Smtp::start(python, port);
    let messages = smtp.wait_for(6, &server).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let messages = {
        let again = smtp.messages();
        assert_eq!(again.len(), messages.len().max(6), "no email sent twice: {again:#?}");
        again
    };
    let mut recipients: Vec<String> = messages.iter().map(|m| m["rcpt_tos"][0].as_str().unwrap().to_string()).collect();
    recipients.sort();
    let mut expected: Vec<String> = people.iter().chain(["alice"].iter()).map(|n| format!("{n}@example.com")).collect();
    expected.sort();
    assert_eq!(recipients, expected, "one email per person");

    // The email as sent: from the configured sender, text and HTML, a link
    // on the issuer.
    let mail = messages.iter().find(|m| m["rcpt_tos"][0] == "alice@example.com").unwrap();
    assert_eq!(str_at(mail, "mail_from"), "id@example.com");
    assert!(str_at(mail, "from").contains("Example ID"), "{mail}");
    assert_eq!(str_at(mail, "content_type"), "multipart/alternative");
    assert!(str_at(mail, "subject").starts_with("Reset your"), "{mail}");
    assert!(str_at(mail, "html").contains("Choose a new password"), "{mail}");
    let token = token_in(mail, &server.issuer, "/reset-password");
    let emil = messages.iter().find(|m| m["rcpt_tos"][0] == "emil@example.com").unwrap();
    let subject = str_at(emil, "subject");
    assert!(subject.starts_with("Setzen Sie Ihr ") && subject.ends_with("-Passwort zurück"), "{emil}");
    assert!(str_at(emil, "text").starts_with("Hallo emil,"), "{emil}");
    assert!(str_at(emil, "html").contains(r#"<html lang="de">"#), "{emil}");
    assert!(str_at(emil, "html").contains("Neues Passwort wählen"), "{emil}");

    // The link leads to a new password; every session ends; she is told.
    let form = b.get(&format!("{}/reset-password?token={token}", server.issuer)).await;
    assert_eq!(form.status, 200, "{}", form.describe());
    let csrf = form.input("csrf").unwrap();
    let new = "correct horse battery staple";
    let params =
        Params::new().set("csrf", &csrf).set("token", &token).set("new_password", new).set("confirm_password", new);
    let res = b.post_form("/reset-password", &params).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.body.contains("Your password has been changed"), "{}", res.describe());
    let again = b.post_form("/reset-password", &params).await;
    assert_eq!(again.status, 400, "the link works once: {}", again.describe());
    let page = signed_in.get(&format!("{}/account", server.issuer)).await;
    assert!(page.input("current_password").is_none(), "the session ended: {}", page.describe());
    let messages = smtp.wait_for(7, &server).await;
    let told = messages.iter().filter(|m| str_at(m, "subject").contains("password was changed")).collect::<Vec<_>>();
    assert_eq!(told.len(), 1, "{messages:#?}");
    assert_eq!(told[0]["rcpt_tos"][0], "alice@example.com");
    let events = cli_json(&db, &["audit", "list", "--kind", "password.reset"]);
    assert_eq!(events.as_array().unwrap().len(), 1, "{events}");
    assert_eq!(events[0]["subject"], alice.id.as_str());
}

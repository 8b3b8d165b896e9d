//! Self-service email end to end (docs/self-service.md), with a real SMTP
//! server on loopback (Python's aiosmtpd, `tests/smtp/catcher.py`): the
//! outbox retries while the SMTP server is down and delivers once it is up,
//! every email exactly once even with two replicas sending (cluster
//! variant), and a password reset from the email's link to the new
//! password, with the notification, and an account's email in its own
//! language (German). On every backend. The pages' rules in
//! detail (expired and reused links, the limits, verification, features
//! off) are tested in-process (`latchkey-server/tests/in_process/self_service.rs`).
//! Sign-up: open sign-up holding the first token until the emailed link is
//! used, and an invitation made by the CLI, emailed, accepted once with its
//! groups (the modes, limits and admin API in detail:
//! `latchkey-server/tests/in_process/signup.rs`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;

on_both_backends!(
    email_is_retried_until_delivered_once_and_resets_a_password,
    sign_up_confirms_the_address_before_the_first_token_and_invitations_work_once
);

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

/// Posts a form whose fields are `page`'s hidden ones plus `fields`.
async fn submit(b: &Browser, page: &Page, path: &str, fields: &[(&str, &str)]) -> Page {
    let mut form = Params::new();
    for (name, value) in hidden_fields(&page.body) {
        form = form.set(&name, &value);
    }
    for (name, value) in fields {
        form = form.set(name, value);
    }
    b.post_form(path, &form).await
}

async fn sign_up_confirms_the_address_before_the_first_token_and_invitations_work_once(backend: Backend) {
    let Some(python) = Smtp::python() else { return };
    let port = free_port();
    let smtp = Smtp::start(python, port);
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let email_env = [("LATCHKEY_EMAIL_SMTP_URL", smtp_url.as_str()), ("LATCHKEY_EMAIL_FROM", "id@example.com")];
    let mut server_env = email_env.to_vec();
    server_env.extend([("LATCHKEY_SIGNUP_MODE", "open"), ("LATCHKEY_SIGNUP_ALLOWED_EMAIL_DOMAINS", "example.com")]);
    let Env { db, server, .. } = env(backend, &server_env).await;
    let client = confidential(&db);
    let passphrase = "a long passphrase nobody guesses";

    // From the app's sign-in page to "Create an account".
    let b = Browser::new(&server);
    let pkce = pkce();
    let login = b.authorize(&code_request(&client.id, &pkce)).await;
    let end =
        login.body.find("\" id=\"signup-link\"").unwrap_or_else(|| panic!("no sign-up link: {}", login.describe()));
    let link = unescape(&login.body[login.body[..end].rfind("href=\"").unwrap() + 6..end]);
    let form = b.get(url::Url::parse(&server.issuer).unwrap().join(&link).unwrap().as_str()).await;
    assert_eq!(form.status, 200, "{}", form.describe());
    assert_page_headers_with_form_action(&form, "the sign-up page", Some("https://app.example"));
    let fields =
        [("username", "dan"), ("email", "dan@example.com"), ("password", passphrase), ("confirm_password", passphrase)];
    let weak = submit(
        &b,
        &form,
        "/signup",
        &[fields[0], fields[1], ("password", "123456789"), ("confirm_password", "123456789")],
    )
    .await;
    assert_eq!(weak.status, 400, "{}", weak.describe());
    assert!(weak.body.contains("commonly used"), "{}", weak.describe());
    let held = submit(&b, &form, "/signup", &fields).await;
    assert_eq!(held.status, 200, "{}", held.describe());
    assert!(held.body.contains("Confirm your email address"), "{}", held.describe());
    let again = submit(&b, &held, "/login/continue", &[]).await;
    assert!(
        again.body.contains("Confirm your email address"),
        "no code before the address is confirmed: {}",
        again.describe()
    );

    // The link arrives over SMTP; once used, the sign-in goes on.
    let messages = smtp.wait_for(1, &server).await;
    assert_eq!(messages[0]["rcpt_tos"][0], "dan@example.com");
    let link = token_in(&messages[0], &server.issuer, "/verify-email");
    let verify = b.get(&format!("{}/verify-email?token={link}", server.issuer)).await;
    assert_eq!(submit(&b, &verify, "/verify-email", &[]).await.status, 200);
    let consent = submit(&b, &held, "/login/continue", &[]).await;
    let flow = b.drive(consent, None, "allow").await;
    let code = one(&flow.params, "code");
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&pkce.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let (_, claims) = jwt_parts(res.json()["id_token"].as_str().unwrap());
    let dan = cli_json(&db, &["user", "show", "dan"]);
    assert_eq!(claims["sub"], dan["id"]);

    // An invitation from the CLI, emailed through the outbox the server sends.
    let mut cli_env = email_env.to_vec();
    cli_env.push(("LATCHKEY_ISSUER", server.issuer.as_str()));
    let out =
        cli(&db, &["invite", "create", "--email", "ann@example.com", "--group", "staff", "--json"], &cli_env, None)
            .ok()
            .json();
    assert_eq!(out["emailed"], true, "{out}");
    let messages = smtp.wait_for(2, &server).await;
    let invitation = messages.iter().find(|m| m["rcpt_tos"][0] == "ann@example.com").expect("the invitation email");
    let link = token_in(invitation, &server.issuer, "/invitation");
    assert_eq!(out["link"].as_str().unwrap(), format!("{}/invitation?token={link}", server.issuer));
    let a = Browser::new(&server);
    let page = a.get(&format!("{}/invitation?token={link}", server.issuer)).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let account = [("username", "ann"), ("password", passphrase), ("confirm_password", passphrase)];
    let res = submit(&a, &page, "/invitation", &account).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let reused = a.get(&format!("{}/invitation?token={link}", server.issuer)).await;
    assert_eq!(reused.status, 400, "single use: {}", reused.describe());
    assert!(reused.body.contains("no longer works"), "{}", reused.describe());
    let ann = cli_json(&db, &["user", "show", "ann"]);
    assert_eq!(ann["claims"]["email_verified"], true, "{ann}");
    assert_eq!(ann["groups"], serde_json::json!(["staff"]), "{ann}");
}

//! Sign-in limits through the login page, with the clock moved rather than
//! waited for: the rightful user who mistypes passes, a guesser is locked
//! out for longer with each further guess, and an unknown name looks
//! exactly like a real one. (The end-to-end `sign_in_limits` tests cover
//! the address limit, the audit log and the other backends.)

use latchkey_server::testing::{TestApp, TestResponse};

use crate::common::*;

const ACCOUNT_LOCKED: &str = "Too many sign-in attempts for this account";

/// Opens a fresh sign-in form and submits `username` / `password` from a new browser.
async fn sign_in(app: &TestApp, client_id: &str, username: &str, password: &str) -> TestResponse {
    let browser = app.browser();
    let page = authorize(&browser, &code_request(client_id, &pkce())).await;
    assert!(page.status == 200 && page.input("password").is_some(), "{}", page.describe());
    let interaction = page.input("interaction").unwrap();
    let csrf = page.input("csrf").unwrap();
    let form = [
        ("interaction", interaction.as_str()),
        ("csrf", csrf.as_str()),
        ("username", username),
        ("password", password),
    ];
    browser.post_form("/login", &form).await
}

fn assert_signed_in(res: &TestResponse, what: &str) {
    assert!(res.status.is_redirection() || res.input("decision").is_some(), "{what}: {}", res.describe());
}

/// The form again, with a 401 and no hint of whether the name exists.
fn assert_wrong(res: &TestResponse, what: &str) {
    assert_eq!(res.status, 401, "{what}: {}", res.describe());
    assert!(res.input("password").is_some(), "{what}: the form again");
    assert!(res.text().contains("Incorrect username or password."), "{what}: {}", res.describe());
}

/// A refusal before any password check; returns its `Retry-After`.
fn assert_locked(res: &TestResponse, what: &str) -> i64 {
    assert_eq!(res.status, 429, "{what}: {}", res.describe());
    assert!(res.text().contains(ACCOUNT_LOCKED), "{what}: {}", res.describe());
    assert!(res.location().is_none(), "{what}: a refusal redirects nowhere");
    res.header("retry-after").and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{what}: no Retry-After"))
}

fn limits() -> [(&'static str, &'static str); 4] {
    [
        ("LATCHKEY_LOGIN_MAX_FAILURES", "3"),
        ("LATCHKEY_LOGIN_LOCK_SECONDS", "60"),
        ("LATCHKEY_LOGIN_MAX_LOCK_SECONDS", "200"),
        ("LATCHKEY_LOGIN_WINDOW_SECONDS", "900"),
    ]
}

#[tokio::test]
async fn a_person_who_mistypes_below_the_limit_signs_in_and_starts_over() {
    let app = TestApp::with_env(&limits()).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    for round in 0..3 {
        for _ in 0..2 {
            assert_wrong(&sign_in(&app, &client.id, "alice", "wrong").await, "a typo");
        }
        // The correct password clears the count, so the next two typos do not lock.
        assert_signed_in(&sign_in(&app, &client.id, "alice", &alice.password).await, &format!("round {round}"));
    }
}

#[tokio::test]
async fn a_guesser_is_locked_out_longer_with_each_guess_until_the_lock_ends() {
    let app = TestApp::with_env(&limits()).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let bob = app.create_user("bob", "bob's own password", &[]).await;
    for _ in 0..3 {
        assert_wrong(&sign_in(&app, &client.id, "alice", "guess").await, "a guess");
    }
    // Locked at the third failure: even the right password is not checked,
    // and trying counts as one more failure (60 s doubled to 120 s).
    let wait = assert_locked(&sign_in(&app, &client.id, "alice", &alice.password).await, "the owner during the lock");
    assert_eq!(wait, 120);
    let wait = assert_locked(&sign_in(&app, &client.id, "ALICE", "guess").await, "another case of the name");
    assert_eq!(wait, 200, "doubled again, up to the cap");
    let wait = assert_locked(&sign_in(&app, &client.id, "alice", "guess").await, "at the cap");
    assert_eq!(wait, 200);
    // Someone else on the same network is not affected.
    assert_signed_in(&sign_in(&app, &client.id, "bob", &bob.password).await, "another account");

    app.clock.advance(199);
    assert_locked(&sign_in(&app, &client.id, "alice", &alice.password).await, "a second before the end");
    // That attempt locked the account again for the cap from now.
    app.clock.advance(201);
    assert_signed_in(&sign_in(&app, &client.id, "alice", &alice.password).await, "after the lock");
    // And the count starts over: two typos do not lock.
    for _ in 0..2 {
        assert_wrong(&sign_in(&app, &client.id, "alice", "typo").await, "a typo after the lock");
    }
    assert_signed_in(&sign_in(&app, &client.id, "alice", &alice.password).await, "the owner again");
}

#[tokio::test]
async fn an_unknown_name_is_counted_and_locked_like_a_real_one() {
    let app = TestApp::with_env(&limits()).await;
    let client = confidential(&app).await;
    for _ in 0..3 {
        assert_wrong(&sign_in(&app, &client.id, "nobody", "guess").await, "an unknown name");
    }
    assert_eq!(assert_locked(&sign_in(&app, &client.id, "nobody", "guess").await, "an unknown name"), 120);
}

#[tokio::test]
async fn without_an_account_limit_nothing_is_locked() {
    let mut env = limits().to_vec();
    env[0].1 = "0";
    let app = TestApp::with_env(&env).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    for _ in 0..6 {
        assert_wrong(&sign_in(&app, &client.id, "alice", "guess").await, "a guess with no limit");
    }
    assert_signed_in(&sign_in(&app, &client.id, "alice", &alice.password).await, "no limit");
}

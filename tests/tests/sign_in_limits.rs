//! Sign-in limits (docs/operations.md, "Sign-in limits") over real HTTP, on
//! every backend: only failed password checks count, so the rightful user
//! (an app's test suite signing in its test account hundreds of times) is
//! never stopped; a guessed-at account is locked, refused before any
//! password check with the same page whether or not it exists, longer with
//! each further failure, until the lock ends or an operator unlocks it (CLI,
//! admin API); failures from one address across accounts trip the address
//! limit when it is set so low, behind trusted proxies per forwarded address.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    correct_sign_ins_are_never_limited,
    failures_lock_the_account_before_any_password_check,
    failures_across_accounts_trip_the_address_limit,
);

/// The account-lock message (the same for real and unknown accounts).
const LOCKED: &str = "Too many sign-in attempts for this account";
/// The address-limit message.
const FROM_NETWORK: &str = "Too many failed sign-ins from your network";

/// One attempt at `/account/login` through `b`, with `X-Forwarded-For: xff`
/// if given: a 303 on success, else the sign-in form again.
async fn sign_in(b: &Browser, username: &str, password: &str, xff: Option<&str>) -> Page {
    let form = b.get(&format!("{}/account", b.issuer)).await;
    let csrf = form.input("csrf").unwrap_or_else(|| panic!("the sign-in form: {}", form.describe()));
    let body = Params::new().set("csrf", &csrf).set("username", username).set("password", password);
    let mut req = b
        .http
        .post(format!("{}/account/login", b.issuer))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.encode());
    if let Some(xff) = xff {
        req = req.header("x-forwarded-for", xff);
    }
    Page::of(req.send().await.unwrap()).await
}

fn assert_signed_in(page: &Page, what: &str) {
    assert_eq!(page.status, 303, "{what}: {}", page.describe());
}

fn assert_wrong(page: &Page, what: &str) {
    assert_eq!(page.status, 401, "{what}: {}", page.describe());
    assert!(page.body.contains(BAD_LOGIN), "{what}: {}", page.describe());
}

/// A refusal by the limits: 429, the message, and a `Retry-After` in seconds.
fn assert_refused(page: &Page, message: &str, what: &str) -> u64 {
    assert_eq!(page.status, 429, "{what}: {}", page.describe());
    assert!(page.body.contains(message), "{what}: {}", page.describe());
    assert!(!page.body.contains(BAD_LOGIN), "{what}: refused, not checked: {}", page.describe());
    page.header("retry-after").and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{what}: Retry-After"))
}

/// A browser on replica `i` itself (round robin), bypassing the load
/// balancer: the cluster's nginx replaces `X-Forwarded-For` with its own
/// peer's address, and cookies are per host, so it shares nothing else.
fn browser_at(server: &Server, i: usize) -> Browser {
    let mut b = Browser::new(server);
    b.issuer = server.replicas[i % server.replicas.len()].clone();
    b
}

/// A metric summed over every replica (0 when absent).
async fn metric(server: &Server, series: &str) -> f64 {
    let mut sum = 0.0;
    for i in 0..server.replicas.len() {
        let text = http().get(server.replica_url(i, "/metrics")).send().await.unwrap().text().await.unwrap();
        sum += text
            .lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0);
    }
    sum
}

fn audit_of(db: &TestDb, kind: &str) -> Vec<Value> {
    cli_json(db, &["audit", "list", "--kind", kind, "--limit", "10000"]).as_array().expect("a JSON array").clone()
}

/// 300 sign-ins of one account within a minute, as an app's end-to-end
/// suite does through the login page, with typos now and then (a correct
/// password clears them): all succeed. Then 11 wrong passwords over 11
/// accounts from one address do not trip the default address limit.
async fn correct_sign_ins_are_never_limited(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let app = create_client(&db, "E2E suite", &["--redirect-uri", CB, "--skip-consent"]);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..4 {
        let (b, app, alice) = (Browser::new(&server), app.clone(), alice.clone());
        workers.push(tokio::spawn(async move {
            for i in 0..75 {
                // One worker makes three typos before every 25th sign-in.
                let typos = if w == 0 && i % 25 == 0 { 3 } else { 0 };
                for t in 0..=typos {
                    let params = code_request(&app.id, &pkce()).set("prompt", "login");
                    let page = b.authorize(&params).await;
                    let password = if t < typos { "a typo" } else { alice.password.as_str() };
                    let res = b.login(&page, &alice.username, password).await;
                    let what = format!("worker {w}, sign-in {i}, try {t}");
                    if t < typos {
                        assert_wrong(&res, &what);
                    } else {
                        assert!(res.is_redirect(), "{what}: {}", res.describe());
                        assert!(res.location().unwrap().starts_with(CB), "{what}: {}", res.describe());
                    }
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    eprintln!("300 sign-ins (and 9 typos) in {:?}", started.elapsed());
    assert_eq!(metric(&server, "latchkey_logins_total{outcome=\"success\"}").await, 300.0);
    assert_eq!(metric(&server, "latchkey_logins_total{outcome=\"throttled\"}").await, 0.0);
    assert!(audit_of(&db, "login.locked").is_empty());

    // Password spraying below the default address limit is only counted.
    let b = Browser::new(&server);
    for i in 0..11 {
        assert_wrong(&sign_in(&b, &format!("user{i}"), "Winter2024!", None).await, &format!("account {i}"));
    }
    assert_signed_in(&sign_in(&b, "alice", &alice.password, None).await, "alice from the same address");
    assert_eq!(audit_of(&db, "login.failure").len(), 9 + 11);
}

/// Ten wrong passwords lock the account: the right one is then refused
/// without a password check (no `login.failure`, no `login.success`), with
/// the page an unknown account gets; each further attempt doubles the lock;
/// the lock ends by itself, or at once by `latchkey user unlock` or the
/// admin API; the password change at `/account` counts the same way.
async fn failures_lock_the_account_before_any_password_check(backend: Backend) {
    let env_vars = [
        // Short locks (the clock counts whole seconds: a 2 s lock lasts 1 to 2 s).
        ("LATCHKEY_LOGIN_LOCK_SECONDS", "2"),
        ("LATCHKEY_LOGIN_MAX_LOCK_SECONDS", "16"),
        ("LATCHKEY_ADMIN_ENABLED", "true"),
    ];
    let Env { db, server, alice } = env(backend, &env_vars).await;
    // Browsers on either replica that never sign in; a successful sign-in
    // takes a fresh one (a signed-in browser gets the account page, not the
    // sign-in form).
    let guessers = [browser_at(&server, 0), browser_at(&server, 1)];
    let [g0, g1] = &guessers;
    // A signed-in session, for the password change later.
    let own = Browser::new(&server);
    assert_signed_in(&sign_in(&own, "alice", &alice.password, None).await, "alice's own session");

    for i in 0..10 {
        let b = if i % 2 == 0 { g0 } else { g1 };
        assert_wrong(&sign_in(b, "Alice", "guess", None).await, &format!("guess {i}"));
    }
    let refused = sign_in(g1, "alice", &alice.password, None).await;
    let retry = assert_refused(&refused, LOCKED, "the right password while locked");
    assert!((3..=4).contains(&retry), "the 11th failure locks for 4 s: {retry}");

    // Each further attempt doubles the lock, up to max_lock_seconds.
    let mut retries = Vec::new();
    for _ in 0..3 {
        retries.push(assert_refused(&sign_in(g0, "alice", "guess", None).await, LOCKED, "while locked"));
    }
    let expected = [7..=8, 15..=16, 15..=16];
    assert!(retries.iter().zip(expected).all(|(r, e)| e.contains(r)), "8, 16, 16 s: {retries:?}");
    assert_eq!(audit_of(&db, "login.failure").len(), 10, "the refused attempts were not checked");
    assert_eq!(audit_of(&db, "login.success").len(), 1, "only the session above");
    let locked = audit_of(&db, "login.locked");
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!(locked[0]["details"]["limit"], "account");
    assert_eq!(locked[0]["subject"], "Alice", "the username as typed");
    let throttled = audit_of(&db, "login.throttled");
    assert_eq!(throttled.len(), 4);
    assert_eq!(throttled[0]["subject"], "alice");

    // An account that does not exist gets the same answer.
    for _ in 0..10 {
        assert_wrong(&sign_in(g0, "nobody", "guess", None).await, "nobody");
    }
    let unknown = sign_in(g0, "nobody", "guess", None).await;
    assert!((3..=4).contains(&assert_refused(&unknown, LOCKED, "an unknown account")), "as long");
    let normalize = |p: &Page, name: &str| {
        let csrf = p.input("csrf").unwrap();
        p.body.replace(name, "USERNAME").replace(&csrf, "CSRF")
    };
    assert_eq!(normalize(&refused, "alice"), normalize(&unknown, "nobody"), "the same page");
    assert_eq!(audit_of(&db, "login.failure").len(), 20);

    // The operator unlocks at once.
    let out = cli_json(&db, &["user", "unlock", "alice"]);
    assert_eq!((out["was_locked"].clone(), out["failures_cleared"].clone()), (json!(true), json!(14)));
    assert_signed_in(&sign_in(&browser_at(&server, 1), "alice", &alice.password, None).await, "after user unlock");
    assert_eq!(cli_json(&db, &["user", "unlock", "alice"])["was_locked"], false);
    let unlocked = audit_of(&db, "user.unlocked");
    assert_eq!((unlocked.len(), unlocked[0]["actor"].clone()), (2, json!("cli")), "both commands are recorded");

    // A lock ends by itself; then the right password works (and clears the
    // count). The admin API shows the lock without lengthening it.
    let (_, token) = admin_token(&db);
    let admin = |method: reqwest::Method| {
        http().request(method, server.url(&format!("/admin/api/v1/users/{}/lock", alice.id))).bearer_auth(&token)
    };
    for _ in 0..10 {
        assert_wrong(&sign_in(g0, "alice", "guess", None).await, "guess");
    }
    let status: Value = admin(reqwest::Method::GET).send().await.unwrap().json().await.unwrap();
    assert_eq!((status["locked"].clone(), status["failures"].clone()), (json!(true), json!(10)), "{status}");
    let until = status["locked_until"].as_i64().unwrap();
    while now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_signed_in(&sign_in(&browser_at(&server, 1), "alice", &alice.password, None).await, "after the lock expired");
    assert_wrong(&sign_in(g0, "alice", "guess", None).await, "a typo after a success is one failure");
    assert_signed_in(&sign_in(&browser_at(&server, 0), "alice", &alice.password, None).await, "and the next success");

    // The password change counts failures against the same account, and the
    // sign-in form then refuses; the admin API shows and clears the lock.
    let page = own.get(&format!("{}/account", own.issuer)).await;
    let csrf = page.input("csrf").expect("alice's account page");
    let change = |current: &str| {
        Params::new()
            .set("csrf", &csrf)
            .set("current_password", current)
            .set("new_password", "a new passphrase")
            .set("confirm_password", "a new passphrase")
    };
    for _ in 0..5 {
        assert_wrong(&sign_in(g0, "alice", "guess", None).await, "guess");
    }
    for _ in 0..5 {
        let res = own.post_form("/account/password", &change("guess")).await;
        assert_eq!(res.status, 400, "{}", res.describe());
    }
    let res = own.post_form("/account/password", &change(&alice.password)).await;
    assert_eq!(res.status, 429, "the password change is refused while locked: {}", res.describe());
    assert_refused(&sign_in(g1, "alice", &alice.password, None).await, LOCKED, "locked by password changes");
    let status: Value = admin(reqwest::Method::GET).send().await.unwrap().json().await.unwrap();
    assert_eq!((status["locked"].clone(), status["failures"].clone()), (json!(true), json!(12)), "{status}");
    assert!(status["locked_until"].as_i64().unwrap() > now(), "{status}");
    let res: Value = admin(reqwest::Method::DELETE).send().await.unwrap().json().await.unwrap();
    assert_eq!(res, json!({"user_id": alice.id, "was_locked": true, "failures_cleared": 12}));
    let status: Value = admin(reqwest::Method::GET).send().await.unwrap().json().await.unwrap();
    assert_eq!(status, json!({"user_id": alice.id, "locked": false, "locked_until": null, "failures": 0}));
    assert_signed_in(
        &sign_in(&browser_at(&server, 0), "alice", &alice.password, None).await,
        "after the admin API's unlock",
    );
    assert!(audit_of(&db, "user.unlocked").iter().any(|e| str_of(e, "actor").starts_with("admin:")));

    assert!(metric(&server, "latchkey_login_locks_total{limit=\"account\"}").await >= 4.0);
    assert!(metric(&server, "latchkey_login_throttled_total{limit=\"account\"}").await >= 7.0);
    let all = cli_json(&db, &["audit", "list", "--limit", "10000"]).to_string();
    assert!(!all.contains(&alice.password) && !all.contains("guess"), "no password in the audit log");
}

/// `latchkey admin token create` with the users scopes: (id, token).
fn admin_token(db: &TestDb) -> (String, String) {
    let out =
        cli_json(db, &["admin", "token", "create", "--name", "ops", "--scope", "users:read", "--scope", "users:write"]);
    (str_of(&out, "id").to_string(), str_of(&out, "token").to_string())
}

/// With `login.max_failures_per_address = 10`, eleven wrong passwords over
/// eleven accounts from one address: the eleventh address is refused (even
/// with a right password), across replicas; behind a trusted proxy each
/// forwarded address has its own count.
async fn failures_across_accounts_trip_the_address_limit(backend: Backend) {
    let env_vars = [("LATCHKEY_LOGIN_MAX_FAILURES_PER_ADDRESS", "10"), ("LATCHKEY_HTTP_TRUSTED_PROXIES", "127.0.0.1")];
    let Env { db, server, alice } = env(backend, &env_vars).await;
    let bob = create_user(&db, "bob", "bob's long password", &[]);
    let sprayer = "203.0.113.7";
    let guessers = [browser_at(&server, 0), browser_at(&server, 1)];
    for i in 0..10 {
        let b = &guessers[i % 2];
        assert_wrong(&sign_in(b, &format!("user{i}"), "Winter2024!", Some(sprayer)).await, &format!("account {i}"));
    }
    let retry =
        assert_refused(&sign_in(&guessers[1], "user10", "Winter2024!", Some(sprayer)).await, FROM_NETWORK, "11th");
    assert!((1..=900).contains(&retry), "until the count ends: {retry}");
    let res = sign_in(&browser_at(&server, 0), "bob", &bob.password, Some(sprayer)).await;
    assert_refused(&res, FROM_NETWORK, "even a right password from that address");
    assert_eq!(audit_of(&db, "login.failure").len(), 10);
    let locked = audit_of(&db, "login.locked");
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert_eq!((locked[0]["details"]["limit"].clone(), locked[0]["ip"].clone()), (json!("address"), json!(sprayer)));

    // Another address behind the same proxy is not affected, nor are the
    // accounts the sprayer tried.
    let res = sign_in(&browser_at(&server, 1), "bob", &bob.password, Some("203.0.113.8")).await;
    assert_signed_in(&res, "bob elsewhere");
    let res = sign_in(&browser_at(&server, 0), "alice", &alice.password, Some("2001:db8::1")).await;
    assert_signed_in(&res, "alice elsewhere");
    assert!(metric(&server, "latchkey_login_locks_total{limit=\"address\"}").await >= 1.0);
    assert!(metric(&server, "latchkey_login_throttled_total{limit=\"address\"}").await >= 2.0);
}

//! The login and consent pages in a real browser: headless Chromium driven
//! through ChromeDriver's W3C WebDriver HTTP API (plain reqwest, no WebDriver
//! crate; the helpers are `latchkey_tests::webdriver`). Checks what only a browser can: the pages render and their forms
//! submit under the pages' own Content-Security-Policy (including
//! `form-action` on the redirect that follows the consent form), the cookies
//! are stored with the attributes the browser actually honours, and the
//! redirect lands at the client with `code`, `state` and `iss`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages
//! `chromium chromium-driver`; `.ci/run` installs them). Without them the test
//! fails when `CI` is set and is skipped otherwise. The login test runs on
//! SQLite only (the backends are covered by the HTTP-level flow tests); the
//! passkey test on the cluster where one runs.
//!
//! Screenshots of the pages are written to the test's temporary folder; set
//! `LATCHKEY_TEST_SCREENSHOT_DIR` to keep copies somewhere for a look.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_tests::webdriver::{Browser, browser_available};
use latchkey_tests::*;
use sha2::{Digest, Sha256};

const PASSWORD: &str = "correct horse battery";
const BAD_LOGIN: &str = "Incorrect username or password.";

/// A browser set to German gets the sign-in page in German
/// (docs/languages.md: `Accept-Language` when nothing else decides).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_german_browser_gets_german_pages() {
    if !browser_available() {
        return;
    }
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &[]).await;
    let client =
        cli_json(&db, &["client", "create", "--name", "Browser App", "--redirect-uri", "https://app.example/cb"]);
    let client_id = client["client_id"].as_str().expect("client_id").to_string();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(b"a verifier of this test, long enough to be one"));
    let authorize = url::Url::parse_with_params(
        &server.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("scope", "openid"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let browser = Browser::start_in(db.dir.path(), Some("de-DE,de")).await;
    browser.navigate(authorize.as_str()).await;
    let source = browser.wait_for_source("Anmelden", "the German sign-in page").await;
    assert!(source.contains(r#"<html lang="de">"#), "{source}");
    assert_eq!(browser.text("#heading").await, "Anmelden");
    assert_eq!(browser.text("label[for=password]").await, "Passwort");
    assert!(browser.title().await.starts_with("Anmelden · "), "{}", browser.title().await);
    browser.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_consent_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let db = TestDb::new(Backend::Sqlite).await;
    // The server first: it creates the database the CLI then writes to.
    let server = Server::start(&db, &[]).await;
    let receiver = Receiver::start();
    let redirect_uri = receiver.url("/cb");
    let client = cli_json(&db, &["client", "create", "--name", "Browser App", "--redirect-uri", &redirect_uri]);
    let client_id = client["client_id"].as_str().expect("client_id").to_string();
    let client_secret = client["client_secret"].as_str().expect("client_secret").to_string();
    cli(
        &db,
        &["user", "create", "--username", "alice", "--password-stdin", "--email", "alice@example.com"],
        &[],
        Some(&format!("{PASSWORD}\n")),
    )
    .ok();

    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = "browser state/ü&x=1+2";
    let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>());
    let authorize = url::Url::parse_with_params(
        &server.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid profile email"),
            ("state", state),
            ("nonce", nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();

    let shots = db.dir.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Browser::start(db.dir.path()).await;

    // The login page.
    browser.navigate(authorize.as_str()).await;
    let title = browser.title().await;
    assert!(title.contains("Sign in"), "login page title: {title:?}\n{}", browser.source().await);
    browser.screenshot(&shots.join("login.png")).await;
    let source = browser.source().await;
    assert!(source.contains("Browser App"), "the login page names the client:\n{source}");

    // A wrong password re-renders the form with the one message for every failure.
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", "not the password").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_source(BAD_LOGIN, "the failed-login message").await;
    assert!(browser.title().await.contains("Sign in"));
    browser.screenshot(&shots.join("login-failed.png")).await;

    // The right password leads to the consent page.
    browser.clear("#username").await;
    browser.type_into("#username", "alice").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    let consent = browser.wait_for_source("wants to access your account", "the consent page").await;
    browser.screenshot(&shots.join("consent.png")).await;
    let scope_items = browser.texts("ul.scopes li").await;
    for expected in
        ["Know who you are (your account identifier)", "See your name and username", "See your email address"]
    {
        assert!(
            scope_items.iter().any(|item| item == expected),
            "consent page lacks the scope line {expected:?}: {scope_items:?}\n{consent}"
        );
    }
    let heading = browser.text("h1").await;
    assert!(heading.contains("Browser App"), "consent heading: {heading:?}");
    assert!(consent.contains("alice"), "the consent page says who is signed in:\n{consent}");

    // Cookies as the browser stored them (not as the server announced them).
    let cookies = browser.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "latchkey_session")
        .unwrap_or_else(|| panic!("no latchkey_session cookie after sign-in: {cookies:?}"));
    assert_eq!(session["httpOnly"], true, "{session}");
    assert_eq!(session["sameSite"], "Lax", "{session}");
    assert_eq!(session["path"], "/", "{session}");
    assert_eq!(session["value"].as_str().map(|v| !v.is_empty()), Some(true), "{session}");
    if let Some(csrf) = cookies.iter().find(|c| c["name"] == "latchkey_csrf") {
        assert_eq!(csrf["httpOnly"], true, "{csrf}");
        assert_eq!(csrf["sameSite"], "Lax", "{csrf}");
    }

    // Allow: the 303 after the form post must get past the page's CSP form-action.
    browser.click("button[name=decision][value=allow]").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let landed = loop {
        let now = browser.current_url().await;
        if now.starts_with(&redirect_uri) {
            break now;
        }
        if Instant::now() > deadline {
            panic!(
                "the browser did not reach {redirect_uri} within 10 s; it is at {now}\n{}\nserver log:\n{}",
                browser.source().await,
                server.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let landed = url::Url::parse(&landed).unwrap();
    let params: Vec<(String, String)> = landed.query_pairs().into_owned().collect();
    let param = |name: &str| {
        let found: Vec<&String> = params.iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect();
        assert_eq!(found.len(), 1, "{name} once in {landed}");
        found[0].clone()
    };
    let code = param("code");
    assert!(!code.is_empty());
    assert_eq!(param("state"), state, "state comes back byte for byte");
    assert_eq!(param("iss"), server.issuer, "RFC 9207 iss");
    assert!(params.iter().all(|(k, _)| k != "error"), "no error on success: {landed}");
    // The client's endpoint really received that request.
    let line = receiver
        .requests()
        .into_iter()
        .find(|l| l.starts_with("GET /cb?"))
        .unwrap_or_else(|| panic!("the receiver saw no GET /cb: {:?}", receiver.requests()));
    let target = line.split(' ').nth(1).unwrap();
    assert_eq!(url::Url::parse(&receiver.url(target)).unwrap(), landed);

    browser.quit().await;

    // The client exchanges the code.
    let res = http()
        .post(server.url("/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    let id_token = body["id_token"].as_str().unwrap_or_else(|| panic!("no id_token: {body}"));
    let claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(id_token.split('.').nth(1).expect("a JWS")).unwrap()).unwrap();
    assert_eq!(claims["iss"], server.issuer.as_str(), "{claims}");
    assert_eq!(claims["aud"], client_id.as_str(), "{claims}");
    assert_eq!(claims["nonce"], nonce.as_str(), "{claims}");
    assert_eq!(claims["email"], "alice@example.com", "{claims}");

    if let Some(keep) = std::env::var_os("LATCHKEY_TEST_SCREENSHOT_DIR") {
        let keep = PathBuf::from(keep);
        std::fs::create_dir_all(&keep).unwrap();
        for entry in std::fs::read_dir(&shots).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), keep.join(entry.file_name())).unwrap();
        }
        eprintln!("screenshots copied to {}", keep.display());
    }
}

/// Branding in a real browser (docs/branding.md): the colours, the extra
/// stylesheet and the logo file, all served from our origin, apply under
/// the pages' strict CSP (checked by computed style and the image's
/// loaded size), on a built-in page and on an overridden login page; and
/// the forgot-password page renders and submits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branding_and_forgot_password_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/branding");
    let (logo, css, templates) =
        (format!("{example}/logo.svg"), format!("{example}/brand.css"), format!("{example}/templates"));
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(
        &db,
        &[
            ("LATCHKEY_UI_PRODUCT_NAME", "Acme ID"),
            ("LATCHKEY_UI_LOGO_FILE", &logo),
            ("LATCHKEY_UI_STYLESHEET", &css),
            ("LATCHKEY_UI_TEMPLATES_DIR", &templates),
            ("LATCHKEY_UI_COLOR_ACCENT", "#0f766e"),
            ("LATCHKEY_UI_COLOR_BACKGROUND", "#fdf6e3"),
            // Mail is queued, never delivered (nothing listens there): enough for the page.
            ("LATCHKEY_EMAIL_SMTP_URL", "smtp://127.0.0.1:9"),
            ("LATCHKEY_EMAIL_FROM", "id@example.com"),
        ],
    )
    .await;
    let receiver = Receiver::start();
    let redirect_uri = receiver.url("/cb");
    let client = cli_json(&db, &["client", "create", "--name", "Brand App", "--redirect-uri", &redirect_uri]);
    let client_id = client["client_id"].as_str().expect("client_id").to_string();
    cli(&db, &["user", "create", "--username", "dora", "--password-stdin"], &[], Some(&format!("{PASSWORD}\n"))).ok();
    let shots = db.dir.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Browser::start(db.dir.path()).await;

    // What the browser computed, from the stylesheets it was allowed to load.
    let styles = async || {
        browser
            .execute(
                "const css = (sel, prop) => getComputedStyle(document.querySelector(sel)).getPropertyValue(prop);
                 const logo = document.querySelector('img.logo');
                 return {
                   button: css('button.primary', 'background-color'),
                   page: css('html', 'background-color'),
                   cardTop: css('.card', 'border-top-width'),
                   logoWidth: logo ? logo.naturalWidth : -1,
                   logoSrc: logo ? logo.getAttribute('src') : null,
                   product: document.querySelector('.product').textContent,
                 };",
                vec![],
            )
            .await
    };
    let check = |what: &str, s: &Value| {
        assert_eq!(s["button"], "rgb(15, 118, 110)", "{what}: ui.color_accent: {s}");
        assert_eq!(s["page"], "rgb(253, 246, 227)", "{what}: ui.color_background: {s}");
        assert_eq!(s["cardTop"], "6px", "{what}: ui.stylesheet: {s}");
        assert_eq!(s["logoWidth"], 96, "{what}: the logo loaded: {s}");
        assert!(s["logoSrc"].as_str().unwrap().starts_with("/assets/logo.svg?v="), "{what}: {s}");
        assert_eq!(s["product"], "Acme ID", "{what}: {s}");
    };

    // A built-in page.
    browser.navigate(&server.url("/account")).await;
    browser.wait_for_source("Acme ID", "the account sign-in page").await;
    check("/account", &styles().await);
    browser.screenshot(&shots.join("branding-account.png")).await;

    // The overridden login page renders, is styled the same, and signs in.
    let authorize = url::Url::parse_with_params(
        &server.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid"),
            ("state", "s"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    browser.navigate(authorize.as_str()).await;
    browser.wait_for_source("Welcome back", "the overridden login page").await;
    check("login override", &styles().await);
    browser.screenshot(&shots.join("branding-login-override.png")).await;
    browser.type_into("#username", "dora").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    let consent = browser.wait_for_source("wants to access your account", "the consent page").await;
    assert!(consent.contains("Brand App"), "{consent}");

    // Forgot password: the link on /account's sign-in page, the form, the answer.
    browser.call("DELETE", "/cookie", None).await;
    browser.navigate(&server.url("/account")).await;
    browser.click("a[href$='/forgot-password']").await;
    browser.wait_for_source("Enter your username or email address", "the forgot-password page").await;
    browser.type_into("#identifier", "dora").await;
    browser.screenshot(&shots.join("forgot-password.png")).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_source("Check your email", "the answer").await;
    assert_eq!(browser.text("h1").await, "Check your email");
    browser.screenshot(&shots.join("forgot-password-sent.png")).await;
    browser.quit().await;
    drop(server);
}

/// Open sign-up in a real browser: "Create an account" on the app's sign-in
/// page, the form under the page's CSP (a common password refused with its
/// reason, then a passphrase), and on to consent and the app with a code.
/// SQLite only; no address to confirm (no email here: the end-to-end tests
/// in `self_service.rs` cover that with a real SMTP server).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_in_a_real_browser() {
    if !browser_available() {
        return;
    }
    let db = TestDb::new(Backend::Sqlite).await;
    let env = [("LATCHKEY_SIGNUP_MODE", "open"), ("LATCHKEY_SIGNUP_REQUIRE_VERIFIED_EMAIL", "false")];
    let server = Server::start(&db, &env).await;
    let receiver = Receiver::start();
    let redirect_uri = receiver.url("/cb");
    let client = cli_json(&db, &["client", "create", "--name", "Signup App", "--redirect-uri", &redirect_uri]);
    let client_id = client["client_id"].as_str().expect("client_id").to_string();
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(b"a verifier that is long enough for pkce 0123456789"));
    let authorize = url::Url::parse_with_params(
        &server.url("/authorize"),
        &[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("scope", "openid email"),
            ("state", "s"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ],
    )
    .unwrap();
    let shots = db.dir.path().join("screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Browser::start(db.dir.path()).await;
    browser.navigate(authorize.as_str()).await;
    browser.click("#signup-link").await;
    browser.wait_for_source("Create the account", "the sign-up page").await;
    assert!(browser.title().await.contains("Create an account"));
    assert!(browser.source().await.contains("Signup App"), "the page names the app");
    browser.type_into("#username", "dora").await;
    browser.type_into("#email", "dora@example.com").await;
    browser.type_into("#password", "iloveyou123").await;
    browser.type_into("#confirm_password", "iloveyou123").await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_source("commonly used", "the common-password refusal").await;
    browser.screenshot(&shots.join("signup-refused.png")).await;
    for field in ["#password", "#confirm_password"] {
        browser.clear(field).await;
        browser.type_into(field, PASSWORD).await;
    }
    browser.click("form button[type=submit]").await;
    browser.wait_for_source("wants to access your account", "the consent page").await;
    browser.click("button[name=decision][value=allow]").await;
    let landed = browser.wait_for_url(&redirect_uri).await;
    assert!(landed.contains("code="), "{landed}");
    browser.quit().await;
    let dora = cli_json(&db, &["user", "show", "dora"]);
    assert_eq!(dora["claims"]["email"], "dora@example.com", "{dora}");
}

/// Passkeys in a real browser with ChromeDriver's virtual authenticator
/// (CTAP2, internal, resident keys, user verification): register one on
/// `/account` (its script runs under the page's CSP), sign in passwordless
/// through `/authorize` to an app, use it as the second factor after the
/// password, remove it, and see a removed passkey refused. The ID tokens are
/// checked by the `openidconnect` relying party. The issuer is
/// `http://localhost:PORT`: browsers refuse WebAuthn on IP-address origins.
/// On the cluster where one runs (two replicas behind nginx, Redis), so that
/// ceremonies begun on one replica finish on the other; else on SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passkeys_in_a_real_browser() {
    use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
    use openidconnect::{
        AuthenticationContextClass, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
        PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    };
    if !browser_available() {
        return;
    }
    let backend = if cluster_available() { Backend::Cluster } else { Backend::Sqlite };
    let db = TestDb::new(backend).await;
    let server = Server::start_on_localhost(&db, &[]).await;
    assert!(server.issuer.starts_with("http://localhost:"), "{}", server.issuer);
    eprintln!("passkeys on {backend:?}, replicas {:?}", server.replicas);
    let receiver = Receiver::start();
    let redirect_uri = receiver.url("/cb");
    let client = cli_json(&db, &["client", "create", "--name", "Passkey App", "--redirect-uri", &redirect_uri]);
    let client_id = client["client_id"].as_str().expect("client_id").to_string();
    let client_secret = client["client_secret"].as_str().expect("client_secret").to_string();
    cli(&db, &["user", "create", "--username", "carol", "--password-stdin"], &[], Some(&format!("{PASSWORD}\n"))).ok();
    let rp_http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &rp_http)
        .await
        .unwrap_or_else(|e| panic!("discovery failed: {e:?}"));
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(client_secret)),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.clone()).unwrap());

    let browser = Browser::start(db.dir.path()).await;
    let authenticator = browser
        .call(
            "POST",
            "/webauthn/authenticator",
            Some(json!({
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
                "hasUserVerification": true, "isUserVerified": true,
            })),
        )
        .await;
    let authenticator = authenticator.as_str().expect("authenticatorId").to_string();

    // Register on /account, after signing in there with the password.
    browser.navigate(&server.url("/account")).await;
    browser.type_into("#username", "carol").await;
    browser.type_into("#password", PASSWORD).await;
    browser.click("form button[type=submit]").await;
    browser.wait_for_source("Signed in as", "the account page").await;
    browser.type_into("#passkey_name", "Virtual key").await;
    browser.click("button[data-passkey=register]").await;
    let page = browser.wait_for_source("Your passkey was added", "the registration notice").await;
    assert_eq!(browser.text("[role=status]").await, "Your passkey was added. You can sign in with it now.");
    let listed = browser.attribute("[data-passkey-id]", "data-passkey-id").await;
    assert!(page.contains("Virtual key") && page.contains("not used yet"), "{page}");
    let credentials = browser.call("GET", &format!("/webauthn/authenticator/{authenticator}/credentials"), None).await;
    let credentials = credentials.as_array().expect("credentials").clone();
    assert_eq!(credentials.len(), 1, "{credentials:?}");
    assert_eq!(credentials[0]["isResidentCredential"], true, "a discoverable credential: {credentials:?}");
    assert_eq!(credentials[0]["credentialId"].as_str(), Some(listed.as_str()), "the listed id is the credential's");

    // A code flow through the openidconnect client, driven in the browser
    // by `steps`, landing at the client; the ID token's amr and acr.
    // `acr`: the request's acr_values, asked of the session the browser has;
    // without it the browser is signed out first.
    let flow = async |steps: &[(&str, &str)], acr: Option<&str>| -> (Vec<String>, String) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = rp
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if let Some(acr) = acr {
            request = request.add_auth_context_value(AuthenticationContextClass::new(acr.into()));
        }
        let (url, csrf, nonce) = request.url();
        if acr.is_none() {
            // WebDriver deletes the cookies of the page it is on.
            browser.navigate(&server.url("/")).await;
            browser.call("DELETE", "/cookie", None).await;
        }
        browser.navigate(url.as_str()).await;
        for (kind, what) in steps {
            match *kind {
                "type" => {
                    let (css, text) = what.split_once('=').unwrap();
                    browser.type_into(css, text).await;
                }
                "click" => browser.click(what).await,
                "wait" => {
                    browser.wait_for_source(what, what).await;
                }
                "consent" => {
                    if browser.source().await.contains("wants to access your account") {
                        browser.click("button[name=decision][value=allow]").await;
                    }
                }
                other => unreachable!("{other}"),
            }
        }
        let landed = browser.wait_for_url(&redirect_uri).await;
        let params: Vec<(String, String)> = url::Url::parse(&landed).unwrap().query_pairs().into_owned().collect();
        let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        assert_eq!(param("state").as_deref(), Some(csrf.secret().as_str()), "{landed}");
        let code = param("code").unwrap_or_else(|| panic!("no code: {landed}\n{}", server.log()));
        let tokens = rp
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&rp_http)
            .await
            .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
        let claims = tokens
            .id_token()
            .expect("an ID token")
            .claims(&rp.id_token_verifier(), &nonce)
            .unwrap_or_else(|e| panic!("ID token rejected: {e:?}"))
            .clone();
        let amr = claims.auth_method_refs().expect("amr").iter().map(|m| m.as_str().to_string()).collect();
        let acr = claims.auth_context_ref().expect("acr").as_str().to_string();
        (amr, acr)
    };

    let sign_in = async |steps: &[(&str, &str)]| flow(steps, None).await;

    // Step-up: the browser's session (the password, on /account) is asked
    // for phr by an app; only the passkey is asked, and the same sign-in
    // is upgraded (its amr keeps pwd).
    let (amr, acr) = flow(
        &[
            ("wait", "Two-step verification"),
            ("click", "button[data-passkey=sign-in]"),
            ("wait", "wants to access your account"),
            ("consent", ""),
        ],
        Some("phr"),
    )
    .await;
    assert_eq!(acr, "phr");
    assert_eq!(amr, ["pwd", "hwk", "user", "mfa"], "the password session, stepped up");

    // Passwordless: "Sign in with a passkey" on the login page (the
    // consent given above is remembered).
    let (amr, acr) = sign_in(&[("wait", "Sign in with a passkey"), ("click", "button[data-passkey=sign-in]")]).await;
    assert_eq!(acr, "phr");
    assert_eq!(amr, ["hwk", "user", "mfa"], "a device-bound passkey with user verification");

    // The passkey as the second factor after the password.
    let (amr, acr) = sign_in(&[
        ("type", "#username=carol"),
        ("type", &format!("#password={PASSWORD}")),
        ("click", "form button[type=submit]"),
        ("wait", "Two-step verification"),
        ("click", "button[data-passkey=sign-in]"),
    ])
    .await;
    assert_eq!(acr, "phr");
    assert_eq!(amr, ["pwd", "hwk", "user", "mfa"]);

    // Remove it on /account (signed in by the last flow).
    browser.navigate(&server.url("/account")).await;
    let page = browser.wait_for_source("data-passkey-id", "the listed passkey").await;
    assert!(!page.contains("not used yet"), "the last use is shown:\n{page}");
    browser.click(&format!("[data-passkey-id=\"{listed}\"] button[type=submit]")).await;
    let page = browser.wait_for_source("The passkey was removed.", "the removal notice").await;
    assert!(!page.contains("data-passkey-id"), "{page}");

    // The authenticator still holds it; the server refuses it, in a role=alert.
    browser.call("DELETE", "/cookie", None).await;
    browser.navigate(&server.url("/account")).await;
    browser.wait_for_source("Sign in with a passkey", "the account sign-in page").await;
    browser.click("button[data-passkey=sign-in]").await;
    browser.wait_for_source("could not be used to sign in", "the refusal").await;
    let alert = browser.text("p[role=alert]:not([hidden])").await;
    assert_eq!(alert, "That passkey could not be used to sign in. Try again, or another way.");
    browser.quit().await;

    let audit = cli_json(&db, &["audit", "list", "--limit", "1000"]);
    let kinds: Vec<&str> =
        audit.as_array().map_or(Vec::new(), |a| a.iter().filter_map(|e| e["kind"].as_str()).collect());
    for kind in ["mfa.passkey_registered", "mfa.passkey_used", "mfa.passkey_removed", "mfa.failure"] {
        assert!(kinds.contains(&kind), "{kind} audited: {kinds:?}");
    }
}

// ---------------------------------------------------------------------------
// The client's redirect endpoint: answers 200 "ok" and records request lines.

struct Receiver {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Receiver {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        // Detached: it ends with the test process.
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = log.clone();
                std::thread::spawn(move || answer(stream, &log));
            }
        });
        Self { port, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

fn answer(mut stream: TcpStream, log: &Mutex<Vec<String>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return; // a preconnect that never sent a request
    }
    log.lock().unwrap().push(line.trim_end().to_string());
    loop {
        let mut header = String::new();
        match reader.read_line(&mut header) {
            Ok(n) if n > 0 && header != "\r\n" && header != "\n" => {}
            _ => break,
        }
    }
    let _ = stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
}

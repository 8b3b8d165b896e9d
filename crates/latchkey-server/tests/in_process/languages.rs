//! Languages (docs/self-service.md, "Languages"): the login, consent and
//! error pages and the emails in English, German and French, chosen by
//! `ui_locales`, then the account's `locale`, then `Accept-Language`;
//! discovery lists exactly those languages.

use latchkey_server::testing::{Browser, TestApp, TestResponse, TestUser};

use crate::common::*;

/// `GET /authorize?params` with `Accept-Language` (if any).
async fn authorize_in(browser: &Browser<'_>, app: &TestApp, params: &Params, accept: Option<&str>) -> TestResponse {
    let mut req = app.get(&format!("/authorize?{}", params.encode()));
    if let Some(accept) = accept {
        req = req.header("accept-language", accept);
    }
    browser.send(req).await
}

fn assert_page(res: &TestResponse, lang: &str, words: &str, what: &str) {
    let body = res.text();
    assert!(body.contains(&format!(r#"<html lang="{lang}">"#)), "{what}: not in {lang}: {}", res.describe());
    assert!(body.contains(words), "{what}: {words:?} missing: {}", res.describe());
}

/// The consent page `user` reaches after signing in on `login`.
async fn consent_after(browser: &Browser<'_>, login: &TestResponse, user: &TestUser) -> TestResponse {
    let res = give_password(browser, login, user).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.input("decision").is_some() || res.text().contains(r#"name="decision""#), "{}", res.describe());
    res
}

#[tokio::test]
async fn pages_speak_ui_locales_then_the_account_locale_then_the_browser_language() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let alice = alice(&app).await;
    let anna = app.create_user("anna", PASSWORD, &["--claim", "locale=de-AT"]).await;
    let p = pkce();
    let request = code_request(&client.id, &p);

    // Login: the browser's language, unless ui_locales names a shipped one.
    let cases = [
        (None, None, "en", "Sign in"),
        (None, Some("fr-CA,fr;q=0.9,en;q=0.5"), "fr", "Se connecter"),
        (None, Some("ja, de;q=0.8, en;q=0.7"), "de", "Anmelden"),
        (Some("de"), Some("fr"), "de", "Anmelden"),
        (Some("ja fr-FR"), Some("de"), "fr", "Se connecter"),
        (Some("ja"), None, "en", "Sign in"),
    ];
    for (ui_locales, accept, lang, words) in cases {
        let params = match ui_locales {
            Some(v) => request.clone().set("ui_locales", v),
            None => request.clone(),
        };
        let res = authorize_in(&app.browser(), &app, &params, accept).await;
        assert_page(&res, lang, &format!("<h1 id=\"heading\">{words}</h1>"), &format!("{ui_locales:?} {accept:?}"));
    }

    // A wrong password, in the flow's language.
    let browser = app.browser();
    let login = authorize_in(&browser, &app, &request.clone().set("ui_locales", "fr"), None).await;
    let wrong = TestUser { password: "not-the-password".into(), ..alice.clone() };
    let res = give_password(&browser, &login, &wrong).await;
    assert_eq!(res.status, 401, "{}", res.describe());
    assert_page(&res, "fr", "Nom d’utilisateur ou mot de passe incorrect.", "wrong password");

    // Consent: once the person is known, their locale beats the browser's;
    // ui_locales still beats both.
    let browser = app.browser();
    let login = authorize_in(&browser, &app, &request, Some("fr")).await;
    assert_page(&login, "fr", "Se connecter", "anna's login");
    let consent = consent_after(&browser, &login, &anna).await;
    assert_page(&consent, "de", "Test App möchte auf Ihr Konto zugreifen", "anna's consent");
    assert!(consent.text().contains("Wissen, wer Sie sind"), "{}", consent.describe());

    let browser = app.browser();
    let login = authorize_in(&browser, &app, &request.clone().set("ui_locales", "fr"), Some("en")).await;
    let consent = consent_after(&browser, &login, &anna).await;
    assert_page(&consent, "fr", "Test App souhaite accéder à votre compte", "anna's consent, ui_locales=fr");

    let browser = app.browser();
    let login = authorize_in(&browser, &app, &request, Some("fr")).await;
    let consent = consent_after(&browser, &login, &alice).await;
    assert_page(&consent, "fr", "Test App souhaite accéder à votre compte", "alice (no locale) in French");

    let browser = app.browser();
    let login = authorize_in(&browser, &app, &request, None).await;
    let consent = consent_after(&browser, &login, &alice).await;
    assert_page(&consent, "en", "Test App wants to access your account", "alice in English");

    // Error pages: the request's ui_locales, else the browser's language.
    let unknown = Params(vec![("client_id".into(), "nobody".into()), ("response_type".into(), "code".into())]);
    let cases = [
        (Some("de"), Some("fr"), "de", "Die Anwendung ist hier nicht registriert."),
        (None, Some("fr"), "fr", "L’application n’est pas enregistrée ici."),
        (None, None, "en", "The application is not registered here."),
    ];
    for (ui_locales, accept, lang, words) in cases {
        let params = match ui_locales {
            Some(v) => unknown.clone().set("ui_locales", v),
            None => unknown.clone(),
        };
        let res = authorize_in(&app.browser(), &app, &params, accept).await;
        assert_eq!(res.status, 400, "{}", res.describe());
        assert_page(&res, lang, words, &format!("error page {ui_locales:?} {accept:?}"));
    }
}

#[tokio::test]
async fn discovery_lists_exactly_the_shipped_languages() {
    let app = TestApp::start().await;
    let res = app.get("/.well-known/openid-configuration").await;
    assert_eq!(res.json()["ui_locales_supported"], serde_json::json!(["en", "de", "fr"]));
}

async fn ask_reset(app: &TestApp, identifier: &str, accept: &str) {
    let browser = app.browser();
    let form = browser.send(app.get("/forgot-password").header("accept-language", accept)).await;
    let csrf = form.input("csrf").unwrap();
    let res = browser
        .send(
            app.post("/forgot-password")
                .header("accept-language", accept)
                .form(&[("csrf", csrf.as_str()), ("identifier", identifier)]),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.describe());
}

#[tokio::test]
async fn emails_speak_the_recipients_language() {
    let app = TestApp::with_env(&EMAIL_ENV).await;
    app.create_user("anna", PASSWORD, &["--email", "anna@example.com", "--claim", "locale=de"]).await;
    app.create_user("bob", PASSWORD, &["--email", "bob@example.com"]).await;
    // The account's locale, whatever the browser asking.
    ask_reset(&app, "anna", "fr").await;
    // No locale: the language of the request that asked.
    ask_reset(&app, "bob", "fr-CH, en;q=0.5").await;
    let emails = sent(&app).await;
    assert_eq!(emails.len(), 2, "{emails:?}");
    let anna = emails.iter().find(|e| e.recipient == "anna@example.com").expect("anna's email");
    assert!(
        anna.subject.starts_with("Setzen Sie Ihr ") && anna.subject.ends_with("-Passwort zurück"),
        "{}",
        anna.subject
    );
    assert!(anna.text_body.starts_with("Hallo anna,"), "{}", anna.text_body);
    assert!(anna.html_body.contains(r#"<html lang="de">"#), "{}", anna.html_body);
    let bob = emails.iter().find(|e| e.recipient == "bob@example.com").expect("bob's email");
    assert!(bob.subject.starts_with("Réinitialisez votre mot de passe"), "{}", bob.subject);
    assert!(bob.text_body.starts_with("Bonjour bob,"), "{}", bob.text_body);
}

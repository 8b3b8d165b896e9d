//! Two-step verification over real HTTP on every backend (docs/mfa.md): a
//! person sets up an authenticator on `/account`, then signs in to an app
//! with a code after the password; the ID token says `amr` `pwd otp mfa` and
//! `acr` `urn:latchkey:acr:mfa`; a used code is refused (on the cluster, by
//! whichever replica gets it), a code two steps away is refused, a recovery
//! code works once. Codes come from Python's `hmac` (RFC 6238 written
//! again, independently of the server's Rust). Then a client that requires
//! two factors: the setup right in the sign-in, a step-up of a password-only
//! session, `prompt=none`, all checked by the `openidconnect` relying party.

mod common;
#[path = "common/upstream.rs"]
mod upstream;

use common::flow::*;
use latchkey_tests::*;
use upstream::Rp;

on_both_backends!(
    an_authenticator_is_set_up_and_its_codes_sign_in_once,
    a_client_that_requires_two_factors_gets_them_by_setup_or_step_up,
);

fn between(text: &str, start: &str, end: &str) -> String {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start}")) + start.len();
    text[from..][..text[from..].find(end).unwrap()].to_string()
}

/// The login page of a new flow, the password given: the code page.
async fn code_page(b: &Browser, client: &TestClient, alice: &User, pkce: &Pkce) -> Page {
    let login = b.authorize(&code_request(&client.id, pkce)).await;
    let page = b.login(&login, &alice.username, &alice.password).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.input("code").is_some(), "the second page: {}", page.describe());
    page
}

async fn submit_code(b: &Browser, page: &Page, code: &str) -> Page {
    let form = Params::new()
        .set("interaction", &page.input("interaction").unwrap())
        .set("csrf", &page.input("csrf").unwrap())
        .set("code", code);
    b.post_form("/login/code", &form).await
}

async fn an_authenticator_is_set_up_and_its_codes_sign_in_once(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);

    // Set up on /account.
    let b = Browser::new(&server);
    let form = b.get(&format!("{}/account", server.issuer)).await;
    let login = Params::new()
        .set("csrf", &form.input("csrf").unwrap())
        .set("username", &alice.username)
        .set("password", &alice.password);
    assert_eq!(b.post_form("/account/login", &login).await.status, 303);
    let csrf = b.get(&format!("{}/account", server.issuer)).await.input("csrf").unwrap();
    let setup = b.post_form("/account/mfa/totp", &Params::new().set("csrf", &csrf)).await;
    assert_eq!(setup.status, 200, "{}", setup.describe());
    let secret = between(&setup.body, "<code class=\"secret\">", "</code>").replace(' ', "");
    let start = now();
    let done = b
        .post_form("/account/mfa/totp/confirm", &Params::new().set("csrf", &csrf).set("code", &totp(&secret, start)))
        .await;
    assert_eq!(done.status, 200, "{}", done.describe());
    let recovery: Vec<String> =
        done.body.split("<li><code>").skip(1).map(|s| s[..s.find('<').unwrap()].to_string()).collect();
    assert_eq!(recovery.len(), 10, "{}", done.describe());

    // Signing in to the app: password, then a code from a phone one step ahead.
    let b2 = Browser::new(&server);
    let pkce2 = pkce();
    let page = code_page(&b2, &client, &alice, &pkce2).await;
    let ahead = totp(&secret, start + 30);
    let flow = b2.drive(submit_code(&b2, &page, &ahead).await, None, "allow").await;
    let res = token(&server, auth_of(&client), &code_grant(&flow.code(), Some(&pkce2.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let claims = verify_jwt(&server, res.json()["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp", "mfa"]), "{claims}");
    assert_eq!(claims["acr"], "urn:latchkey:acr:mfa", "{claims}");

    // Another browser with the same code: refused (on the cluster, maybe by
    // the other replica); one two steps away too; then a recovery code, once.
    let b3 = Browser::new(&server);
    let page = code_page(&b3, &client, &alice, &pkce()).await;
    let replay = submit_code(&b3, &page, &ahead).await;
    assert_eq!(replay.status, 401, "a used code: {}", replay.describe());
    let far = submit_code(&b3, &replay, &totp(&secret, start + 90)).await;
    assert_eq!(far.status, 401, "a code two steps ahead: {}", far.describe());
    let used = submit_code(&b3, &far, &recovery[0]).await;
    let flow = b3.drive(used, None, "allow").await;
    assert!(flow.error().is_none(), "{:?}", flow.params);
    let b4 = Browser::new(&server);
    let page = code_page(&b4, &client, &alice, &pkce()).await;
    assert_eq!(submit_code(&b4, &page, &recovery[0]).await.status, 401, "a used recovery code");

    let audit = cli_json(&db, &["audit", "list", "--kind", "mfa.failure"]);
    assert_eq!(audit.as_array().unwrap().len(), 3, "{audit}");
}

/// A password-only session meets a client registered with `require_mfa`:
/// `prompt=none` is `interaction_required`; otherwise the person (who has no
/// factor) sets one up right there, without a password again, and the
/// session is upgraded: the relying party sees `acr` mfa and `amr` `pwd otp
/// mfa`, and so does another app asking with `acr_values` afterwards, with
/// no further step. The password-only app before saw `acr` password.
async fn a_client_that_requires_two_factors_gets_them_by_setup_or_step_up(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let plain = create_client(&db, "Wiki", &["--redirect-uri", CB, "--skip-consent"]);
    let strict = create_client(&db, "Payroll", &["--redirect-uri", CB, "--skip-consent", "--require-mfa"]);
    let (wiki, payroll) = (Rp::discover(&server, &plain).await, Rp::discover(&server, &strict).await);
    let b = Browser::new(&server);

    let (url, nonce, verifier) = wiki.authorize_url(&[]);
    let flow = b.drive(b.get(&url).await, Some(&alice), "allow").await;
    let (_, raw) = wiki.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(raw["acr"], "urn:latchkey:acr:password", "{raw}");
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]), "{raw}");
    let sid = raw["sid"].clone();

    let (url, _, _) = payroll.authorize_url(&[]);
    let silent = b.drive(b.get(&format!("{url}&prompt=none")).await, None, "allow").await;
    assert_eq!(silent.error(), Some("interaction_required".to_string()), "{:?}", silent.params);

    let (url, nonce, verifier) = payroll.authorize_url(&[]);
    let setup = b.get(&url).await;
    assert_eq!(setup.status, 200, "{}", setup.describe());
    assert!(setup.input("password").is_none(), "no password again: {}", setup.describe());
    let secret = between(&setup.body, "<code class=\"secret\">", "</code>").replace(' ', "");
    let form = Params::new()
        .set("interaction", &setup.input("interaction").unwrap())
        .set("csrf", &setup.input("csrf").unwrap())
        .set("code", &totp(&secret, now()));
    let done = b.post_form("/login/enroll", &form).await;
    assert_eq!(done.body.split("<li><code>").count() - 1, 10, "the recovery codes: {}", done.describe());
    let flow = b.drive(done, None, "allow").await;
    let (claims, raw) = payroll.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("urn:latchkey:acr:mfa"));
    let amr: Vec<String> = claims.auth_method_refs().unwrap().iter().map(|m| m.as_str().to_string()).collect();
    assert_eq!(amr, ["pwd", "otp", "mfa"]);
    assert_eq!(raw["sid"], sid, "the same session, upgraded");

    // The upgraded session satisfies acr_values at the other app, silently.
    let (url, nonce, verifier) = wiki.authorize_url(&[]);
    let url = format!("{url}&prompt=none&acr_values=urn%3Alatchkey%3Aacr%3Amfa");
    let flow = b.drive(b.get(&url).await, None, "allow").await;
    let (claims, _) = wiki.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("urn:latchkey:acr:mfa"));
}

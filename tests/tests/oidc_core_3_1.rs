//! OpenID Connect Core §3.1 (the authorization code flow) and §5.3
//! (UserInfo), checked with an independent relying-party library, the
//! `openidconnect` crate: discovery, the authorization request, the code
//! exchange, ID token validation with `at_hash`, and UserInfo. The browser
//! part is driven by the test browser. Contract: docs/authorization-flow.md.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::collections::BTreeSet;

use common::flow::*;
use latchkey_tests::*;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};

on_both_backends!(
    confidential_client_through_openidconnect,
    flow_without_nonce_has_no_nonce_claim,
    public_client_through_openidconnect,
    userinfo_token_transports_and_cors,
    userinfo_errors,
    scopes_decide_the_claims,
    groups_reach_every_token_and_answer_only_with_their_scope,
    claims_parameter_through_openidconnect,
    id_tokens_of_every_algorithm_through_openidconnect,
);

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn discover(server: &Server) -> CoreProviderMetadata {
    CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &rp_http())
        .await
        .unwrap_or_else(|e| panic!("discovery failed: {e:?}"))
}

/// The flow through the library; returns (token response, ID token raw
/// claims, nonce, client).
async fn run_flow(
    server: &Server,
    client: &TestClient,
    user: &User,
    browser: &Browser,
    scopes: &[&str],
) -> (openidconnect::core::CoreTokenResponse, Nonce, CsrfToken, Flow) {
    let metadata = discover(server).await;
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp.authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random);
    for s in scopes {
        req = req.add_scope(Scope::new(s.to_string()));
    }
    let (url, csrf, nonce) = req.set_pkce_challenge(challenge).url();
    assert!(url.as_str().starts_with(&server.url("/authorize?")), "{url}");
    let flow = browser.drive(browser.get(url.as_str()).await, Some(user), "allow").await;
    assert_eq!(one(&flow.params, "state"), *csrf.secret());
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    let code = flow.code();
    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    (tokens, nonce, csrf, flow)
}

async fn confidential_client_through_openidconnect(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let metadata = discover(&server).await;
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());
    let browser = Browser::new(&server);

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("phone".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = browser.drive(browser.get(url.as_str()).await, Some(&alice), "allow").await;
    assert_eq!(flow.saw_login, 1);
    assert_eq!(one(&flow.params, "state"), *csrf.secret());
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    let code = flow.code();

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    assert_eq!(tokens.token_type(), &openidconnect::core::CoreTokenType::Bearer);
    assert!(tokens.expires_in().is_some());

    // The ID token, validated by the library: signature from the JWKS, iss,
    // aud, exp, nonce.
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = rp.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).unwrap_or_else(|e| panic!("ID token rejected: {e:?}"));
    assert_eq!(claims.subject().as_str(), alice.id);
    assert_eq!(claims.audiences().iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec![client.id.as_str()]);
    assert_eq!(claims.authorized_party().map(|a| a.as_str()), Some(client.id.as_str()));
    assert_eq!(claims.nonce().map(|n| n.secret()), Some(nonce.secret()));
    let auth_time = claims.auth_time().expect("auth_time");
    assert!(auth_time <= claims.issue_time());
    assert!(claims.auth_context_ref().is_some(), "acr");
    let amr: Vec<&str> = claims.auth_method_refs().expect("amr").iter().map(|m| m.as_str()).collect();
    assert!(amr.contains(&"pwd"), "{amr:?}");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice Liddell"));
    assert_eq!(claims.given_name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice"));
    assert_eq!(claims.family_name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Liddell"));
    assert_eq!(claims.phone_number().map(|p| p.as_str()), Some("+15550100"));

    // at_hash binds the access token.
    let expected = claims.access_token_hash().expect("at_hash");
    let actual = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(&actual, expected);

    // sid (not modelled by the library): from the raw, verified token.
    let raw = verify_jwt(&server, &id_token.to_string()).await;
    let sid = raw["sid"].as_str().expect("sid").to_string();
    assert!(!sid.is_empty());

    // A wrong nonce is caught (the library's check works on our tokens).
    assert!(id_token.claims(&id_verifier, &Nonce::new("other".into())).is_err());

    // UserInfo through the library; same sub as the ID token.
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("UserInfo failed: {e:?}"));
    assert_eq!(info.subject(), claims.subject());
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(info.email_verified(), Some(true));
    assert_eq!(info.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Alice Liddell"));
    assert_eq!(info.preferred_username().map(|u| u.as_str()), Some("alice"));
    assert!(info.updated_at().is_some(), "updated_at with profile");
    assert_eq!(info.phone_number().map(|p| p.as_str()), Some("+15550100"));

    // A second flow in the same session: same sid and auth_time, no login.
    let (tokens2, nonce2, _, flow2) = run_flow(&server, &client, &alice, &browser, &["profile"]).await;
    assert_eq!(flow2.saw_login, 0);
    let id2 = tokens2.id_token().unwrap();
    let claims2 = id2.claims(&rp.id_token_verifier(), &nonce2).unwrap();
    assert_eq!(claims2.auth_time(), Some(auth_time), "same sign-in");
    let raw2 = verify_jwt(&server, &id2.to_string()).await;
    assert_eq!(raw2["sid"], sid.as_str(), "same session, same sid");
}

async fn flow_without_nonce_has_no_nonce_claim(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let rp = CoreClient::from_provider_metadata(
        discover(&server).await,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _csrf, _nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge)
        .url();
    // The library always sends a nonce; take it out (it is optional in the
    // code flow).
    let mut url = url.clone();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != "nonce").collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    assert!(!url.as_str().contains("nonce="));

    let browser = Browser::new(&server);
    let flow = browser.drive(browser.get(url.as_str()).await, Some(&alice), "allow").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(flow.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    let id_token = tokens.id_token().expect("ID token");
    let claims = id_token
        .claims(&rp.id_token_verifier(), |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(n) => Err(format!("unexpected nonce {}", n.secret())),
        })
        .unwrap_or_else(|e| panic!("ID token rejected: {e:?}"));
    assert!(claims.nonce().is_none());
    let raw = verify_jwt(&server, &id_token.to_string()).await;
    assert!(raw.get("nonce").is_none(), "{raw}");
}

async fn public_client_through_openidconnect(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = public(&db);
    let browser = Browser::new(&server);
    let (tokens, nonce, _, _) = run_flow(&server, &client, &alice, &browser, &["email"]).await;
    let rp = CoreClient::from_provider_metadata(discover(&server).await, ClientId::new(client.id.clone()), None)
        .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());
    let claims = tokens
        .id_token()
        .expect("ID token")
        .claims(&rp.id_token_verifier(), &nonce)
        .unwrap_or_else(|e| panic!("ID token rejected: {e:?}"));
    assert_eq!(claims.subject().as_str(), alice.id);
    assert_eq!(claims.authorized_party().map(|a| a.as_str()), Some(client.id.as_str()));
    assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        .unwrap()
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("UserInfo failed: {e:?}"));
    assert_eq!(info.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert!(tokens.refresh_token().is_none());

    // The library's PKCE and ours agree (RFC 7636 appendix B vector too).
    assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    let v = pkce();
    assert_eq!(
        PkceCodeChallenge::from_code_verifier_sha256(&openidconnect::PkceCodeVerifier::new(v.verifier.clone()))
            .as_str(),
        v.challenge
    );
}

async fn userinfo_token_transports_and_cors(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let browser = Browser::new(&server);
    let t = tokens_for(&server, &browser, &client, &alice, SCOPES).await;
    let at = t["access_token"].as_str().unwrap();
    let c = http();
    let check = |page: &Page, what: &str| {
        assert_eq!(page.status, 200, "{what}: {}", page.describe());
        assert!(page.header("content-type").unwrap_or_default().starts_with("application/json"), "{what}");
        assert_eq!(page.header("access-control-allow-origin").as_deref(), Some("*"), "{what}: CORS open");
        let body = page.json();
        assert_eq!(body["sub"], alice.id.as_str(), "{what}: {body}");
        assert_eq!(body["email"], "alice@example.com", "{what}");
    };

    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let page = userinfo_get(&server, Some(&format!("{scheme} {at}"))).await;
        check(&page, &format!("GET, scheme {scheme}"));
    }
    let page = Page::of(
        c.post(server.url("/userinfo"))
            .header("authorization", format!("Bearer {at}"))
            .header("origin", "https://rp.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    check(&page, "POST with the header");
    let page = Page::of(
        c.post(server.url("/userinfo"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Params::new().set("access_token", at).encode())
            .send()
            .await
            .unwrap(),
    )
    .await;
    check(&page, "POST with the form field");
    let page = Page::of(
        c.get(server.url("/userinfo"))
            .header("authorization", format!("Bearer {at}"))
            .header("origin", "https://rp.example")
            .send()
            .await
            .unwrap(),
    )
    .await;
    check(&page, "GET from another origin");

    // A CORS preflight from a browser-based RP.
    let page = Page::of(
        c.request(reqwest::Method::OPTIONS, server.url("/userinfo"))
            .header("origin", "https://rp.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(page.status.is_success(), "preflight: {}", page.describe());
    assert_eq!(page.header("access-control-allow-origin").as_deref(), Some("*"));
    let allow_headers = page.header("access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    assert!(
        allow_headers.split(',').any(|h| h.trim() == "authorization"),
        "the preflight must allow the Authorization header by name ('*' does not cover it): {allow_headers:?}"
    );
    let allow_methods = page.header("access-control-allow-methods").unwrap_or_default().to_ascii_uppercase();
    assert!(allow_methods == "*" || allow_methods.contains("GET"), "{allow_methods:?}");
    // Errors carry the CORS header too, so that browser RPs can read them.
    let page = userinfo_get(&server, None).await;
    assert_eq!(page.header("access-control-allow-origin").as_deref(), Some("*"));
}

async fn userinfo_errors(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let bob = create_user(&db, "bob", "bob's password", &["--email", "bob@example.com"]);
    let client = confidential(&db);
    let browser = Browser::new(&server);
    let t = tokens_for(&server, &browser, &client, &alice, SCOPES).await;
    let at = t["access_token"].as_str().unwrap().to_string();
    let id_token = t["id_token"].as_str().unwrap().to_string();
    let c = http();

    // No token: a challenge without an error code (RFC 6750 §3.1).
    for page in [
        userinfo_get(&server, None).await,
        Page::of(c.post(server.url("/userinfo")).send().await.unwrap()).await,
        Page::of(
            c.post(server.url("/userinfo"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("")
                .send()
                .await
                .unwrap(),
        )
        .await,
    ] {
        assert_eq!(page.status, 401, "{}", page.describe());
        let www = www_authenticate(&page);
        assert!(www.starts_with("Bearer"), "{www:?}");
        assert!(!www.contains("error="), "no error code without a token: {www:?}");
    }

    // Bad tokens.
    let (_, claims) = jwt_parts(&at);
    let mut expired = claims.clone();
    expired["iat"] = json!(now() - 600);
    expired["exp"] = json!(now() - 60);
    let mut other_iss = claims.clone();
    other_iss["iss"] = json!("https://other.example");
    let (h, _) = jwt_parts(&at);
    let unsigned = {
        use base64::Engine;
        let e = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
        format!("{}.{}.", e(&json!({"alg": "none", "typ": "at+jwt"})), e(&claims))
    };
    let mut tampered: Vec<String> = at.split('.').map(String::from).collect();
    {
        use base64::Engine;
        let mut c2 = claims.clone();
        c2["sub"] = json!(bob.id);
        tampered[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c2).unwrap());
    }
    let bad: Vec<(&str, String)> = vec![
        ("garbage", "garbage".to_string()),
        ("foreign key", sign_with_foreign_key(&at, &claims).await),
        ("expired", sign_with_active_key(&db, "at+jwt", &expired).await),
        ("another issuer", sign_with_active_key(&db, "at+jwt", &other_iss).await),
        ("alg none", unsigned),
        ("tampered claims", tampered.join(".")),
        ("an ID token is not an access token", id_token.clone()),
        ("truncated", at[..at.len() - 5].to_string()),
    ];
    assert_eq!(h["typ"], "at+jwt");
    for (what, token) in &bad {
        let page = userinfo_get(&server, Some(&format!("Bearer {token}"))).await;
        assert_invalid_token(&page, what);
        assert_eq!(page.header("access-control-allow-origin").as_deref(), Some("*"), "{what}");
    }
    // Control: the same claims signed with our key are accepted, so the
    // refusals above are for the reasons given.
    let resigned = sign_with_active_key(&db, "at+jwt", &claims).await;
    let page = userinfo_get(&server, Some(&format!("Bearer {resigned}"))).await;
    assert_eq!(page.status, 200, "control: {}", page.describe());

    // Header and body at once.
    let page = Page::of(
        c.post(server.url("/userinfo"))
            .header("authorization", format!("Bearer {at}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Params::new().set("access_token", &at).encode())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.describe());
    let in_header = page.header("www-authenticate").is_some_and(|w| w.contains("error=\"invalid_request\""));
    let in_body = serde_json::from_str::<Value>(&page.body).is_ok_and(|b| b["error"] == "invalid_request");
    assert!(in_header || in_body, "invalid_request: {}", page.describe());

    // A token without openid: 403 insufficient_scope.
    let t = tokens_for(&server, &browser, &client, &alice, "profile email").await;
    assert!(t.get("id_token").is_none());
    let page = userinfo_get(&server, Some(&format!("Bearer {}", t["access_token"].as_str().unwrap()))).await;
    assert_eq!(page.status, 403, "{}", page.describe());
    let www = www_authenticate(&page);
    assert!(www.starts_with("Bearer") && www.contains("error=\"insufficient_scope\""), "{www:?}");

    // The user disabled, or gone.
    let bob_browser = Browser::new(&server);
    let bob_tokens = tokens_for(&server, &bob_browser, &client, &bob, "openid email").await;
    let bob_at = format!("Bearer {}", bob_tokens["access_token"].as_str().unwrap());
    assert_eq!(userinfo_get(&server, Some(&bob_at)).await.status, 200);
    let ok = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
    assert_eq!(ok.status, 200);
    cli(&db, &["user", "disable", "alice"], &[], None).ok();
    let page = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
    assert_invalid_token(&page, "disabled user");
    cli(&db, &["user", "delete", "bob"], &[], None).ok();
    let page = userinfo_get(&server, Some(&bob_at)).await;
    assert_invalid_token(&page, "deleted user");
}

async fn scopes_decide_the_claims(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let browser = Browser::new(&server);
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let set = |k: &[&str]| -> BTreeSet<String> { k.iter().map(|s| s.to_string()).collect() };
    let profile = ["name", "given_name", "family_name", "preferred_username", "updated_at"];
    let email = ["email", "email_verified"];
    let phone = ["phone_number", "phone_number_verified"];

    for (scope, expected) in [
        ("openid", vec![]),
        ("openid email", email.to_vec()),
        ("openid phone", phone.to_vec()),
        ("openid profile", profile.to_vec()),
        ("openid profile email phone", [&profile[..], &email[..], &phone[..]].concat()),
    ] {
        let t = tokens_for(&server, &browser, &client, &alice, scope).await;
        let at = t["access_token"].as_str().unwrap();
        let page = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
        assert_eq!(page.status, 200, "{scope}: {}", page.describe());
        let info = page.json();
        let mut want = set(&expected);
        want.insert("sub".into());
        assert_eq!(keys(&info), want, "UserInfo for {scope:?}: {info}");
        assert_eq!(info["sub"], alice.id.as_str());
        if scope.contains("profile") {
            assert_eq!(info["preferred_username"], "alice");
            assert_eq!(info["given_name"], "Alice");
            assert!(info["updated_at"].is_i64(), "updated_at is a number: {info}");
        }
        if scope.contains("phone") {
            assert_eq!(info["phone_number"], "+15550100", "stored in E.164");
            assert_eq!(info["phone_number_verified"], false);
        }
        if scope.contains("email") {
            assert_eq!(info["email_verified"], true);
        }

        // The ID token carries the same scope-driven claims, and no others.
        let id = verify_jwt(&server, t["id_token"].as_str().unwrap()).await;
        for claim in profile.iter().chain(&email).chain(&phone) {
            assert_eq!(
                id.get(*claim).is_some(),
                expected.contains(claim),
                "ID token claim {claim} for scope {scope:?}: {id}"
            );
        }
    }
}

/// A local account's groups (set with the CLI) travel with the `groups`
/// scope in the ID token, the access token (RFC 9068 §2.2.3.1), UserInfo and
/// introspection, and nowhere without it.
async fn groups_reach_every_token_and_answer_only_with_their_scope(backend: Backend) {
    let Env { db, server, .. } = env(backend, &[]).await;
    let grace = create_user(&db, "grace", PASSWORD, &["--group", "staff", "--group", "admins"]);
    let client = create_client(&db, "Groups", &["--redirect-uri", CB, "--scope", "openid profile groups"]);
    let browser = Browser::new(&server);
    let want = serde_json::json!(["staff", "admins"]);
    let t = tokens_for(&server, &browser, &client, &grace, "openid groups").await;
    let at = t["access_token"].as_str().unwrap();
    assert_eq!(verify_jwt(&server, t["id_token"].as_str().unwrap()).await["groups"], want, "ID token");
    assert_eq!(verify_jwt(&server, at).await["groups"], want, "access token");
    assert_eq!(userinfo_get(&server, Some(&format!("Bearer {at}"))).await.json()["groups"], want, "UserInfo");
    assert_eq!(lifecycle::introspect_ok(&server, auth_of(&client), at).await["groups"], want, "introspection");

    let t = tokens_for(&server, &browser, &client, &grace, "openid profile").await;
    let at = t["access_token"].as_str().unwrap();
    assert!(verify_jwt(&server, t["id_token"].as_str().unwrap()).await.get("groups").is_none());
    assert!(verify_jwt(&server, at).await.get("groups").is_none());
    assert!(userinfo_get(&server, Some(&format!("Bearer {at}"))).await.json().get("groups").is_none());
    assert!(lifecycle::introspect_ok(&server, auth_of(&client), at).await.get("groups").is_none());
}

/// The `claims` parameter (§5.5) through the library: with only `openid`
/// asked as scope, the email reaches the ID token and the phone number
/// UserInfo, each where it was asked and nowhere else, after the person
/// consented to them.
async fn claims_parameter_through_openidconnect(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = create_client(&db, "Claims", &["--redirect-uri", CB, "--scope", "openid email phone"]);
    let metadata = discover(&server).await;
    assert_eq!(metadata.claims_parameter_supported(), Some(true));
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());
    let claims = serde_json::json!({
        "id_token": {"email": {"essential": true}, "email_verified": null},
        "userinfo": {"phone_number": null},
    });
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _, nonce) = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_extra_param("claims", claims.to_string())
        .set_pkce_challenge(challenge)
        .url();
    let browser = Browser::new(&server);
    let flow = browser.drive(browser.get(url.as_str()).await, Some(&alice), "allow").await;
    let tokens = rp
        .exchange_code(AuthorizationCode::new(flow.code()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("code exchange failed: {e:?}"));
    assert_eq!(tokens.scopes().map(|s| s.len()), Some(1), "the scope stays openid");
    let id_token = tokens.id_token().expect("an ID token");
    let id = id_token.claims(&rp.id_token_verifier(), &nonce).unwrap_or_else(|e| panic!("ID token rejected: {e:?}"));
    assert_eq!(id.email().map(|e| e.as_str()), Some("alice@example.com"));
    assert_eq!(id.email_verified(), Some(true));
    assert!(id.phone_number().is_none() && id.name().is_none(), "only what was asked");
    let info: CoreUserInfoClaims = rp
        .user_info(tokens.access_token().clone(), Some(id.subject().clone()))
        .unwrap()
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("UserInfo failed: {e:?}"));
    assert_eq!(info.phone_number().map(|p| p.as_str()), Some("+15550100"));
    assert!(info.email().is_none() && info.phone_number_verified().is_none(), "only what was asked");
}

/// With keys of every algorithm (`keys.algorithms`), a client that
/// registered `id_token_signed_response_alg` ES256, EdDSA or PS256 gets ID
/// tokens the library verifies from the discovered JWKS with that algorithm
/// only; the JWKS and discovery list each algorithm.
async fn id_tokens_of_every_algorithm_through_openidconnect(backend: Backend) {
    use openidconnect::core::CoreJwsSigningAlgorithm as Alg;
    let algorithms = [("LATCHKEY_KEYS_ALGORITHMS", "RS256,ES256,EdDSA,PS256")];
    let Env { db, server, alice } = env(backend, &algorithms).await;
    let browser = Browser::new(&server);
    for (name, alg) in [("ES256", Alg::EcdsaP256Sha256), ("EdDSA", Alg::EdDsa), ("PS256", Alg::RsaSsaPssSha256)] {
        // The CLI runs with the servers' configuration (keys.algorithms).
        let args = [
            "client",
            "create",
            "--name",
            name,
            "--redirect-uri",
            CB,
            "--id-token-signed-response-alg",
            name,
            "--json",
        ];
        let out = cli(&db, &args, &algorithms, None).ok().json();
        let client = TestClient {
            id: out["client_id"].as_str().expect("client_id").to_string(),
            secret: out["client_secret"].as_str().map(String::from),
        };
        let metadata = discover(&server).await;
        assert!(metadata.id_token_signing_alg_values_supported().contains(&alg), "{name}");
        let rp = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client.id.clone()),
            Some(ClientSecret::new(client.secret().to_string())),
        )
        .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());
        let (tokens, nonce, _, _) = run_flow(&server, &client, &alice, &browser, &["email"]).await;
        let id_token = tokens.id_token().expect("an ID token");
        assert_eq!(id_token.signing_alg().unwrap(), &alg, "{name}");
        let verifier = rp.id_token_verifier().set_allowed_algs(vec![alg.clone()]);
        let claims = id_token.claims(&verifier, &nonce).unwrap_or_else(|e| panic!("{name}: ID token rejected: {e:?}"));
        assert_eq!(claims.email().map(|e| e.as_str()), Some("alice@example.com"));
        // at_hash is computed with the ID token's algorithm's hash.
        let expected = claims.access_token_hash().expect("at_hash");
        let actual =
            AccessTokenHash::from_token(tokens.access_token(), &alg, id_token.signing_key(&verifier).unwrap()).unwrap();
        assert_eq!(&actual, expected, "{name}");
        // RS256 only: the library refuses it, as an app that pinned RS256 would.
        let rs256_only = rp.id_token_verifier().set_allowed_algs(vec![Alg::RsaSsaPkcs1V15Sha256]);
        assert!(id_token.claims(&rs256_only, &nonce).is_err(), "{name}");
    }
}

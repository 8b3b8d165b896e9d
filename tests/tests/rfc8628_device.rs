//! The device authorization grant (RFC 8628; docs/device-and-exchange.md)
//! over real HTTP on every backend. The device is the `openidconnect`
//! crate's client (it polls, honouring `interval` and `slow_down`); the
//! person is the test browser at /device, signing in and approving with
//! real form posts while the device polls.

mod common;

use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;
use openidconnect::core::{CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata};
use openidconnect::{ClientId, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse};

on_both_backends!(a_device_signs_a_person_in_once, an_unused_device_code_expires);

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A public client (a TV app) for the device grant.
fn tv(db: &TestDb) -> TestClient {
    create_client(
        db,
        "Living Room TV",
        &[
            "--public",
            "--grant-type",
            DEVICE_GRANT,
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid profile offline_access",
        ],
    )
}

fn device_poll(client: &TestClient, device_code: &str) -> Params {
    Params::new().set("grant_type", DEVICE_GRANT).set("device_code", device_code).set("client_id", &client.id)
}

/// A device code straight from the endpoint (no library), for the checks
/// that need the raw values.
async fn new_device_code(server: &Server, client: &TestClient) -> (String, String) {
    let form = Params::new().set("scope", "openid profile offline_access");
    let res = post_with_auth(server, "/device_authorization", Auth::None(&client.id), &form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let body = res.json();
    (body["device_code"].as_str().unwrap().to_string(), body["user_code"].as_str().unwrap().to_string())
}

/// Enters `user_code` on the /device form, as typed.
async fn enter(browser: &Browser, server: &Server, user_code: &str) -> Page {
    let page = browser.get(&server.url("/device")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let form = Params::new().set("csrf", &page.input("csrf").expect("csrf")).set("user_code", user_code);
    browser.post_form("/device", &form).await
}

/// Answers the device's consent page with `decision` (its own form action).
async fn decide(browser: &Browser, page: &Page, decision: &str) -> Page {
    assert!(page.is_consent(), "not the consent page: {}", page.describe());
    assert_eq!(form_action(&page.body).as_deref().map(|a| a.ends_with("/device/consent")), Some(true));
    let form = Params::new()
        .set("interaction", &page.input("interaction").unwrap())
        .set("csrf", &page.input("csrf").unwrap())
        .set("decision", decision);
    browser.post_form("/device/consent", &form).await
}

async fn a_device_signs_a_person_in_once(backend: Backend) {
    let Env { db, server, alice } =
        env(backend, &[("LATCHKEY_DEVICE_INTERVAL_SECONDS", "1"), ("LATCHKEY_DEVICE_USER_CODE_MAX_FAILURES", "3")])
            .await;
    let client = tv(&db);
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &rp_http())
        .await
        .unwrap_or_else(|e| panic!("discovery failed: {e:?}"));
    let discovery = http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap();
    let discovery: serde_json::Value = discovery.json().await.unwrap();
    let endpoint = discovery["device_authorization_endpoint"].as_str().expect("advertised").to_string();
    assert!(discovery["grant_types_supported"].as_array().unwrap().iter().any(|g| g == DEVICE_GRANT));
    let rp = CoreClient::from_provider_metadata(metadata, ClientId::new(client.id.clone()), None)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(endpoint).unwrap());

    // The device asks; the person goes to verification_uri_complete.
    let details: CoreDeviceAuthorizationResponse = rp
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .request_async(&rp_http())
        .await
        .unwrap_or_else(|e| panic!("device authorization failed: {e:?}"));
    let user_code = details.user_code().secret().clone();
    assert_eq!(details.verification_uri().as_str(), server.url("/device"));
    let complete = details.verification_uri_complete().expect("verification_uri_complete").secret().clone();

    let browser = Browser::new(&server);
    let person = async {
        let page = browser.get(&complete).await;
        assert_page_headers(&page, "the /device page");
        assert_eq!(page.input("user_code").as_deref(), Some(user_code.as_str()), "pre-filled");
        let form = Params::new().set("csrf", &page.input("csrf").unwrap()).set("user_code", &user_code);
        let login = browser.post_form("/device", &form).await;
        let consent = browser.login(&login, &alice.username, &alice.password).await;
        assert_page_headers(&consent, "the device's consent page");
        assert!(consent.body.contains(&user_code), "the code is shown: {}", consent.describe());
        assert!(consent.body.contains("Continue only if you started this yourself"), "{}", consent.describe());
        assert!(consent.body.contains("Living Room TV"));
        let done = decide(&browser, &consent, "allow").await;
        assert_eq!(done.status, 200, "{}", done.describe());
        assert!(done.body.contains("You can return to your device"), "{}", done.describe());
    };
    // The device polls meanwhile, as the library does it.
    let device = async {
        rp.exchange_device_access_token(&details)
            .unwrap()
            .request_async(&rp_http(), tokio::time::sleep, Some(Duration::from_secs(60)))
            .await
            .unwrap_or_else(|e| panic!("polling failed: {e:?}"))
    };
    let ((), tokens) = tokio::join!(person, device);

    // The ID token, validated by the library (signature from the JWKS, iss,
    // aud, exp), with the sign-in's amr and acr.
    let id_token = tokens.id_token().expect("an ID token");
    let claims = id_token
        .claims(&rp.id_token_verifier(), |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(n) => Err(format!("unexpected nonce {}", n.secret())),
        })
        .unwrap_or_else(|e| panic!("ID token rejected: {e:?}"));
    assert_eq!(claims.subject().as_str(), alice.id);
    assert_eq!(claims.audiences().iter().map(|a| a.as_str()).collect::<Vec<_>>(), vec![client.id.as_str()]);
    let amr: Vec<&str> = claims.auth_method_refs().expect("amr").iter().map(|m| m.as_str()).collect();
    assert!(amr.contains(&"pwd"), "{amr:?}");
    assert!(claims.auth_context_ref().is_some(), "acr");
    let userinfo =
        http().get(server.url("/userinfo")).bearer_auth(tokens.access_token().secret()).send().await.unwrap();
    assert_eq!(userinfo.status(), 200);
    let refresh = tokens.refresh_token().expect("offline_access gives a refresh token").secret().clone();
    let rotated = token(
        &server,
        Auth::None(&client.id),
        &Params::new().set("grant_type", "refresh_token").set("refresh_token", &refresh),
    )
    .await;
    assert_eq!(rotated.status, 200, "the family refreshes: {}", rotated.describe());
    let rotated = rotated.json()["refresh_token"].as_str().unwrap().to_string();

    // The device code again: refused, and what it got is revoked.
    let device_code = details.device_code().secret().clone();
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut replay = token(&server, Auth::Nothing, &device_poll(&client, &device_code)).await;
    for _ in 0..3 {
        if replay.json()["error"] != "slow_down" {
            break;
        }
        tokio::time::sleep(Duration::from_secs(6)).await;
        replay = token(&server, Auth::Nothing, &device_poll(&client, &device_code)).await;
    }
    assert_eq!(
        (replay.status.as_u16(), replay.json()["error"].clone()),
        (400, "invalid_grant".into()),
        "{}",
        replay.describe()
    );
    let after = token(
        &server,
        Auth::None(&client.id),
        &Params::new().set("grant_type", "refresh_token").set("refresh_token", &rotated),
    )
    .await;
    assert_eq!(after.json()["error"], "invalid_grant", "the replay revoked the family: {}", after.describe());

    // slow_down: a second poll at once.
    let (fast, _) = new_device_code(&server, &client).await;
    let first = token(&server, Auth::Nothing, &device_poll(&client, &fast)).await;
    assert_eq!(first.json()["error"], "authorization_pending", "{}", first.describe());
    // Polls are timed in whole seconds and the interval here is 1 s: a poll
    // right after another may fall into the next second, and is then on time.
    // The one after it cannot also cross a second.
    let mut slowed = false;
    for _ in 0..2 {
        let again = token(&server, Auth::Nothing, &device_poll(&client, &fast)).await;
        if again.json()["error"] == "slow_down" {
            slowed = true;
            break;
        }
        assert_eq!(again.json()["error"], "authorization_pending", "{}", again.describe());
    }
    assert!(slowed, "a poll sooner than the interval is told slow_down");

    // Denied: the person (signed in already) says no.
    let (refused, refused_user_code) = new_device_code(&server, &client).await;
    let consent = enter(&browser, &server, &refused_user_code).await;
    let done = decide(&browser, &consent, "deny").await;
    assert!(done.body.contains("You can return to your device"), "{}", done.describe());
    let denied = token(&server, Auth::Nothing, &device_poll(&client, &refused)).await;
    assert_eq!(
        (denied.status.as_u16(), denied.json()["error"].clone()),
        (400, "access_denied".into()),
        "{}",
        denied.describe()
    );

    // 20 polls at once after approval: one token response.
    let (raced, raced_user_code) = new_device_code(&server, &client).await;
    let consent = enter(&browser, &server, &raced_user_code.to_lowercase().replace('-', "")).await;
    assert_eq!(decide(&browser, &consent, "allow").await.status, 200);
    let body = device_poll(&client, &raced).encode();
    let results = concurrent_token_requests(&server, "", &body, 20).await;
    let won: Vec<_> = results.iter().filter(|(s, _)| *s == 200).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert!(won[0].1["access_token"].is_string() && won[0].1["id_token"].is_string());
    for (status, body) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(*status, 400, "{body}");
        assert!(body["error"] == "slow_down" || body["error"] == "invalid_grant", "{body}");
    }

    // Wrong user codes: the person who mistypes twice gets in; the third
    // wrong code (the limit is 3 here) refuses the address, even a right code.
    let (_, user_code) = new_device_code(&server, &client).await;
    let stranger = Browser::new(&server);
    for wrong in ["BCDF-GHJK", "ZZZZ-ZZZZ"] {
        let res = enter(&stranger, &server, wrong).await;
        assert_eq!(res.status, 400, "{}", res.describe());
        assert!(res.body.contains("That code is not valid"), "{}", res.describe());
    }
    assert!(enter(&stranger, &server, &user_code).await.is_login(), "the rightful person gets in");
    let res = enter(&stranger, &server, "XXXX-XXXX").await;
    assert_eq!(res.status, 429, "{}", res.describe());
    assert!(res.header("retry-after").is_some());
    let res = enter(&stranger, &server, &user_code).await;
    assert_eq!(res.status, 429, "refused until the count ends: {}", res.describe());
}

async fn an_unused_device_code_expires(backend: Backend) {
    let Env { db, server, .. } = env(backend, &[("LATCHKEY_DEVICE_CODE_TTL_SECONDS", "10")]).await;
    let client = tv(&db);
    let (device_code, user_code) = new_device_code(&server, &client).await;
    tokio::time::sleep(Duration::from_millis(10_500)).await;
    let res = token(&server, Auth::Nothing, &device_poll(&client, &device_code)).await;
    assert_eq!((res.status.as_u16(), res.json()["error"].clone()), (400, "expired_token".into()), "{}", res.describe());
    let res = enter(&Browser::new(&server), &server, &user_code).await;
    assert_eq!(res.status, 400, "an expired code is not accepted: {}", res.describe());
}

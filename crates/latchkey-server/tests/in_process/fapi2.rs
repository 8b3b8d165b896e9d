//! The FAPI 2.0 Security Profile, per client (`--fapi2`) and as the server's
//! default for new clients: what registration refuses, and each rule of a
//! request — pushed requests with a redirect URI, PKCE, `private_key_jwt`
//! with the issuer as the only audience, DPoP proofs in PS256/ES256/EdDSA,
//! a code that lives a minute at most — refused on one side and met on the
//! other, up to an ES256 ID token. docs/advanced-protocols.md, "FAPI 2.0" lists the requirements.

use latchkey_server::testing::{ISSUER, TestApp, TestClient, TestResponse};
use serde_json::{Value, json};

use crate::common::*;

const ENV: [(&str, &str); 2] =
    [("LATCHKEY_KEYS_ALGORITHMS", "RS256,ES256"), ("LATCHKEY_TOKENS_CODE_TTL_SECONDS", "300")];
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's key (ES256) in a JWKS file; the file's path.
fn jwks_file(key: &Key) -> std::path::PathBuf {
    let mut public = key.public.clone();
    public["kid"] = "k1".into();
    let file = std::env::temp_dir().join(format!("latchkey-fapi-{}.json", latchkey_core::random::token(8)));
    std::fs::write(&file, json!({"keys": [public]}).to_string()).unwrap();
    file
}

/// The arguments of a client that meets the profile, with `extra`.
fn fapi_args<'a>(jwks: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--redirect-uri",
        CB,
        "--auth-method",
        "private_key_jwt",
        "--jwks-file",
        jwks,
        "--signing-alg",
        "ES256",
        "--id-token-signed-response-alg",
        "ES256",
        "--grant-type",
        "authorization_code",
        "--fapi2",
    ];
    args.extend_from_slice(extra);
    args
}

/// A client assertion (RFC 7523) for `client`, signed with `key`, for `aud`.
fn assertion(app: &TestApp, client: &str, key: &Key, aud: &str) -> String {
    let now = app.clock_now();
    let header = json!({"alg": "ES256", "kid": "k1", "typ": "JWT"});
    let claims = json!({"iss": client, "sub": client, "aud": aud, "exp": now + 60, "iat": now,
        "jti": latchkey_core::random::token(12)});
    key.sign(&header, &claims)
}

/// `POST /par` with an assertion for `aud` and a DPoP proof by `dpop`.
async fn push(app: &TestApp, client: &str, key: &Key, dpop: &Key, aud: &str, params: &Params) -> TestResponse {
    let client_assertion = assertion(app, client, key, aud);
    let mut form = params.clone().without("client_id");
    form = form.set("client_assertion", &client_assertion).set("client_assertion_type", ASSERTION_TYPE);
    app.post("/par").header("DPoP", &dpop.proof(app, "POST", "/par", json!({}))).form(&form.pairs()).await
}

/// `POST /token` redeeming `code`, with a DPoP proof by `dpop` if given.
async fn redeem(app: &TestApp, client: &str, key: &Key, dpop: Option<&Key>, code: &str, p: &Pkce) -> TestResponse {
    let client_assertion = assertion(app, client, key, ISSUER);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
        ("client_assertion", client_assertion.as_str()),
        ("client_assertion_type", ASSERTION_TYPE),
    ];
    let mut req = app.post("/token");
    if let Some(dpop) = dpop {
        req = req.header("DPoP", &dpop.proof(app, "POST", "/token", json!({})));
    }
    req.form(&form).await
}

fn payload(jwt: &str) -> (Value, Value) {
    use base64::Engine as _;
    let part = |i: usize| {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(i).unwrap()).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    };
    (part(0), part(1))
}

#[tokio::test]
async fn registration_refuses_what_the_profile_forbids() {
    let app = TestApp::with_env(&ENV).await;
    let key = Key::es256();
    let file = jwks_file(&key);
    let jwks = file.to_str().unwrap();
    let good = fapi_args(jwks, &[]);
    let without = |flag: &str, takes_value: bool| -> Vec<&str> {
        let at = good.iter().position(|a| *a == flag).unwrap();
        let mut args = good.clone();
        args.drain(at..at + if takes_value { 2 } else { 1 });
        args
    };
    let mut rs256_id = good.clone();
    let at = rs256_id.iter().position(|a| *a == "--id-token-signed-response-alg").unwrap();
    rs256_id[at + 1] = "RS256";
    let mut rs256_assertion = good.clone();
    let at = rs256_assertion.iter().position(|a| *a == "--signing-alg").unwrap();
    rs256_assertion[at + 1] = "RS256";
    let secret_basic = vec!["--redirect-uri", CB, "--id-token-signed-response-alg", "ES256", "--fapi2"];
    let device = [&good[..], &["--grant-type", "urn:ietf:params:oauth:grant-type:device_code"]].concat();
    for (args, needle) in [
        (secret_basic, "token_endpoint_auth_method must be private_key_jwt"),
        (without("--signing-alg", true), "token_endpoint_auth_signing_alg must be PS256, ES256 or EdDSA"),
        (rs256_assertion, "token_endpoint_auth_signing_alg must be PS256, ES256 or EdDSA"),
        (without("--id-token-signed-response-alg", true), "id_token_signed_response_alg must be named"),
        (rs256_id, "id_token_signed_response_alg must be PS256, ES256 or EdDSA, not RS256"),
        (device, "grant type urn:ietf:params:oauth:grant-type:device_code is not allowed"),
    ] {
        let mut all = vec!["client", "create", "--name", "Bank"];
        all.extend_from_slice(&args);
        let out = app.cli(&all).await;
        assert!(!out.ok && out.error.contains(needle), "{needle}: {}", out.error);
    }
    let client = app.create_client("Bank", &good).await;
    let shown = app.cli_json(&["client", "show", &client.id]).await;
    assert_eq!(shown["fapi2_security_profile"], true, "{shown}");
    // The profile off again by the operator: RS256 ID tokens allowed again.
    let out =
        app.cli(&["client", "update", &client.id, "--fapi2", "false", "--id-token-signed-response-alg", "RS256"]).await;
    assert!(out.ok, "{}", out.error);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn each_request_rule_is_enforced_and_a_conforming_flow_gets_es256_tokens() {
    let app = TestApp::with_env(&ENV).await;
    let (key, dpop) = (Key::es256(), Key::es256());
    let file = jwks_file(&key);
    let client: TestClient = app.create_client("Bank", &fapi_args(file.to_str().unwrap(), &[])).await;
    let id = client.id.as_str();
    let alice = alice(&app).await;
    let browser = app.browser();
    let p = pkce();
    let request = code_request(id, &p);

    // Not pushed: refused at /authorize.
    let res = authorize(&browser, &request).await;
    assert_eq!(one(&res.location_params(), "error"), "invalid_request", "{}", res.describe());
    // Pushed, but the assertion's audience is the PAR endpoint (only the issuer is taken).
    let res = push(&app, id, &key, &dpop, &format!("{ISSUER}/par"), &request).await;
    assert_oauth_error(&res, 401, "invalid_client", "aud not the issuer");
    // Without a redirect URI, or without PKCE.
    let res = push(&app, id, &key, &dpop, ISSUER, &request.clone().without("redirect_uri")).await;
    assert_oauth_error(&res, 400, "invalid_request", "no redirect_uri");
    let no_pkce = request.clone().without("code_challenge").without("code_challenge_method");
    let res = push(&app, id, &key, &dpop, ISSUER, &no_pkce).await;
    assert_oauth_error(&res, 400, "invalid_request", "no PKCE");

    // A conforming request: pushed, PKCE, DPoP at /par binds the code.
    let res = push(&app, id, &key, &dpop, ISSUER, &request).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let uri = res.json()["request_uri"].as_str().unwrap().to_string();
    let code = code_for(&browser, &alice, &Params::default().set("client_id", id).set("request_uri", &uri)).await;
    // The token request needs a proof, by the bound key, in an allowed algorithm.
    assert_oauth_error(&redeem(&app, id, &key, None, &code, &p).await, 400, "invalid_dpop_proof", "no proof");
    let rsa = josekit::jws::RS256.generate_key_pair(2048).unwrap();
    let rs256 = Key::of(rsa.to_jwk_private_key(), rsa.to_jwk_public_key(), "RS256");
    assert_oauth_error(&redeem(&app, id, &key, Some(&rs256), &code, &p).await, 400, "invalid_dpop_proof", "RS256");
    let res = redeem(&app, id, &key, Some(&dpop), &code, &p).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let tokens = res.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let (header, claims) = payload(tokens["id_token"].as_str().unwrap());
    assert_eq!(header["alg"], "ES256");
    assert_eq!(claims["aud"], id);
    assert_eq!(payload(tokens["access_token"].as_str().unwrap()).1["cnf"]["jkt"], dpop.jkt());

    // A code lives a minute at most for this client (tokens.code_ttl_seconds is 300 here).
    for (wait, ok) in [(59, true), (61, false)] {
        let p = pkce();
        let res = push(&app, id, &key, &dpop, ISSUER, &code_request(id, &p)).await;
        let uri = res.json()["request_uri"].as_str().unwrap().to_string();
        let code = code_for(&browser, &alice, &Params::default().set("client_id", id).set("request_uri", &uri)).await;
        app.clock.advance(wait);
        let res = redeem(&app, id, &key, Some(&dpop), &code, &p).await;
        if ok {
            assert_eq!(res.status, 200, "{wait} s: {}", res.describe());
        } else {
            assert_oauth_error(&res, 400, "invalid_grant", "a code 61 s old");
        }
    }
    // Another client keeps the configured lifetime.
    let plain = confidential(&app).await;
    let p = pkce();
    let code = code_for(&browser, &alice, &code_request(&plain.id, &p)).await;
    app.clock.advance(61);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    assert_eq!(token(&app, &plain, &form).await.status, 200);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn the_server_default_holds_new_clients_to_the_profile() {
    let env = [&ENV[..], &[("LATCHKEY_FAPI2_DEFAULT_FOR_NEW_CLIENTS", "true"), ("LATCHKEY_REGISTRATION_MODE", "open")]]
        .concat();
    let app = TestApp::with_env(&env).await;
    let res = app.post("/register").json(&json!({"redirect_uris": [CB]})).await;
    assert_eq!(res.json()["error"], "invalid_client_metadata", "{}", res.describe());
    assert!(res.json()["error_description"].as_str().unwrap().contains("private_key_jwt"));
    let res = app.post("/register").json(&json!({"redirect_uris": [CB], "fapi2_security_profile": false})).await;
    assert_eq!(res.json()["error"], "invalid_client_metadata", "a self-registered client cannot opt out");
    let key = Key::es256();
    let mut public = key.public.clone();
    public["kid"] = "k1".into();
    let res = app
        .post("/register")
        .json(&json!({"redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256", "id_token_signed_response_alg": "ES256",
            "jwks": {"keys": [public]}}))
        .await;
    assert_eq!(res.status, 201, "{}", res.describe());
    assert_eq!(res.json()["fapi2_security_profile"], true);
    // The operator may make an exception.
    let out = app.cli(&["client", "create", "--name", "Legacy", "--redirect-uri", CB, "--fapi2", "false"]).await;
    assert!(out.ok, "{}", out.error);
}

#[tokio::test]
async fn a_lost_refresh_answer_can_be_retried_for_a_minute() {
    let app = TestApp::with_env(&ENV).await;
    let (key, dpop) = (Key::es256(), Key::es256());
    let file = jwks_file(&key);
    let jwks = file.to_str().unwrap();
    let client = app.create_client("Bank", &fapi_args(jwks, &["--grant-type", "refresh_token"])).await;
    let id = client.id.as_str();
    let alice = alice(&app).await;
    let p = pkce();
    let res = push(&app, id, &key, &dpop, ISSUER, &code_request(id, &p).set("scope", "openid offline_access")).await;
    let uri = res.json()["request_uri"].as_str().unwrap().to_string();
    let code = code_for(&app.browser(), &alice, &Params::default().set("client_id", id).set("request_uri", &uri)).await;
    let res = redeem(&app, id, &key, Some(&dpop), &code, &p).await;
    let refresh = res.json()["refresh_token"].as_str().expect("a refresh token").to_string();
    let use_it = || {
        let form = [
            ("grant_type", "refresh_token".to_string()),
            ("refresh_token", refresh.clone()),
            ("client_assertion", assertion(&app, id, &key, ISSUER)),
            ("client_assertion_type", ASSERTION_TYPE.to_string()),
        ];
        let proof = dpop.proof(&app, "POST", "/token", json!({}));
        let app = &app;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.post("/token").header("DPoP", &proof).form(&form).await
        }
    };
    let first = use_it().await;
    assert_eq!(first.status, 200, "{}", first.describe());
    // The answer was lost: the same token again within the minute gets the same successor.
    app.clock.advance(30);
    let retry = use_it().await;
    assert_eq!(retry.status, 200, "{}", retry.describe());
    assert_eq!(retry.json()["refresh_token"], first.json()["refresh_token"]);
    // After the minute it is a replay.
    app.clock.advance(31);
    assert_oauth_error(&use_it().await, 400, "invalid_grant", "a replay after the minute");
    std::fs::remove_file(file).unwrap();
}

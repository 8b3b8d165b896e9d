//! DPoP (RFC 9449): every refusal of a proof at the token endpoint and at
//! UserInfo, the limits of `iat` on both sides with the clock moved, the
//! binding of codes (`dpop_jkt`), access tokens (`cnf.jkt`) and public
//! clients' refresh tokens, `dpop_bound_access_tokens`, and server nonces.
//! The flow across backends and replicas, with proofs made by panva's
//! `jose`, is tested end to end (tests/tests/rfc9449_dpop.rs).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use josekit::jws::EdDSA;
use latchkey_server::testing::{ISSUER, TestApp, TestClient, TestResponse};
use serde_json::{Value, json};

use crate::common::*;

/// `ath` of `token`, computed here.
fn ath(token: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(token.as_bytes()))
}

fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// A client_credentials token request with `proofs` as DPoP headers.
async fn client_token(app: &TestApp, client: &TestClient, proofs: &[&str]) -> TestResponse {
    let mut req = app.post("/token").basic(&client.id, client.secret());
    for p in proofs {
        req = req.header("DPoP", p);
    }
    req.form(&[("grant_type", "client_credentials")]).await
}

async fn service(app: &TestApp) -> TestClient {
    app.create_client("Service", &["--grant-type", "client_credentials", "--introspection", "true"]).await
}

/// A client for the code flow with refresh tokens; public or confidential.
async fn offline(app: &TestApp, public: bool) -> TestClient {
    let mut args = vec!["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"];
    if public {
        args.push("--public");
    }
    app.create_client("Offline", &args).await
}

fn assert_proof_refused(res: &TestResponse, what: &str) {
    assert_oauth_error(res, 400, "invalid_dpop_proof", what);
}

#[tokio::test]
async fn proofs_are_checked_at_the_token_endpoint() {
    let app = TestApp::start().await;
    let client = service(&app).await;
    let key = Key::es256();
    let now = app.clock_now();

    // The good proof, and the edges of the iat window (120 s by default) on both sides.
    for (extra, what) in [
        (json!({}), "a fresh proof"),
        (json!({"iat": now - 120}), "120 s old"),
        (json!({"iat": now + 120}), "120 s ahead (a fast clock)"),
        (json!({"htu": format!("{ISSUER}/token?x=1#frag")}), "htu with query and fragment"),
        (json!({"htu": "HTTP://LOCALHOST:8080/token"}), "htu in another case"),
    ] {
        let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", extra)]).await;
        assert_eq!(res.status, 200, "{what}: {}", res.describe());
        let body = res.json();
        assert_eq!(body["token_type"], "DPoP", "{what}");
        assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt(), "{what}");
    }

    let other = Key::es256();
    let proof = key.proof(&app, "POST", "/token", json!({}));
    let mut private_header = key.header();
    private_header["jwk"] = serde_json::to_value(key.private.as_ref()).unwrap();
    let claims = |extra: Value| {
        let mut c = json!({"jti": latchkey_core::random::token(12), "htm": "POST", "htu": format!("{ISSUER}/token"), "iat": now});
        for (k, v) in extra.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let header_with = |k: &str, v: Value| {
        let mut h = key.header();
        h[k] = v;
        h
    };
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string().as_bytes());
    let unsigned = format!("{}.{}.", b64(&header_with("alg", json!("none"))), b64(&claims(json!({}))));
    let hs256 = {
        use hmac::{Mac, SimpleHmac};
        let input = format!("{}.{}", b64(&header_with("alg", json!("HS256"))), b64(&claims(json!({}))));
        let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(&[7u8; 32]).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
    };
    let cases: Vec<(String, &str)> = vec![
        (key.proof(&app, "GET", "/token", json!({})), "wrong htm"),
        (key.proof(&app, "POST", "/userinfo", json!({})), "wrong htu (another endpoint)"),
        (key.proof(&app, "POST", "/token", json!({"htu": "https://evil.example/token"})), "wrong htu (another host)"),
        (key.proof(&app, "POST", "/token", json!({"htu": "http://localhost:8080/token/"})), "wrong htu (a slash)"),
        (key.proof(&app, "POST", "/token", json!({"iat": now - 121})), "iat too old"),
        (key.proof(&app, "POST", "/token", json!({"iat": now + 121})), "iat in the future"),
        (key.proof(&app, "POST", "/token", json!({"iat": "now"})), "iat not a number"),
        (key.sign(&key.header(), &json!({"htm": "POST", "htu": format!("{ISSUER}/token"), "iat": now})), "no jti"),
        (key.sign(&header_with("typ", json!("JWT")), &claims(json!({}))), "typ JWT"),
        (key.sign(&private_header, &claims(json!({}))), "a private key in jwk"),
        (key.sign(&header_with("jwk", other.public.clone()), &claims(json!({}))), "signed by another key"),
        (key.sign(&header_with("alg", json!("RS256")), &claims(json!({}))), "alg not the key's"),
        (key.sign(&header_with("crit", json!(["exp"])), &claims(json!({}))), "crit"),
        (key.sign(&json!({"typ": "dpop+jwt", "alg": "ES256"}), &claims(json!({}))), "no jwk"),
        (unsigned, "alg none"),
        (hs256, "HS256"),
        ("not.a.jwt".into(), "garbage"),
    ];
    for (proof, what) in &cases {
        assert_proof_refused(&client_token(&app, &client, &[proof]).await, what);
    }

    // Single use: the same proof again, and two proofs at once.
    assert_eq!(client_token(&app, &client, &[&proof]).await.status, 200);
    assert_proof_refused(&client_token(&app, &client, &[&proof]).await, "a replayed jti");
    let (a, b) = (key.proof(&app, "POST", "/token", json!({})), key.proof(&app, "POST", "/token", json!({})));
    assert_proof_refused(&client_token(&app, &client, &[&a, &b]).await, "two DPoP headers");

    // Every advertised algorithm works.
    let rsa = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
    let ed = EdDSA.generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519).unwrap();
    for key in [
        Key::of(rsa.to_jwk_private_key(), rsa.to_jwk_public_key(), "RS256"),
        Key::of(rsa.to_jwk_private_key(), rsa.to_jwk_public_key(), "PS256"),
        Key::of(ed.to_jwk_private_key(), ed.to_jwk_public_key(), "EdDSA"),
    ] {
        let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({}))]).await;
        assert_eq!(res.status, 200, "{}: {}", key.alg, res.describe());
        assert_eq!(claims_of(res.json()["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
    }
    let meta = app.get("/.well-known/openid-configuration").send().await.json();
    assert_eq!(meta["dpop_signing_alg_values_supported"], json!(["ES256", "RS256", "PS256", "EdDSA"]));

    // Without a proof: a bearer token, as before.
    let res = client_token(&app, &client, &[]).await;
    assert_eq!(res.json()["token_type"], "Bearer", "{}", res.describe());
    assert!(claims_of(res.json()["access_token"].as_str().unwrap()).get("cnf").is_none());
}

#[tokio::test]
async fn introspection_answers_the_binding() {
    let app = TestApp::start().await;
    let client = service(&app).await;
    let key = Key::es256();
    let bound = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({}))]).await.json();
    let plain = client_token(&app, &client, &[]).await.json();
    let introspect = |token: String| {
        let app = &app;
        let client = &client;
        async move {
            app.post("/introspect").basic(&client.id, client.secret()).form(&[("token", token.as_str())]).await.json()
        }
    };
    let answer = introspect(bound["access_token"].as_str().unwrap().into()).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    assert_eq!(answer["cnf"], json!({"jkt": key.jkt()}), "{answer}");
    let answer = introspect(plain["access_token"].as_str().unwrap().into()).await;
    assert_eq!(answer["token_type"], "Bearer", "{answer}");
    assert!(answer.get("cnf").is_none(), "{answer}");
}

/// The code flow of a public client with DPoP at the token endpoint.
async fn dpop_code_flow(app: &TestApp, client: &TestClient, key: &Key, params: Params) -> TestResponse {
    let p = pkce();
    let browser = app.browser();
    let alice = app.create_user(&format!("u{}", latchkey_core::random::token(6).to_lowercase()), PASSWORD, &[]).await;
    let params = params.set("client_id", &client.id).set("code_challenge", &p.challenge);
    let mut request = code_request(&client.id, &p).set("scope", "openid offline_access");
    for (k, v) in params.0 {
        request = request.set(&k, &v);
    }
    let code = code_for(&browser, &alice, &request).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", client.id.as_str()),
    ];
    app.post("/token").header("DPoP", &key.proof(app, "POST", "/token", json!({}))).form(&form).await
}

async fn userinfo(app: &TestApp, scheme: &str, token: &str, proof: Option<&str>) -> TestResponse {
    let mut req = app.get("/userinfo").header("Authorization", &format!("{scheme} {token}"));
    if let Some(p) = proof {
        req = req.header("DPoP", p);
    }
    req.send().await
}

fn assert_challenge(res: &TestResponse, error: &str, what: &str) {
    assert_eq!(res.status, 401, "{what}: {}", res.describe());
    let challenge = res.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("DPoP "), "{what}: {challenge}");
    assert!(challenge.contains(&format!("error=\"{error}\"")), "{what}: {challenge}");
    assert!(challenge.contains("algs=\"ES256 RS256 PS256 EdDSA\""), "{what}: {challenge}");
}

#[tokio::test]
async fn userinfo_takes_a_bound_token_only_with_a_proof_by_its_key() {
    let app = TestApp::start().await;
    let client = offline(&app, true).await;
    let key = Key::es256();
    let res = dpop_code_flow(&app, &client, &key, Params::default()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let body = res.json();
    assert_eq!(body["token_type"], "DPoP");
    let at = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims_of(&at)["cnf"]["jkt"], key.jkt());

    let ok = userinfo(&app, "DPoP", &at, Some(&key.proof(&app, "GET", "/userinfo", json!({"ath": ath(&at)})))).await;
    assert_eq!(ok.status, 200, "{}", ok.describe());
    assert_eq!(ok.json()["sub"], claims_of(&at)["sub"]);
    // POST too, with its own method in the proof.
    let res = app
        .post("/userinfo")
        .header("Authorization", &format!("DPoP {at}"))
        .header("DPoP", &key.proof(&app, "POST", "/userinfo", json!({"ath": ath(&at)})))
        .form(&[])
        .await;
    assert_eq!(res.status, 200, "{}", res.describe());

    let other = Key::es256();
    let cases = [
        (userinfo(&app, "Bearer", &at, None).await, "invalid_token", "a bound token as Bearer"),
        (
            userinfo(&app, "Bearer", &at, Some(&key.proof(&app, "GET", "/userinfo", json!({"ath": ath(&at)})))).await,
            "invalid_token",
            "as Bearer even with a proof",
        ),
        (userinfo(&app, "DPoP", &at, None).await, "invalid_dpop_proof", "DPoP without a proof"),
        (
            userinfo(&app, "DPoP", &at, Some(&key.proof(&app, "GET", "/userinfo", json!({})))).await,
            "invalid_dpop_proof",
            "no ath",
        ),
        (
            userinfo(&app, "DPoP", &at, Some(&key.proof(&app, "GET", "/userinfo", json!({"ath": ath("other")})))).await,
            "invalid_dpop_proof",
            "wrong ath",
        ),
        (
            userinfo(&app, "DPoP", &at, Some(&other.proof(&app, "GET", "/userinfo", json!({"ath": ath(&at)})))).await,
            "invalid_dpop_proof",
            "a proof by another key",
        ),
        (
            userinfo(&app, "DPoP", &at, Some(&key.proof(&app, "POST", "/userinfo", json!({"ath": ath(&at)})))).await,
            "invalid_dpop_proof",
            "wrong htm",
        ),
        (
            userinfo(&app, "DPoP", &at, Some(&key.proof(&app, "GET", "/token", json!({"ath": ath(&at)})))).await,
            "invalid_dpop_proof",
            "wrong htu",
        ),
        (
            userinfo(&app, "DPoP", "not-a-token", Some(&key.proof(&app, "GET", "/userinfo", json!({})))).await,
            "invalid_token",
            "an invalid token with the DPoP scheme",
        ),
    ];
    for (res, error, what) in &cases {
        assert_challenge(res, error, what);
    }
    // A bound token in a POST body is a bearer token.
    let res = app.post("/userinfo").form(&[("access_token", at.as_str())]).await;
    assert_challenge(&res, "invalid_token", "a bound token in the body");
    // A bearer token sent with the DPoP scheme is refused.
    let svc = service(&app).await;
    let plain = client_token(&app, &svc, &[]).await.json()["access_token"].as_str().unwrap().to_string();
    let res =
        userinfo(&app, "DPoP", &plain, Some(&key.proof(&app, "GET", "/userinfo", json!({"ath": ath(&plain)})))).await;
    assert_challenge(&res, "invalid_token", "an unbound token with the DPoP scheme");
    // No token at all: both schemes are offered.
    let res = app.get("/userinfo").send().await;
    assert_eq!(res.status, 401);
    assert_eq!(res.headers.get_all("www-authenticate").iter().count(), 2, "{}", res.describe());
}

#[tokio::test]
async fn public_clients_refresh_tokens_are_bound_to_the_key() {
    let app = TestApp::start().await;
    let client = offline(&app, true).await;
    let key = Key::es256();
    let res = dpop_code_flow(&app, &client, &key, Params::default()).await;
    let body = res.json();
    let rt = body["refresh_token"].as_str().unwrap_or_else(|| panic!("a refresh token: {body}")).to_string();
    let refresh = |proof: Option<String>| {
        let (app, client, rt) = (&app, &client, rt.clone());
        async move {
            let mut req = app.post("/token");
            if let Some(p) = proof {
                req = req.header("DPoP", &p);
            }
            req.form(&[("grant_type", "refresh_token"), ("refresh_token", &rt), ("client_id", &client.id)]).await
        }
    };
    let other = Key::es256();
    let res = refresh(Some(other.proof(&app, "POST", "/token", json!({})))).await;
    assert_oauth_error(&res, 400, "invalid_grant", "refresh with another key");
    let res = refresh(None).await;
    assert_oauth_error(&res, 400, "invalid_grant", "refresh without a proof");
    let res = refresh(Some(key.proof(&app, "POST", "/token", json!({})))).await;
    assert_eq!(res.status, 200, "with its key (and the refusals did not spend it): {}", res.describe());
    let body = res.json();
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
    // The successor stays bound.
    let next = body["refresh_token"].as_str().unwrap();
    let res = app
        .post("/token")
        .header("DPoP", &other.proof(&app, "POST", "/token", json!({})))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", next), ("client_id", &client.id)])
        .await;
    assert_oauth_error(&res, 400, "invalid_grant", "the successor with another key");
}

#[tokio::test]
async fn confidential_clients_refresh_tokens_are_not_bound_but_new_access_tokens_are() {
    let app = TestApp::start().await;
    let client = offline(&app, false).await;
    let alice = alice(&app).await;
    let key = Key::es256();
    let browser = app.browser();
    let p = pkce();
    let code = code_for(&browser, &alice, &code_request(&client.id, &p).set("scope", "openid offline_access")).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let res = app
        .post("/token")
        .basic(&client.id, client.secret())
        .header("DPoP", &key.proof(&app, "POST", "/token", json!({})))
        .form(&form)
        .await;
    let body = res.json();
    let rt = body["refresh_token"].as_str().unwrap_or_else(|| panic!("{body}"));
    let other = Key::es256();
    let res = app
        .post("/token")
        .basic(&client.id, client.secret())
        .header("DPoP", &other.proof(&app, "POST", "/token", json!({})))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", rt)])
        .await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(claims_of(res.json()["access_token"].as_str().unwrap())["cnf"]["jkt"], other.jkt());
}

#[tokio::test]
async fn dpop_jkt_binds_the_code_to_a_key() {
    let app = TestApp::start().await;
    let client = offline(&app, true).await;
    let key = Key::es256();
    let other = Key::es256();
    let res = dpop_code_flow(&app, &client, &other, Params::default().set("dpop_jkt", &key.jkt())).await;
    assert_oauth_error(&res, 400, "invalid_grant", "a proof by another key than dpop_jkt");
    let res = dpop_code_flow(&app, &client, &key, Params::default().set("dpop_jkt", &key.jkt())).await;
    assert_eq!(res.status, 200, "by the key dpop_jkt names: {}", res.describe());

    // A malformed dpop_jkt goes back to the client.
    let p = pkce();
    let res = authorize(&app.browser(), &code_request(&client.id, &p).set("dpop_jkt", "short")).await;
    assert_eq!(one(&res.location_params(), "error"), "invalid_request", "{}", res.describe());

    // Without a proof the bound code is refused too (and not spent).
    let alice = app.create_user("bob", PASSWORD, &[]).await;
    let browser = app.browser();
    let code = code_for(&browser, &alice, &code_request(&client.id, &p).set("dpop_jkt", &key.jkt())).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
        ("client_id", client.id.as_str()),
    ];
    assert_oauth_error(&app.post("/token").form(&form).await, 400, "invalid_grant", "no proof");
    let res = app.post("/token").header("DPoP", &key.proof(&app, "POST", "/token", json!({}))).form(&form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
}

#[tokio::test]
async fn a_client_registered_for_dpop_must_send_proofs() {
    let app = TestApp::start().await;
    let client =
        app.create_client("Bound", &["--grant-type", "client_credentials", "--dpop-bound-access-tokens"]).await;
    let shown = app.cli_json(&["client", "show", &client.id]).await;
    assert_eq!(shown["dpop_bound_access_tokens"], true, "{shown}");
    assert_proof_refused(&client_token(&app, &client, &[]).await, "no proof");
    let key = Key::es256();
    let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({}))]).await;
    assert_eq!(res.json()["token_type"], "DPoP", "{}", res.describe());
    app.cli(&["client", "update", &client.id, "--dpop-bound-access-tokens", "false"]).await.ok();
    assert_eq!(client_token(&app, &client, &[]).await.json()["token_type"], "Bearer");
}

#[tokio::test]
async fn server_nonces_when_required() {
    let app = TestApp::with_env(&[("LATCHKEY_DPOP_REQUIRE_NONCE", "true")]).await;
    let client = service(&app).await;
    let key = Key::es256();
    let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({}))]).await;
    assert_oauth_error(&res, 400, "use_dpop_nonce", "no nonce");
    let nonce = res.header("dpop-nonce").expect("a DPoP-Nonce header").to_string();
    let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({"nonce": "made-up"}))]).await;
    assert_oauth_error(&res, 400, "use_dpop_nonce", "a nonce we did not give");
    let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({"nonce": nonce}))]).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let at = res.json()["access_token"].as_str().unwrap().to_string();
    assert!(res.header("dpop-nonce").is_some());

    // Still good in the next window (300 s by default), not two windows on.
    app.clock.advance(300);
    let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({"nonce": nonce}))]).await;
    assert_eq!(res.status, 200, "the window after: {}", res.describe());
    app.clock.advance(300);
    let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({"nonce": nonce}))]).await;
    assert_oauth_error(&res, 400, "use_dpop_nonce", "a stale nonce");
    let fresh = res.header("dpop-nonce").unwrap().to_string();
    assert_ne!(fresh, nonce);

    // At a resource endpoint: 401 with the challenge and the nonce.
    let _ = at;
    let res = client_token(&app, &client, &[&key.proof(&app, "POST", "/token", json!({"nonce": fresh}))]).await;
    let at = res.json()["access_token"].as_str().unwrap().to_string();
    let res = userinfo(&app, "DPoP", &at, Some(&key.proof(&app, "GET", "/userinfo", json!({"ath": ath(&at)})))).await;
    assert_challenge(&res, "use_dpop_nonce", "UserInfo without a nonce");
    assert!(res.header("dpop-nonce").is_some());

    // At /par: 400 JSON, with the nonce.
    let web = confidential(&app).await;
    let params = code_request(&web.id, &pkce()).without("client_id");
    let res = app
        .post("/par")
        .basic(&web.id, web.secret())
        .header("DPoP", &key.proof(&app, "POST", "/par", json!({})))
        .form(&params.pairs())
        .await;
    assert_oauth_error(&res, 400, "use_dpop_nonce", "/par without a nonce");
    let nonce = res.header("dpop-nonce").unwrap().to_string();
    let res = app
        .post("/par")
        .basic(&web.id, web.secret())
        .header("DPoP", &key.proof(&app, "POST", "/par", json!({"nonce": nonce})))
        .form(&params.pairs())
        .await;
    assert_eq!(res.status, 201, "{}", res.describe());
}

#[tokio::test]
async fn dpop_bound_access_tokens_through_registration_and_the_admin_api() {
    let app = TestApp::with_env(&[("LATCHKEY_REGISTRATION_MODE", "open"), ("LATCHKEY_ADMIN_ENABLED", "true")]).await;
    // RFC 7591, then RFC 7592 turns it off again.
    let body = json!({"redirect_uris": [CB], "client_name": "Reg", "dpop_bound_access_tokens": true});
    let res = app.post("/register").json(&body).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.describe());
    let reg = res.json();
    assert_eq!(reg["dpop_bound_access_tokens"], true, "{reg}");
    let client_id = reg["client_id"].as_str().unwrap();
    let shown = app.cli_json(&["client", "show", client_id]).await;
    assert_eq!(shown["dpop_bound_access_tokens"], true, "{shown}");
    let uri = reg["registration_client_uri"].as_str().unwrap().trim_start_matches(ISSUER).to_string();
    let rat = reg["registration_access_token"].as_str().unwrap().to_string();
    let put = json!({"client_id": client_id, "redirect_uris": [CB], "client_name": "Reg",
                     "dpop_bound_access_tokens": false});
    let res = app.request(axum::http::Method::PUT, &uri).bearer(&rat).json(&put).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.describe());
    assert_eq!(res.json()["dpop_bound_access_tokens"], false);
    let res = app.request(axum::http::Method::GET, &uri).bearer(&rat).send().await;
    assert_eq!(res.json()["dpop_bound_access_tokens"], false, "{}", res.describe());

    // The admin API.
    let out = app.cli_json(&["admin", "token", "create", "--name", "t", "--scope", "clients:write"]).await;
    let admin = out["token"].as_str().unwrap().to_string();
    let body = json!({"client_name": "Svc", "grant_types": ["client_credentials"], "dpop_bound_access_tokens": true});
    let res = app.post("/admin/api/v1/clients").bearer(&admin).json(&body).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.describe());
    let created = res.json();
    assert_eq!(created["dpop_bound_access_tokens"], true, "{created}");
    let svc = TestClient {
        id: created["client_id"].as_str().unwrap().to_string(),
        secret: created["client_secret"].as_str().map(String::from),
    };
    assert_proof_refused(&client_token(&app, &svc, &[]).await, "an admin-made DPoP client without a proof");
}

#[tokio::test]
async fn a_proof_at_par_binds_the_code() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let key = Key::es256();
    let other = Key::es256();
    let p = pkce();
    let push = |proof: String, params: Params| {
        let (app, client) = (&app, &client);
        async move {
            let pairs = params.without("client_id");
            app.post("/par").basic(&client.id, client.secret()).header("DPoP", &proof).form(&pairs.pairs()).await
        }
    };
    // dpop_jkt that is not the proof's key is refused; a bad proof too.
    let res =
        push(key.proof(&app, "POST", "/par", json!({})), code_request(&client.id, &p).set("dpop_jkt", &other.jkt()))
            .await;
    assert_oauth_error(&res, 400, "invalid_request", "dpop_jkt of another key");
    let res = push(key.proof(&app, "POST", "/token", json!({})), code_request(&client.id, &p)).await;
    assert_proof_refused(&res, "a proof for another endpoint");

    let res =
        push(key.proof(&app, "POST", "/par", json!({})), code_request(&client.id, &p).set("dpop_jkt", &key.jkt()))
            .await;
    assert_eq!(res.status, 201, "dpop_jkt naming the proof's key: {}", res.describe());
    let res = push(key.proof(&app, "POST", "/par", json!({})), code_request(&client.id, &p)).await;
    assert_eq!(res.status, 201, "{}", res.describe());
    let uri = res.json()["request_uri"].as_str().unwrap().to_string();
    let alice = alice(&app).await;
    let code =
        code_for(&app.browser(), &alice, &Params::default().set("client_id", &client.id).set("request_uri", &uri))
            .await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let redeem = |key: &Key| {
        let proof = key.proof(&app, "POST", "/token", json!({}));
        let (app, client) = (&app, &client);
        async move { app.post("/token").basic(&client.id, client.secret()).header("DPoP", &proof).form(&form).await }
    };
    assert_oauth_error(&redeem(&other).await, 400, "invalid_grant", "the code pushed with another key");
    let res = redeem(&key).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.json()["token_type"], "DPoP");
}

#[tokio::test]
async fn the_device_and_token_exchange_grants_bind_too() {
    // The device code grant.
    let app = TestApp::start().await;
    let (client, _alice) = (crate::device::tv(&app).await, alice(&app).await);
    let grant = crate::device::start(&app, &client).await;
    let browser = app.browser();
    let login = crate::device::enter(&browser, grant["user_code"].as_str().unwrap()).await;
    let done = crate::device::sign_in_and_decide(&browser, login, "allow").await;
    assert_eq!(done.status, 200, "{}", done.describe());
    app.clock.advance(15);
    let key = Key::es256();
    let device_code = grant["device_code"].as_str().unwrap();
    let res = app
        .post("/token")
        .header("DPoP", &key.proof(&app, "POST", "/token", json!({})))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device_code),
            ("client_id", &client.id),
        ])
        .await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let body = res.json();
    assert_eq!(body["token_type"], "DPoP", "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());

    // Token exchange.
    let s = crate::exchange::setup(&[]).await;
    let res = s
        .app
        .post("/token")
        .basic(&s.front.id, s.front.secret())
        .header("DPoP", &key.proof(&s.app, "POST", "/token", json!({})))
        .form(&[
            ("grant_type", crate::exchange::GRANT),
            ("subject_token", &s.access_token),
            ("subject_token_type", crate::exchange::AT),
            ("audience", &s.orders.id),
        ])
        .await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let body = res.json();
    assert_eq!(body["token_type"], "DPoP", "{body}");
    assert_eq!(claims_of(body["access_token"].as_str().unwrap())["cnf"]["jkt"], key.jkt());
}

#[tokio::test]
async fn a_bound_token_is_exchanged_only_with_a_proof_by_its_key() {
    let s = crate::exchange::setup(&[]).await;
    let key = Key::es256();
    let exchange = |subject: String, proof: Option<String>| {
        let s = &s;
        async move {
            let mut req = s.app.post("/token").basic(&s.front.id, s.front.secret());
            if let Some(p) = proof {
                req = req.header("DPoP", &p);
            }
            req.form(&[
                ("grant_type", crate::exchange::GRANT),
                ("subject_token", &subject),
                ("subject_token_type", crate::exchange::AT),
                ("audience", &s.orders.id),
            ])
            .await
        }
    };
    let proof = |k: &Key| Some(k.proof(&s.app, "POST", "/token", json!({})));
    let res = exchange(s.access_token.clone(), proof(&key)).await;
    let bound = res.json()["access_token"].as_str().unwrap().to_string();
    assert_oauth_error(&exchange(bound.clone(), None).await, 400, "invalid_request", "a bound subject without a proof");
    let res = exchange(bound.clone(), proof(&Key::es256())).await;
    assert_oauth_error(&res, 400, "invalid_request", "a bound subject with another key");
    let res = exchange(bound, proof(&key)).await;
    assert_eq!(res.status, 200, "with its key: {}", res.describe());
}

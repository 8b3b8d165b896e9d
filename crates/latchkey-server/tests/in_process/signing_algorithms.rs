//! Signing algorithms beside RS256 (`keys.algorithms`): each has its own
//! keys in the JWKS (with `kid`, `alg`, `use`) and its own rotation; a client
//! names what its ID tokens, signed UserInfo answers and JARM responses use;
//! access tokens use `keys.algorithm`. Everything is verified here with
//! josekit from the published JWKS, as an app or a resource server would.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, EdDSA, JwsVerifier, PS256, RS256};
use latchkey_server::testing::{ISSUER, TestApp, TestClient};
use serde_json::{Value, json};

use crate::common::*;

const ALL: &str = "RS256,ES256,EdDSA,PS256";

fn header_and_claims(jwt: &str) -> (Value, Value) {
    let part =
        |i: usize| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap();
    (part(0), part(1))
}

/// Verifies `jwt` with the published key its header names, with that key's
/// algorithm; returns the algorithm and the kid.
async fn verify(app: &TestApp, jwt: &str) -> (String, String) {
    let jwks = app.get("/jwks").await.json();
    let (header, _) = header_and_claims(jwt);
    let kid = header["kid"].as_str().expect("kid");
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).expect("published");
    let alg = key["alg"].as_str().unwrap();
    assert_eq!(header["alg"], alg, "signed with the key's own algorithm");
    let jwk = Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let verifier: Box<dyn JwsVerifier> = match alg {
        "RS256" => Box::new(RS256.verifier_from_jwk(&jwk).unwrap()),
        "PS256" => Box::new(PS256.verifier_from_jwk(&jwk).unwrap()),
        "ES256" => Box::new(ES256.verifier_from_jwk(&jwk).unwrap()),
        "EdDSA" => Box::new(EdDSA.verifier_from_jwk(&jwk).unwrap()),
        other => panic!("unexpected alg {other}"),
    };
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    verifier.verify(signed.as_bytes(), &URL_SAFE_NO_PAD.decode(signature).unwrap()).expect("the signature verifies");
    (alg.to_string(), kid.to_string())
}

async fn client_with(app: &TestApp, name: &str, extra: &[&str]) -> TestClient {
    app.create_client(name, &[&["--redirect-uri", CB][..], extra].concat()).await
}

#[tokio::test]
async fn every_configured_algorithm_is_published_and_signs_what_clients_registered() {
    let app = TestApp::with_env(&[("LATCHKEY_KEYS_ALGORITHMS", ALL)]).await;
    let alice = alice(&app).await;
    let meta = app.get("/.well-known/openid-configuration").await.json();
    for field in [
        "id_token_signing_alg_values_supported",
        "userinfo_signing_alg_values_supported",
        "authorization_signing_alg_values_supported",
    ] {
        assert_eq!(meta[field], json!(["RS256", "ES256", "EdDSA", "PS256"]), "{field}");
    }
    let jwks = app.get("/jwks").await.json();
    let keys = jwks["keys"].as_array().unwrap();
    for alg in ["RS256", "ES256", "EdDSA", "PS256"] {
        let of_alg: Vec<&Value> = keys.iter().filter(|k| k["alg"] == alg).collect();
        assert_eq!(of_alg.len(), 2, "{alg}: the active and the next key");
        for k in of_alg {
            assert!(k["kid"].is_string() && k["use"] == "sig", "{k}");
            assert!(["d", "p", "q"].iter().all(|m| k.get(*m).is_none()), "public members only: {k}");
        }
    }
    assert_eq!(keys[0]["alg"], "RS256", "the default signing key first");

    // ID tokens of an ES256 client; UserInfo answers of an EdDSA client; JARM of a PS256 client.
    let ec = client_with(&app, "EC", &["--id-token-signed-response-alg", "ES256"]).await;
    let t = tokens(&app, &ec, &alice, SCOPES).await;
    assert_eq!(verify(&app, t["id_token"].as_str().unwrap()).await.0, "ES256");
    assert_eq!(verify(&app, t["access_token"].as_str().unwrap()).await.0, "RS256", "keys.algorithm");

    let ed = client_with(&app, "Ed", &["--userinfo-signed-response-alg", "EdDSA"]).await;
    let t = tokens(&app, &ed, &alice, SCOPES).await;
    assert_eq!(verify(&app, t["id_token"].as_str().unwrap()).await.0, "RS256", "RS256 by default");
    let res = app.get("/userinfo").bearer(t["access_token"].as_str().unwrap()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("content-type"), Some("application/jwt"));
    let signed = res.text();
    assert_eq!(verify(&app, &signed).await.0, "EdDSA");
    let (_, claims) = header_and_claims(&signed);
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(ISSUER), Some(ed.id.as_str())));
    assert_eq!(claims["sub"], alice.id.as_str());
    assert_eq!(claims["email"], "alice@example.com");
    // A client that asked for nothing gets plain JSON.
    let plain = tokens(&app, &ec, &alice, SCOPES).await;
    let res = app.get("/userinfo").bearer(plain["access_token"].as_str().unwrap()).await;
    assert_eq!(res.json()["email"], "alice@example.com");

    let ps = client_with(&app, "PS", &["--authorization-signed-response-alg", "PS256"]).await;
    let browser = app.browser();
    let params = code_request(&ps.id, &pkce()).set("response_mode", "jwt");
    let res = browser.drive(authorize(&browser, &params).await, &alice).await;
    assert_eq!(verify(&app, &one(&res.location_params(), "response")).await.0, "PS256");
}

#[tokio::test]
async fn access_tokens_follow_keys_algorithm_and_resource_endpoints_accept_them() {
    let app =
        TestApp::with_env(&[("LATCHKEY_KEYS_ALGORITHMS", "RS256,EdDSA"), ("LATCHKEY_KEYS_ALGORITHM", "EdDSA")]).await;
    let (alice, client) = (alice(&app).await, confidential(&app).await);
    let t = tokens(&app, &client, &alice, SCOPES).await;
    let access = t["access_token"].as_str().unwrap();
    assert_eq!(verify(&app, access).await.0, "EdDSA");
    assert_eq!(verify(&app, t["id_token"].as_str().unwrap()).await.0, "RS256");
    let res = app.get("/userinfo").bearer(access).await;
    assert_eq!(res.json()["sub"], alice.id.as_str(), "{}", res.describe());
    let secret = client.secret.clone().unwrap();
    let res = app.post("/introspect").basic(&client.id, &secret).form(&[("token", access)]).await;
    assert_eq!(res.json()["active"], true, "{}", res.describe());
}

#[tokio::test]
async fn each_algorithm_rotates_and_old_tokens_verify_until_their_key_goes() {
    let app = TestApp::with_env(&[("LATCHKEY_KEYS_ALGORITHMS", "RS256,ES256")]).await;
    let alice = alice(&app).await;
    let ec = client_with(&app, "EC", &["--id-token-signed-response-alg", "ES256"]).await;
    let before = tokens(&app, &ec, &alice, SCOPES).await;
    let (_, old_kid) = verify(&app, before["id_token"].as_str().unwrap()).await;

    let rotated = app.cli_json(&["keys", "rotate", "--force"]).await;
    let algs: Vec<&str> =
        rotated["algorithms"].as_array().unwrap().iter().map(|r| r["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "ES256"], "{rotated}");
    assert_eq!(rotated["active"], rotated["algorithms"][0]["active"], "RS256's keys, as before");
    app.reload_keys().await;

    let after = tokens(&app, &ec, &alice, SCOPES).await;
    let (alg, new_kid) = verify(&app, after["id_token"].as_str().unwrap()).await;
    assert_eq!(alg, "ES256");
    assert_ne!(new_kid, old_kid, "the next ES256 key signs now");
    assert_eq!(new_kid, rotated["algorithms"][1]["active"].as_str().unwrap());
    verify(&app, before["id_token"].as_str().unwrap()).await;
    let listed = app.cli_json(&["keys", "list"]).await;
    let states = |alg: &str| -> Vec<String> {
        let mut s: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["alg"] == alg)
            .map(|k| k["state"].as_str().unwrap().to_string())
            .collect();
        s.sort();
        s
    };
    assert_eq!(states("ES256"), ["active", "next", "retired"], "{listed}");
    assert_eq!(states("RS256"), ["active", "next", "retired"], "{listed}");
}

#[tokio::test]
async fn clients_may_name_only_the_algorithms_we_keep_keys_for() {
    let app = TestApp::with_env(&[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let meta = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(meta["id_token_signing_alg_values_supported"], json!(["RS256"]));
    for flag in
        ["--id-token-signed-response-alg", "--userinfo-signed-response-alg", "--authorization-signed-response-alg"]
    {
        let out = app.cli(&["client", "create", "--name", "X", "--redirect-uri", CB, flag, "ES256"]).await;
        assert!(!out.ok && out.error.contains("is not supported; use RS256"), "{flag}: {}", out.error);
        let out = app.cli(&["client", "create", "--name", "X", "--redirect-uri", CB, flag, "RS256"]).await;
        assert!(out.ok, "{flag}: {}", out.error);
    }
    let res =
        app.post("/register").json(&json!({"redirect_uris": [CB], "id_token_signed_response_alg": "HS256"})).await;
    if res.status != 404 {
        assert_eq!(res.json()["error"], "invalid_client_metadata", "{}", res.describe());
    }
}

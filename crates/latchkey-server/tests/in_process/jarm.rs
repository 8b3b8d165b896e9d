//! JWT-secured authorization responses (JARM): with `response_mode` `jwt`,
//! `query.jwt`, `fragment.jwt` or `form_post.jwt`, the response (a code or
//! an error) is one `response` JWT signed with a key of our JWKS, carrying
//! `iss`, `aud` (the client), `exp`, `state`; verified here with josekit
//! from the published JWKS, as an app would.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::RS256;
use josekit::jwt;
use latchkey_server::testing::{ISSUER, TestApp, TestClient, TestResponse};
use serde_json::Value;

use crate::common::*;

/// Verifies `token` against the JWKS and returns its claims.
async fn verified(app: &TestApp, token: &str) -> serde_json::Map<String, Value> {
    let jwks = app.get("/jwks").await.json();
    let header = jwt::decode_header(token).unwrap();
    let kid = header.claim("kid").and_then(Value::as_str).expect("kid").to_string();
    assert_eq!(header.claim("alg").and_then(Value::as_str), Some("RS256"));
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid.as_str()).expect("a published key");
    let jwk = Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let (payload, _) = jwt::decode_with_verifier(token, &RS256.verifier_from_jwk(&jwk).unwrap()).unwrap();
    payload.claims_set().clone()
}

/// The `response` JWT of an answer in `mode`.
fn response_jwt(res: &TestResponse, mode: &str) -> String {
    match mode {
        "form_post.jwt" => {
            assert_eq!(res.status, 200, "{}", res.describe());
            assert!(res.input("code").is_none() && res.input("state").is_none(), "all inside the JWT");
            res.input("response").expect("a response field")
        }
        "fragment.jwt" => {
            let location = res.location().unwrap_or_else(|| panic!("{}", res.describe()));
            let fragment = location.strip_prefix(&format!("{CB}#")).unwrap_or_else(|| panic!("{location}"));
            let pairs: Vec<(String, String)> = url::form_urlencoded::parse(fragment.as_bytes()).into_owned().collect();
            one(&pairs, "response")
        }
        _ => {
            let params = res.location_params();
            assert_eq!(params.len(), 1, "only response: {params:?}");
            one(&params, "response")
        }
    }
}

async fn check_claims(app: &TestApp, client: &TestClient, jwt: &str) -> serde_json::Map<String, Value> {
    let claims = verified(app, jwt).await;
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], client.id.as_str());
    assert_eq!(claims["state"], "s-1");
    let now = app.clock_now();
    assert_eq!(claims["exp"].as_i64(), Some(now + 600), "ten minutes");
    claims
}

#[tokio::test]
async fn each_jwt_response_mode_carries_a_signed_code_the_client_redeems() {
    let app = TestApp::start().await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    let meta = app.get("/.well-known/openid-configuration").await.json();
    for mode in ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"] {
        assert!(meta["response_modes_supported"].as_array().unwrap().iter().any(|m| m == mode), "{mode}: {meta}");
    }
    assert_eq!(meta["authorization_signing_alg_values_supported"], serde_json::json!(["RS256"]));

    let browser = app.browser();
    for mode in ["jwt", "query.jwt", "fragment.jwt", "form_post.jwt"] {
        let p = pkce();
        let res = browser
            .drive(authorize(&browser, &code_request(&client.id, &p).set("response_mode", mode)).await, &alice)
            .await;
        let claims = check_claims(&app, &client, &response_jwt(&res, mode)).await;
        let code = claims["code"].as_str().expect("a code").to_string();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CB),
            ("code_verifier", p.verifier.as_str()),
        ];
        let res = token(&app, &client, &form).await;
        assert_eq!(res.status, 200, "{mode}: {}", res.describe());
    }
}

#[tokio::test]
async fn errors_are_signed_too_and_an_unknown_mode_is_refused_plainly() {
    let app = TestApp::start().await;
    let client = confidential(&app).await;
    let browser = app.browser();
    for mode in ["jwt", "fragment.jwt", "form_post.jwt"] {
        let params = code_request(&client.id, &pkce()).set("response_mode", mode).set("prompt", "none");
        let res = authorize(&browser, &params).await;
        let claims = check_claims(&app, &client, &response_jwt(&res, mode)).await;
        assert_eq!(claims["error"], "login_required", "{mode}: {claims:?}");
        assert!(claims.get("code").is_none());
    }
    // An error found before the mode is known to be served is answered plainly.
    let res = authorize(&browser, &code_request(&client.id, &pkce()).set("response_mode", "jwt.fragment")).await;
    assert_eq!(one(&res.location_params(), "error"), "invalid_request", "{}", res.describe());
    assert!(get(&res.location_params(), "response").is_none());
    // A response changed on the way does not verify against the JWKS.
    let res =
        authorize(&browser, &code_request(&client.id, &pkce()).set("response_mode", "jwt").set("prompt", "none")).await;
    let jwt = response_jwt(&res, "jwt");
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["error"] = "access_denied".into();
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(claims.to_string()), parts[2]);
    let jwks = app.get("/jwks").await.json();
    let jwk = Jwk::from_map(jwks["keys"][0].as_object().unwrap().clone()).unwrap();
    assert!(jwt::decode_with_verifier(&forged, &RS256.verifier_from_jwk(&jwk).unwrap()).is_err());
}

#[tokio::test]
async fn clients_name_their_response_signing_algorithm_from_those_we_sign_with() {
    let app = TestApp::start().await;
    let client =
        app.create_client("Bank", &["--redirect-uri", CB, "--authorization-signed-response-alg", "RS256"]).await;
    let shown = app.cli_json(&["client", "show", &client.id]).await;
    assert_eq!(shown["authorization_signed_response_alg"], "RS256", "{shown}");
    for alg in ["HS256", "none"] {
        let out = app.cli(&["client", "update", &client.id, "--authorization-signed-response-alg", alg]).await;
        assert!(!out.ok && out.error.contains("authorization_signed_response_alg"), "{alg}: {}", out.error);
    }
    let plain = confidential(&app).await;
    let shown = app.cli_json(&["client", "show", &plain.id]).await;
    assert!(shown.get("authorization_signed_response_alg").is_none(), "RS256 by default, not stored: {shown}");
}

//! Signed request objects (RFC 9101): the time limits on both sides, with
//! the clock moved rather than waited for, and the size limit. The rest is
//! tested end to end (tests/tests/rfc9101_jar.rs).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jwk::alg::rsa::RsaKeyPair;
use josekit::jws::{JwsSigner, RS256};
use latchkey_server::testing::{ISSUER, TestApp, TestClient, TestResponse};
use serde_json::{Value, json};

use crate::common::*;

/// A client registered with the public half of a fresh RSA key; the private half.
async fn keyed_client(app: &TestApp) -> (TestClient, Jwk) {
    let pair = RsaKeyPair::generate(2048).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id("k1");
    let file = std::env::temp_dir().join(format!("latchkey-jar-{}.json", latchkey_core::random::token(8)));
    std::fs::write(&file, json!({"keys": [serde_json::to_value(public.as_ref()).unwrap()]}).to_string()).unwrap();
    let client = app.create_client("JAR", &["--redirect-uri", CB, "--jwks-file", file.to_str().unwrap()]).await;
    std::fs::remove_file(&file).unwrap();
    (client, pair.to_jwk_private_key())
}

fn sign(key: &Jwk, claims: &Value) -> String {
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let input = format!("{}.{}", b64(br#"{"alg":"RS256","kid":"k1"}"#), b64(claims.to_string().as_bytes()));
    let signature = RS256.signer_from_jwk(key).unwrap().sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signature))
}

/// The request object of a valid code request, with `extra` claims set.
fn object(app: &TestApp, client: &TestClient, key: &Jwk, extra: Value) -> String {
    let now = app.clock_now();
    let mut claims = json!({"iss": client.id, "aud": ISSUER, "exp": now + 60, "jti": latchkey_core::random::token(12)});
    for (k, v) in code_request(&client.id, &pkce()).0 {
        claims[k] = json!(v);
    }
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    sign(key, &claims)
}

async fn send(app: &TestApp, client: &TestClient, jwt: &str) -> TestResponse {
    authorize(&app.browser(), &Params::default().set("client_id", &client.id).set("request", jwt)).await
}

fn accepted(res: &TestResponse, what: &str) {
    assert!(res.status == 200 && res.input("password").is_some(), "{what}: the login page: {}", res.describe());
}

fn refused(res: &TestResponse, what: &str) {
    assert!(res.status.is_redirection(), "{what}: {}", res.describe());
    assert_eq!(one(&res.location_params(), "error"), "invalid_request_object", "{what}");
}

#[tokio::test]
async fn time_claims_are_checked_with_a_minute_of_skew_and_an_hour_at_most() {
    let app = TestApp::start().await;
    let (client, key) = keyed_client(&app).await;
    let now = app.clock_now();
    for (extra, ok, what) in [
        (json!({"exp": now - 59}), true, "expired 59 s ago"),
        (json!({"exp": now - 60}), false, "expired 60 s ago"),
        (json!({"exp": now + 3660}), true, "an hour and the skew ahead"),
        (json!({"exp": now + 3661}), false, "a second more"),
        (json!({"nbf": now + 60}), true, "valid in 60 s"),
        (json!({"nbf": now + 61}), false, "valid in 61 s"),
        (json!({"iat": now + 60}), true, "issued 60 s ahead"),
        (json!({"iat": now + 61}), false, "issued 61 s ahead"),
        (json!({"exp": "soon"}), false, "exp not a number"),
        (json!({"aud": [ISSUER, "https://other.example"]}), true, "aud a list naming us"),
        (json!({"aud": ["https://other.example"]}), false, "aud a list without us"),
    ] {
        let res = send(&app, &client, &object(&app, &client, &key, extra)).await;
        if ok { accepted(&res, what) } else { refused(&res, what) }
    }
}

#[tokio::test]
async fn objects_over_16_kib_are_refused() {
    let app = TestApp::start().await;
    let (client, key) = keyed_client(&app).await;
    let res = send(&app, &client, &object(&app, &client, &key, json!({"login_hint": "a".repeat(4000)}))).await;
    accepted(&res, "about 6 KiB");
    let res = send(&app, &client, &object(&app, &client, &key, json!({"x": "a".repeat(13_000)}))).await;
    refused(&res, "over 16 KiB");
}

/// EdDSA (Ed25519, RFC 8037): a client whose JWKS holds an Ed25519 key signs
/// request objects and `private_key_jwt` assertions with it; another key's
/// signature is refused.
#[tokio::test]
async fn ed25519_request_objects_and_assertions_verify_with_the_clients_key() {
    let app = TestApp::start().await;
    let key = Key::of_ed25519();
    let mut public = key.public.clone();
    public["kid"] = "ed".into();
    let file = std::env::temp_dir().join(format!("latchkey-jar-ed-{}.json", latchkey_core::random::token(8)));
    std::fs::write(&file, json!({"keys": [public]}).to_string()).unwrap();
    let jwks = file.to_str().unwrap();
    let client = app
        .create_client(
            "Ed",
            &[
                "--redirect-uri",
                CB,
                "--jwks-file",
                jwks,
                "--auth-method",
                "private_key_jwt",
                "--grant-type",
                "authorization_code",
                "--grant-type",
                "client_credentials",
                "--scope",
                "openid profile email api",
            ],
        )
        .await;
    std::fs::remove_file(&file).unwrap();
    let now = app.clock_now();
    let object = |signer: &Key| {
        let mut claims =
            json!({"iss": client.id, "aud": ISSUER, "exp": now + 60, "jti": latchkey_core::random::token(12)});
        for (k, v) in code_request(&client.id, &pkce()).0 {
            claims[k] = json!(v);
        }
        signer.sign(&json!({"alg": "EdDSA", "kid": "ed"}), &claims)
    };
    accepted(&send(&app, &client, &object(&key)).await, "an EdDSA request object");
    refused(&send(&app, &client, &object(&Key::of_ed25519())).await, "signed by another Ed25519 key");

    let assertion = key.sign(
        &json!({"alg": "EdDSA", "kid": "ed"}),
        &json!({"iss": client.id, "sub": client.id, "aud": ISSUER, "exp": now + 60, "jti": latchkey_core::random::token(12)}),
    );
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "api"),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ];
    let res = app.post("/token").form(&form).await;
    assert_eq!(res.status, 200, "an EdDSA assertion: {}", res.describe());
}

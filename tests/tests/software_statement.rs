//! Software statements at the registration endpoint (RFC 7591 §2.3;
//! docs/registration.md, "Software statements"): signed by a trusted issuer,
//! their claims win over the body and then obey the same rules and policy;
//! anything else is refused with the RFC 7591 §3.2.2 error codes, at
//! registration and at RFC 7592 replacement alike.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::*;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, HS256, JwsHeader, JwsSigner, PS256, RS256};
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(statements_are_verified_and_take_precedence_over_the_body);

const PUBLISHER: &str = "https://publisher.example";

/// A signing key of an issuer: its private DER and its public JWK.
struct IssuerKey {
    der: Vec<u8>,
    public: Value,
    ec: bool,
}

fn public_jwk(jwk: Jwk, kid: &str) -> Value {
    let mut v = serde_json::to_value(jwk.as_ref()).unwrap();
    let obj = v.as_object_mut().unwrap();
    // Without `alg`, one RSA key checks RS256 and PS256 alike.
    obj.remove("alg");
    obj.insert("kid".into(), kid.into());
    v
}

fn rsa_key(kid: &str) -> IssuerKey {
    let pair = RS256.generate_key_pair(2048).unwrap();
    IssuerKey { der: pair.to_der_private_key(), public: public_jwk(pair.to_jwk_public_key(), kid), ec: false }
}

fn ec_key(kid: &str) -> IssuerKey {
    let pair = ES256.generate_key_pair().unwrap();
    IssuerKey { der: pair.to_der_private_key(), public: public_jwk(pair.to_jwk_public_key(), kid), ec: true }
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A compact JWS of `claims` (raw bytes, so any claim can be signed).
fn sign(key: &IssuerKey, alg: &str, kid: Option<&str>, claims: &Value) -> String {
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    if let Some(kid) = kid {
        header.set_key_id(kid);
    }
    let signer: Box<dyn JwsSigner> = match alg {
        "RS256" => Box::new(RS256.signer_from_der(&key.der).unwrap()),
        "PS256" => Box::new(PS256.signer_from_der(&key.der).unwrap()),
        "ES256" => Box::new(ES256.signer_from_der(&key.der).unwrap()),
        other => panic!("{other}"),
    };
    assert_eq!(key.ec, alg == "ES256");
    josekit::jws::serialize_compact(&serde_json::to_vec(claims).unwrap(), &header, &*signer).unwrap()
}

fn claims(extra: Value) -> Value {
    let t = now();
    let mut c = json!({
        "iss": PUBLISHER,
        "iat": t,
        "exp": t + 300,
        "client_name": "Signed App",
        "redirect_uris": ["https://app.example/signed"],
        "software_id": "sw-4NRB1",
        "software_version": "2.1",
    });
    c.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
    c
}

async fn register(server: &Server, body: &Value) -> Page {
    Page::of(http().post(server.url("/register")).json(body).send().await.unwrap()).await
}

fn with_statement(statement: impl Into<Value>) -> Value {
    json!({
        "client_name": "Body App",
        "redirect_uris": ["https://app.example/body"],
        "logo_uri": "https://app.example/logo.png",
        "software_statement": statement.into(),
    })
}

/// Members a registration answer may have; nothing else (no key, no statement).
const ANSWER_MEMBERS: [&str; 21] = [
    "client_name",
    "redirect_uris",
    "post_logout_redirect_uris",
    "grant_types",
    "response_types",
    "token_endpoint_auth_method",
    "scope",
    "contacts",
    "logo_uri",
    "software_id",
    "software_version",
    "client_id",
    "client_id_issued_at",
    "client_secret",
    "client_secret_expires_at",
    "registration_client_uri",
    "registration_access_token",
    "tos_uri",
    // Always answered (RFC 9126 §6, RFC 9101 §10.5, RFC 9449 §5.2), false by default.
    "require_pushed_authorization_requests",
    "require_signed_request_object",
    "dpop_bound_access_tokens",
];

async fn statements_are_verified_and_take_precedence_over_the_body(backend: Backend) {
    let rsa = rsa_key("publisher-rsa");
    let ec = ec_key("publisher-ec");
    let stranger = rsa_key("publisher-rsa"); // same kid, another key
    let dir = tempfile::tempdir().unwrap();
    let jwks_file = dir.path().join("statement-issuers.json");
    std::fs::write(&jwks_file, json!({"keys": [rsa.public, ec.public]}).to_string()).unwrap();

    let db = TestDb::new(backend).await;
    let server = Server::start(
        &db,
        &[
            ("LATCHKEY_REGISTRATION_MODE", "open"),
            ("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_JWKS_FILE", jwks_file.to_str().unwrap()),
            ("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_REQUIRED", "true"),
            ("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_ISSUERS", &format!("{PUBLISHER}, https://other.example")),
            ("LATCHKEY_REGISTRATION_ALLOWED_REDIRECT_HOSTS", "app.example"),
            ("LATCHKEY_REGISTRATION_MAX_PER_ADDRESS", "0"),
        ],
    )
    .await;

    // Valid, RS256 with a kid: the statement's claims win over the body's.
    let statement = sign(&rsa, "RS256", Some("publisher-rsa"), &claims(json!({})));
    let page = register(&server, &with_statement(statement.as_str())).await;
    assert_eq!(page.status, 201, "{}", page.describe());
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    let registered = page.json();
    assert_eq!(registered["client_name"], "Signed App");
    assert_eq!(registered["redirect_uris"], json!(["https://app.example/signed"]));
    assert_eq!(registered["software_id"], "sw-4NRB1");
    assert_eq!(registered["software_version"], "2.1");
    assert_eq!(
        registered["logo_uri"], "https://app.example/logo.png",
        "members the statement lacks come from the body"
    );
    for (name, _) in registered.as_object().unwrap() {
        assert!(ANSWER_MEMBERS.contains(&name.as_str()), "unexpected member {name}: {registered}");
    }
    assert!(!page.body.contains(&statement), "the statement is not echoed");
    for member in ["\"iss\"", "\"exp\"", "\"n\"", "\"d\"", "\"x\""] {
        assert!(!page.body.contains(member), "{member} in {}", page.body);
    }

    // The issuer is named in the audit event.
    let events = cli_json(&db, &["audit", "list", "--limit", "1000", "--kind", "client.created"]);
    let event = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e.to_string().contains(str_of(&registered, "client_id")))
        .unwrap_or_else(|| panic!("no client.created event: {events}"))
        .to_string();
    assert!(event.contains("software_statement_iss") && event.contains(PUBLISHER), "{event}");

    // ES256 without a kid (each EC key is tried), PS256 with the RSA key.
    let page = register(&server, &with_statement(sign(&ec, "ES256", None, &claims(json!({}))))).await;
    assert_eq!(page.status, 201, "ES256: {}", page.describe());
    let page = register(&server, &with_statement(sign(&rsa, "PS256", None, &claims(json!({}))))).await;
    assert_eq!(page.status, 201, "PS256: {}", page.describe());
    // A few seconds of clock skew are tolerated.
    let skewed = claims(json!({"iat": now() + 30, "nbf": now() + 30, "exp": now() - 30}));
    let page = register(&server, &with_statement(sign(&ec, "ES256", Some("publisher-ec"), &skewed))).await;
    assert_eq!(page.status, 201, "skew: {}", page.describe());

    // Required: a registration without one is refused.
    let plain = json!({"client_name": "Plain", "redirect_uris": ["https://app.example/cb"]});
    assert_oauth_error(&register(&server, &plain).await, 400, "invalid_software_statement", "missing");

    // Invalid statements.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(json!({})).to_string())
    );
    let hs256 = {
        let signer = HS256.signer_from_bytes(rsa.public["n"].as_str().unwrap().as_bytes()).unwrap();
        josekit::jws::serialize_compact(&serde_json::to_vec(&claims(json!({}))).unwrap(), &JwsHeader::new(), &signer)
            .unwrap()
    };
    let good = sign(&rsa, "RS256", Some("publisher-rsa"), &claims(json!({})));
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let payload = URL_SAFE_NO_PAD.encode(claims(json!({"client_name": "Tampered"})).to_string());
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let invalid: Vec<(&str, Value)> = vec![
        ("wrong key", json!(sign(&stranger, "RS256", Some("publisher-rsa"), &claims(json!({}))))),
        ("unknown kid", json!(sign(&rsa, "RS256", Some("nobody"), &claims(json!({}))))),
        ("ES256 header, RSA key", json!(sign(&ec, "ES256", Some("publisher-rsa"), &claims(json!({}))))),
        ("alg none", json!(none)),
        ("HS256", json!(hs256)),
        ("tampered", json!(tampered)),
        ("expired", json!(sign(&rsa, "RS256", None, &claims(json!({"exp": now() - 120}))))),
        ("issued in the future", json!(sign(&rsa, "RS256", None, &claims(json!({"iat": now() + 600}))))),
        ("not yet valid", json!(sign(&rsa, "RS256", None, &claims(json!({"nbf": now() + 600}))))),
        ("exp not a number", json!(sign(&rsa, "RS256", None, &claims(json!({"exp": "tomorrow"}))))),
        ("garbage", json!("garbage")),
        ("three garbage parts", json!("a.b.c")),
        ("empty", json!("")),
        ("a number", json!(42)),
        ("an object", json!({"iss": PUBLISHER})),
        ("an array", json!([good.as_str()])),
        ("null", Value::Null),
        ("huge", json!("A".repeat(60_000))),
        (
            "payload not JSON",
            json!(format!("{}.{}.AAAA", good.split('.').next().unwrap(), URL_SAFE_NO_PAD.encode("x"))),
        ),
    ];
    for (what, statement) in invalid {
        let page = register(&server, &with_statement(statement)).await;
        assert_oauth_error(&page, 400, "invalid_software_statement", what);
    }

    // A valid signature from an issuer that is not accepted.
    let foreign = sign(&rsa, "RS256", None, &claims(json!({"iss": "https://stranger.example"})));
    assert_oauth_error(&register(&server, &with_statement(foreign)).await, 400, "unapproved_software_statement", "iss");
    let anonymous = {
        let mut c = claims(json!({}));
        c.as_object_mut().unwrap().remove("iss");
        sign(&rsa, "RS256", None, &c)
    };
    assert_oauth_error(
        &register(&server, &with_statement(anonymous)).await,
        400,
        "unapproved_software_statement",
        "no iss",
    );

    // Its claims obey the same rules and policy as plain metadata.
    let evil = sign(&rsa, "RS256", None, &claims(json!({"redirect_uris": ["https://evil.example/cb"]})));
    assert_oauth_error(&register(&server, &with_statement(evil)).await, 400, "invalid_redirect_uri", "policy");
    let implicit = sign(&rsa, "RS256", None, &claims(json!({"grant_types": ["implicit"]})));
    assert_oauth_error(&register(&server, &with_statement(implicit)).await, 400, "invalid_client_metadata", "grant");
    let wrong_type = sign(&rsa, "RS256", None, &claims(json!({"redirect_uris": "https://app.example/cb"})));
    assert_oauth_error(&register(&server, &with_statement(wrong_type)).await, 400, "invalid_client_metadata", "type");
    // Server-set members in a statement are not taken.
    let sneaky = sign(&rsa, "RS256", None, &claims(json!({"client_id": "chosen-by-me", "client_secret": "s3cret"})));
    let page = register(&server, &with_statement(sneaky)).await;
    assert_eq!(page.status, 201, "{}", page.describe());
    assert_ne!(page.json()["client_id"], "chosen-by-me");
    assert_ne!(page.json()["client_secret"], "s3cret");

    // RFC 7592 replacement: the same checks.
    let uri = str_of(&registered, "registration_client_uri");
    let token = str_of(&registered, "registration_access_token");
    let put = |body: Value| async move {
        Page::of(http().put(uri).bearer_auth(token).json(&body).send().await.unwrap()).await
    };
    let replacement = |statement: Option<Value>| {
        let mut body = json!({
            "client_id": registered["client_id"],
            "client_name": "Body Rename",
            "redirect_uris": ["https://app.example/body"],
        });
        if let Some(s) = statement {
            body["software_statement"] = s;
        }
        body
    };
    assert_oauth_error(&put(replacement(None)).await, 400, "invalid_software_statement", "PUT without");
    assert_oauth_error(
        &put(replacement(Some(json!("garbage")))).await,
        400,
        "invalid_software_statement",
        "PUT garbage",
    );
    let foreign = sign(&rsa, "RS256", None, &claims(json!({"iss": "https://stranger.example"})));
    assert_oauth_error(&put(replacement(Some(json!(foreign)))).await, 400, "unapproved_software_statement", "PUT iss");
    let evil = sign(&rsa, "RS256", None, &claims(json!({"redirect_uris": ["https://evil.example/cb"]})));
    assert_oauth_error(&put(replacement(Some(json!(evil)))).await, 400, "invalid_redirect_uri", "PUT policy");
    let renamed = sign(&ec, "ES256", None, &claims(json!({"client_name": "Signed Rename", "software_version": "3.0"})));
    let page = put(replacement(Some(json!(renamed)))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let replaced = page.json();
    assert_eq!(replaced["client_name"], "Signed Rename");
    assert_eq!(replaced["software_version"], "3.0");
    assert_eq!(replaced["redirect_uris"], json!(["https://app.example/signed"]));
    assert!(replaced.get("registration_access_token").is_none(), "{replaced}");
    // Refused replacements changed nothing; the accepted one is what is read back.
    let read = Page::of(http().get(uri).bearer_auth(token).send().await.unwrap()).await;
    assert_eq!(read.json()["client_name"], "Signed Rename");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_trusted_keys_a_statement_is_unapproved_and_requiring_one_needs_keys() {
    let db = TestDb::new(Backend::Sqlite).await;
    let server = Server::start(&db, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let plain = json!({"client_name": "Plain", "redirect_uris": ["https://app.example/cb"]});
    assert_eq!(register(&server, &plain).await.status, 201, "not required: plain metadata is fine");
    let rsa = rsa_key("k");
    let statement = sign(&rsa, "RS256", Some("k"), &claims(json!({})));
    let page = register(&server, &with_statement(statement)).await;
    assert_oauth_error(&page, 400, "unapproved_software_statement", "no trusted keys");
    // Still a JWS check first: garbage is invalid, whatever is trusted.
    let page = register(&server, &with_statement("garbage")).await;
    assert_oauth_error(&page, 400, "invalid_software_statement", "garbage");
    drop(server);

    // Configuration errors name the key.
    let err = Server::try_start(
        &db,
        &[("LATCHKEY_REGISTRATION_MODE", "open"), ("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_REQUIRED", "true")],
    )
    .await
    .err()
    .expect("required without keys must not start");
    assert!(err.contains("registration.software_statement_required"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private.json");
    let pair = RS256.generate_key_pair(2048).unwrap();
    let jwk: Value = serde_json::to_value(pair.to_jwk_private_key().as_ref()).unwrap();
    std::fs::write(&private, json!({"keys": [jwk]}).to_string()).unwrap();
    let err = Server::try_start(
        &db,
        &[
            ("LATCHKEY_REGISTRATION_MODE", "open"),
            ("LATCHKEY_REGISTRATION_SOFTWARE_STATEMENT_JWKS_FILE", private.to_str().unwrap()),
        ],
    )
    .await
    .err()
    .expect("a private key file must not start");
    assert!(err.contains("registration.software_statement_jwks_file") && err.contains("public"), "{err}");
}

//! Client authentication (RFC 6749 §2.3, RFC 7523 §3) the same way at the
//! token, introspection and revocation endpoints: one method per request,
//! the registered one, and 400 for a malformed request versus 401 with a
//! Basic challenge for failed credentials (RFC 6749 §5.2).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use latchkey_server::testing::{TestApp, TestClient, TestResponse};

use crate::common::*;

const ENDPOINTS: [&str; 3] = ["/token", "/introspect", "/revoke"];

/// A form each endpoint answers with 200 for an authenticated client.
fn form_for(endpoint: &str) -> Vec<(&'static str, &'static str)> {
    match endpoint {
        "/token" => vec![("grant_type", "client_credentials")],
        _ => vec![("token", "not-a-token")],
    }
}

async fn machine(app: &TestApp, method: &str) -> TestClient {
    app.create_client(&format!("Machine {method}"), &["--grant-type", "client_credentials", "--auth-method", method])
        .await
}

/// `POST endpoint` with the raw `Authorization` headers and extra form fields.
async fn call(app: &TestApp, endpoint: &str, authorization: &[&str], extra: &[(&str, &str)]) -> TestResponse {
    let mut form = form_for(endpoint);
    form.extend_from_slice(extra);
    let mut req = app.post(endpoint);
    for value in authorization {
        req = req.header("authorization", value);
    }
    req.form(&form).await
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn assert_invalid_client(res: &TestResponse, what: &str) {
    assert_oauth_error(res, 401, "invalid_client", what);
    assert_eq!(res.header("www-authenticate"), Some("Basic realm=\"latchkey\""), "{what}: a 401 names its scheme");
}

#[tokio::test]
async fn the_registered_method_and_nothing_else() {
    let app = TestApp::start().await;
    let by_basic = machine(&app, "client_secret_basic").await;
    let by_post = machine(&app, "client_secret_post").await;
    let (bid, bsecret) = (by_basic.id.as_str(), by_basic.secret());
    let (pid, psecret) = (by_post.id.as_str(), by_post.secret());
    for endpoint in ENDPOINTS {
        let ok = call(&app, endpoint, &[&basic(bid, bsecret)], &[]).await;
        assert_eq!(ok.status, 200, "{endpoint}: basic: {}", ok.describe());
        let ok = call(&app, endpoint, &[], &[("client_id", pid), ("client_secret", psecret)]).await;
        assert_eq!(ok.status, 200, "{endpoint}: post: {}", ok.describe());
        // The same client_id in the body as in the header is no conflict.
        let ok = call(&app, endpoint, &[&basic(bid, bsecret)], &[("client_id", bid)]).await;
        assert_eq!(ok.status, 200, "{endpoint}: basic and the same client_id: {}", ok.describe());

        for (what, auth, extra) in [
            ("post for a basic client", vec![], vec![("client_id", bid), ("client_secret", bsecret)]),
            ("basic for a post client", vec![basic(pid, psecret)], vec![]),
            ("a wrong secret", vec![basic(bid, "wrong")], vec![]),
            ("an empty secret", vec![basic(bid, "")], vec![]),
            ("another client's secret", vec![basic(bid, psecret)], vec![]),
            ("an unknown client", vec![basic("no-such-client", bsecret)], vec![]),
            ("no secret at all", vec![], vec![("client_id", bid)]),
            ("a Bearer header", vec![format!("Bearer {bsecret}")], vec![]),
            ("Basic that is not base64", vec!["Basic not base64!!".into()], vec![]),
            ("Basic without a colon", vec![format!("Basic {}", STANDARD.encode(bid))], vec![]),
            ("Basic with an empty id", vec![basic("", bsecret)], vec![]),
            ("Basic that is not UTF-8", vec![format!("Basic {}", STANDARD.encode(b"\xff\xfe:x"))], vec![]),
            ("two Authorization headers", vec![basic(bid, bsecret), basic(bid, bsecret)], vec![]),
        ] {
            let auth: Vec<&str> = auth.iter().map(String::as_str).collect();
            let res = call(&app, endpoint, &auth, &extra).await;
            assert_invalid_client(&res, &format!("{endpoint}: {what}"));
        }
        let res = call(&app, endpoint, &[], &[]).await;
        assert_invalid_client(&res, &format!("{endpoint}: no client at all"));
        let desc = res.json()["error_description"].as_str().unwrap_or_default().to_string();
        assert!(desc.contains("required"), "{endpoint}: says authentication is required: {desc:?}");
    }
}

#[tokio::test]
async fn malformed_requests_are_invalid_request() {
    let app = TestApp::start().await;
    let by_basic = machine(&app, "client_secret_basic").await;
    let (id, secret) = (by_basic.id.as_str(), by_basic.secret());
    let assertion_type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    for endpoint in ENDPOINTS {
        for (what, auth, extra) in [
            ("basic and post at once", vec![basic(id, secret)], vec![("client_secret", secret)]),
            ("a client_id that differs from Basic's", vec![basic(id, secret)], vec![("client_id", "someone-else")]),
            (
                "an assertion and Basic",
                vec![basic(id, secret)],
                vec![("client_assertion", "a.b.c"), ("client_assertion_type", assertion_type)],
            ),
            (
                "an assertion and a secret",
                vec![],
                vec![
                    ("client_assertion", "a.b.c"),
                    ("client_assertion_type", assertion_type),
                    ("client_secret", secret),
                ],
            ),
            (
                "an assertion of another type",
                vec![],
                vec![("client_assertion", "a.b.c"), ("client_assertion_type", "urn:example:saml")],
            ),
            ("an assertion without its type", vec![], vec![("client_assertion", "a.b.c")]),
            (
                "an assertion type without assertion",
                vec![],
                vec![("client_assertion_type", assertion_type), ("client_id", id)],
            ),
        ] {
            let auth: Vec<&str> = auth.iter().map(String::as_str).collect();
            let res = call(&app, endpoint, &auth, &extra).await;
            assert_oauth_error(&res, 400, "invalid_request", &format!("{endpoint}: {what}"));
        }
        // Not a JWT at all, or one naming no client: failed credentials.
        for bad in ["a.b.c", "not-a-jwt", "e30.e30.sig"] {
            let res =
                call(&app, endpoint, &[], &[("client_assertion", bad), ("client_assertion_type", assertion_type)])
                    .await;
            assert_invalid_client(&res, &format!("{endpoint}: assertion {bad:?}"));
        }
    }
}

#[tokio::test]
async fn basic_credentials_are_form_decoded() {
    // RFC 6749 §2.3.1: the id and secret are form-encoded before Basic
    // encoding, so an escaped character is the character.
    let app = TestApp::start().await;
    let client = machine(&app, "client_secret_basic").await;
    let escaped_id: String = client.id.bytes().map(|b| format!("%{b:02X}")).collect();
    for endpoint in ENDPOINTS {
        let res = call(&app, endpoint, &[&basic(&escaped_id, client.secret())], &[]).await;
        assert_eq!(res.status, 200, "{endpoint}: {}", res.describe());
    }
}

#[tokio::test]
async fn public_clients_use_none_and_may_not_introspect() {
    let app = TestApp::start().await;
    let public = public(&app).await;
    let id = public.id.as_str();
    // Revocation takes a public client by its client_id alone.
    let res = app.post("/revoke").form(&[("token", "x"), ("client_id", id)]).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    for (what, auth, extra) in [
        ("a public client with a secret", vec![], vec![("client_id", id), ("client_secret", "anything")]),
        ("a public client with Basic", vec![basic(id, "")], vec![]),
    ] {
        let auth: Vec<&str> = auth.iter().map(String::as_str).collect();
        let res = call(&app, "/revoke", &auth, &extra).await;
        assert_invalid_client(&res, what);
    }
    // Introspection answers only confidential clients.
    let res = app.post("/introspect").form(&[("token", "x"), ("client_id", id)]).await;
    assert_invalid_client(&res, "introspection by a public client");
}

//! Token exchange (RFC 8693; docs/device-and-exchange.md, "Token
//! exchange"): the request's validation and its error codes (§2.2.2), the
//! policy's targets and narrowing lists, and time moved by the mock clock
//! (an expired subject; the new token never outlives its subject). Chains
//! of actors on every backend are tested end to end in
//! `tests/tests/rfc8693_token_exchange.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_server::testing::{TestApp, TestClient, TestResponse};
use serde_json::{Value, json};

use crate::common::*;

pub(crate) const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
pub(crate) const AT: &str = "urn:ietf:params:oauth:token-type:access_token";
const IDT: &str = "urn:ietf:params:oauth:token-type:id_token";
const JWT: &str = "urn:ietf:params:oauth:token-type:jwt";
const API: &str = "https://api.example";

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap_or_else(|| panic!("not a JWT: {jwt}"));
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    /// A web app: the code flow, and token exchange.
    pub(crate) front: TestClient,
    /// A service that exchanges too.
    pub(crate) orders: TestClient,
    pub(crate) access_token: String,
    pub(crate) id_token: String,
}

pub(crate) async fn setup(env: &[(&str, &str)]) -> Setup {
    let app = TestApp::with_env(env).await;
    let alice = alice(&app).await;
    let front = app
        .create_client(
            "Front",
            &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", GRANT, "--skip-consent"],
        )
        .await;
    let orders = app
        .create_client("Orders", &["--grant-type", "client_credentials", "--grant-type", GRANT, "--scope", "svc"])
        .await;
    // A client that may ask for tokens for API, so the server knows it.
    app.create_client("Api", &["--grant-type", "client_credentials", "--scope", "svc", "--audience", API]).await;
    let t = tokens(&app, &front, &alice, SCOPES).await;
    let access_token = t["access_token"].as_str().unwrap().to_string();
    let id_token = t["id_token"].as_str().unwrap().to_string();
    Setup { app, front, orders, access_token, id_token }
}

async fn exchange(
    app: &TestApp,
    client: &TestClient,
    subject: &str,
    kind: &str,
    extra: &[(&str, &str)],
) -> TestResponse {
    let mut form = vec![("grant_type", GRANT), ("subject_token", subject), ("subject_token_type", kind)];
    form.extend_from_slice(extra);
    token(app, client, &form).await
}

fn ok(res: &TestResponse, what: &str) -> Value {
    assert_eq!(res.status.as_u16(), 200, "{what}: {}", res.describe());
    assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
    res.json()
}

#[tokio::test]
async fn a_valid_exchange_answers_per_rfc_8693() {
    let s = setup(&[]).await;
    let (app, front) = (&s.app, &s.front);
    let subject = payload(&s.access_token);

    let body = ok(&exchange(app, front, &s.access_token, AT, &[("audience", &s.orders.id)]).await, "to a client");
    assert_eq!(body["issued_token_type"], AT, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_i64().is_some_and(|e| e > 0 && e <= 900), "{body}");
    assert_eq!(body["scope"], subject["scope"], "the subject's scope by default: {body}");
    assert!(body.get("refresh_token").is_none() && body.get("id_token").is_none(), "{body}");
    let c = payload(body["access_token"].as_str().unwrap());
    assert_eq!(c["sub"], subject["sub"], "{c}");
    assert_eq!(c["aud"], s.orders.id.as_str(), "{c}");
    assert_eq!(c["client_id"], front.id.as_str(), "the exchanging client: {c}");
    assert_eq!(c["may_act"], json!({"sub": s.orders.id}), "only the audience may act with it: {c}");
    assert!(c.get("act").is_none(), "impersonation: no act: {c}");
    assert_eq!((c["auth_time"].clone(), c["acr"].clone()), (subject["auth_time"].clone(), subject["acr"].clone()));

    // A narrower scope; a resource the server knows; the default audience.
    let body = ok(&exchange(app, front, &s.access_token, AT, &[("scope", "openid"), ("resource", API)]).await, "api");
    assert_eq!(body["scope"], "openid", "{body}");
    let c = payload(body["access_token"].as_str().unwrap());
    assert_eq!((c["aud"].as_str(), c.get("may_act")), (Some(API), None), "{c}");
    let body = ok(&exchange(app, front, &s.access_token, AT, &[("audience", API)]).await, "audience = a resource");
    assert_eq!(payload(body["access_token"].as_str().unwrap())["aud"], API);
    let body = ok(&exchange(app, front, &s.access_token, AT, &[]).await, "no target");
    assert_eq!(payload(body["access_token"].as_str().unwrap())["aud"], subject["aud"], "the default audience");

    // The ID token, as such or as a JWT; the access token as a JWT.
    for (token, kind) in [(&s.id_token, IDT), (&s.id_token, JWT), (&s.access_token, JWT)] {
        let body = ok(&exchange(app, front, token, kind, &[("audience", &s.orders.id)]).await, kind);
        let c = payload(body["access_token"].as_str().unwrap());
        assert_eq!(c["sub"], subject["sub"], "{kind}: {c}");
        assert!(body["scope"].as_str().unwrap().contains("openid"), "{body}");
    }

    // The caller may introspect what it exchanged; the audience too.
    let body = ok(&exchange(app, front, &s.access_token, AT, &[("audience", &s.orders.id)]).await, "again");
    let exchanged = body["access_token"].as_str().unwrap();
    for who in [front, &s.orders] {
        let v = app.post("/introspect").basic(&who.id, who.secret()).form(&[("token", exchanged)]).await.json();
        assert_eq!(v["active"], true, "{v}");
        assert_eq!(v["sub"], subject["sub"], "{v}");
    }
}

#[tokio::test]
async fn bad_requests_get_the_rfc_8693_codes() {
    let s = setup(&[]).await;
    let (app, front, at) = (&s.app, &s.front, s.access_token.as_str());
    let orders = s.orders.id.as_str();
    fn base<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut f = vec![("grant_type", GRANT)];
        f.extend_from_slice(extra);
        f
    }
    // invalid_request: the request itself.
    for (what, form) in [
        ("no subject_token", base(&[("subject_token_type", AT)])),
        ("no subject_token_type", vec![("grant_type", GRANT), ("subject_token", at)]),
    ] {
        let res = token(app, front, &form).await;
        assert_oauth_error(&res, 400, "invalid_request", what);
        assert!(res.json()["error_description"].as_str().unwrap().contains("subject_token"), "{what}");
    }
    for (what, kind, extra) in [
        ("an unsupported subject_token_type", "urn:ietf:params:oauth:token-type:saml2", vec![]),
        ("a refresh token type", "urn:ietf:params:oauth:token-type:refresh_token", vec![]),
        ("an ID token presented as an access token", AT, vec![]),
        (
            "requested_token_type refresh_token",
            AT,
            vec![("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token")],
        ),
        ("requested_token_type id_token", AT, vec![("requested_token_type", IDT)]),
        ("actor_token without its type", AT, vec![("actor_token", at)]),
        ("actor_token_type without a token", AT, vec![("actor_token_type", AT)]),
        ("resource and audience", AT, vec![("resource", API), ("audience", orders)]),
    ] {
        let subject = if what.starts_with("an ID token") { s.id_token.as_str() } else { at };
        let res = exchange(app, front, subject, kind, &extra).await;
        assert_oauth_error(&res, 400, "invalid_request", what);
    }
    // An actor token issued to another client.
    let res = token(app, &s.orders, &[("grant_type", "client_credentials")]).await;
    let orders_token = ok(&res, "client_credentials")["access_token"].as_str().unwrap().to_string();
    let res = exchange(app, front, at, AT, &[("actor_token", &orders_token), ("actor_token_type", AT)]).await;
    assert_oauth_error(&res, 400, "invalid_request", "an actor token of another client");
    // invalid_request for tokens that are not good subjects (§2.2.2).
    for (what, subject) in [("garbage", "not-a-token"), ("a forged JWT", "e30.e30.e30")] {
        assert_oauth_error(&exchange(app, front, subject, AT, &[]).await, 400, "invalid_request", what);
    }
    // A token neither issued to the caller nor naming it.
    let res = exchange(app, &s.orders, at, AT, &[]).await;
    assert_oauth_error(&res, 400, "invalid_request", "someone else's token");
    // Repeated parameters.
    let res =
        token(app, front, &base(&[("subject_token", at), ("subject_token", at), ("subject_token_type", AT)])).await;
    assert_oauth_error(&res, 400, "invalid_request", "subject_token twice");

    // invalid_target: targets the server does not know.
    for (name, value) in [
        ("audience", "nobody"),
        ("audience", "https://unknown.example"),
        ("resource", "https://unknown.example"),
        ("resource", "not a uri"),
        ("resource", "https://api.example#f"),
    ] {
        let res = exchange(app, front, at, AT, &[(name, value)]).await;
        assert_oauth_error(&res, 400, "invalid_target", &format!("{name}={value}"));
    }
    // invalid_scope: never wider than the subject token.
    for scope in ["openid phone", "svc", "openid profile email offline_access"] {
        let res = exchange(app, front, at, AT, &[("scope", scope), ("audience", orders)]).await;
        assert_oauth_error(&res, 400, "invalid_scope", scope);
    }
    // unauthorized_client: a client without the grant, even with a token issued to it.
    let plain = confidential(app).await;
    let res = exchange(app, &plain, at, AT, &[]).await;
    assert_oauth_error(&res, 400, "unauthorized_client", "a client without the grant");
    // Public clients cannot even register for it.
    let out =
        app.cli(&["client", "create", "--name", "P", "--public", "--redirect-uri", CB, "--grant-type", GRANT]).await;
    assert!(!out.ok && out.error.contains("public"), "a public token-exchange client: {out:?}");
}

#[tokio::test]
async fn the_new_token_never_outlives_its_subject_and_expired_ones_are_refused() {
    let s = setup(&[]).await;
    let (app, front, at) = (&s.app, &s.front, s.access_token.as_str());
    let exp = payload(at)["exp"].as_i64().unwrap();
    app.clock.advance(800);
    let body = ok(&exchange(app, front, at, AT, &[]).await, "near its end");
    let c = payload(body["access_token"].as_str().unwrap());
    assert_eq!(c["exp"].as_i64(), Some(exp), "capped at the subject's exp: {c}");
    assert_eq!(body["expires_in"].as_i64(), Some(exp - app.clock_now()), "{body}");
    app.clock.advance(100);
    let res = exchange(app, front, at, AT, &[]).await;
    assert_oauth_error(&res, 400, "invalid_request", "an expired subject token");
}

#[tokio::test]
async fn revoked_subjects_and_ended_sessions_are_refused() {
    let s = setup(&[]).await;
    let (app, front) = (&s.app, &s.front);
    // The ID token is good while its session lasts.
    ok(&exchange(app, front, &s.id_token, IDT, &[]).await, "an ID token");
    let res = app.post("/revoke").basic(&front.id, front.secret()).form(&[("token", &s.access_token)]).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.describe());
    let res = exchange(app, front, &s.access_token, AT, &[]).await;
    assert_oauth_error(&res, 400, "invalid_request", "a revoked access token");
    app.cli(&["session", "revoke", "--user", "alice", "--all"]).await.ok();
    let res = exchange(app, front, &s.id_token, IDT, &[]).await;
    assert_oauth_error(&res, 400, "invalid_request", "an ID token of an ended session");
}

#[tokio::test]
async fn operators_narrow_targets_and_subject_clients_per_client() {
    let s = setup(&[]).await;
    let (app, front, at) = (&s.app, &s.front, s.access_token.as_str());
    let orders = s.orders.id.as_str();
    let shown = app.cli_json(&["client", "update", &front.id, "--exchange-audience", API]).await;
    assert_eq!(shown["token_exchange_audiences"], json!([API]), "{shown}");
    app.wait_for_change_feed().await;
    ok(&exchange(app, front, at, AT, &[("resource", API)]).await, "the allowed resource");
    for target in [("audience", orders), ("audience", API.trim_end_matches('e'))] {
        let res = exchange(app, front, at, AT, &[target]).await;
        assert_oauth_error(&res, 400, "invalid_target", &format!("{target:?} outside the list"));
    }
    // Without a target the default audience must be on the list too.
    assert_oauth_error(&exchange(app, front, at, AT, &[]).await, 400, "invalid_target", "the default audience");

    // Subject clients: only tokens of the listed clients.
    app.cli_json(&["client", "update", &front.id, "--clear-exchange-lists"]).await;
    app.cli_json(&["client", "update", &front.id, "--exchange-subject-client", orders]).await;
    app.wait_for_change_feed().await;
    let res = exchange(app, front, at, AT, &[]).await;
    assert_oauth_error(&res, 400, "invalid_request", "a subject client outside the list");
    let shown = app.cli_json(&["client", "update", &front.id, "--exchange-subject-client", &front.id]).await;
    assert_eq!(shown["token_exchange_subject_clients"], json!([front.id]), "{shown}");
    app.wait_for_change_feed().await;
    ok(&exchange(app, front, at, AT, &[]).await, "its own tokens again");

    // The lists need the grant, and are refused with a clear message otherwise.
    let out = app
        .cli(&["client", "create", "--name", "X", "--grant-type", "client_credentials", "--exchange-audience", API])
        .await;
    assert!(!out.ok && out.error.contains("token_exchange_audiences needs"), "{out:?}");
}

#[tokio::test]
async fn self_registration_gets_the_grant_only_when_named_and_lists_only_narrow() {
    let body = json!({"grant_types": ["client_credentials", GRANT], "client_name": "Svc",
                      "token_exchange_audiences": ["orders", API]});
    let open = TestApp::with_env(&[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let res = open.post("/register").json(&body).await;
    assert_oauth_error(&res, 400, "invalid_client_metadata", "an empty allowed_grant_types does not open it");
    assert!(res.json()["error_description"].as_str().unwrap().contains("registration.allowed_grant_types"));

    let app = TestApp::with_env(&[
        ("LATCHKEY_REGISTRATION_MODE", "open"),
        ("LATCHKEY_REGISTRATION_ALLOWED_GRANT_TYPES", &format!("client_credentials,{GRANT}")),
    ])
    .await;
    let res = app.post("/register").json(&body).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.describe());
    let reg = res.json();
    assert_eq!(reg["grant_types"], json!(["client_credentials", GRANT]), "{reg}");
    assert_eq!(reg["token_exchange_audiences"], json!(["orders", API]), "{reg}");
    let uri = reg["registration_client_uri"].as_str().unwrap().trim_start_matches("http://localhost:8080").to_string();
    let rat = reg["registration_access_token"].as_str().unwrap().to_string();
    let put = |members: Value| {
        let mut v =
            json!({"client_id": reg["client_id"], "grant_types": ["client_credentials", GRANT], "client_name": "Svc"});
        v.as_object_mut().unwrap().extend(members.as_object().unwrap().clone());
        v
    };
    // RFC 7592: widening is refused; leaving the list out keeps it; narrowing works.
    let res = app
        .request(axum::http::Method::PUT, &uri)
        .bearer(&rat)
        .json(&put(json!({"token_exchange_audiences": ["orders", "billing"]})))
        .await;
    assert_oauth_error(&res, 400, "invalid_client_metadata", "widening through RFC 7592");
    let res = app.request(axum::http::Method::PUT, &uri).bearer(&rat).json(&put(json!({}))).await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.describe());
    assert_eq!(res.json()["token_exchange_audiences"], json!(["orders", API]), "kept when left out");
    let res = app
        .request(axum::http::Method::PUT, &uri)
        .bearer(&rat)
        .json(&put(json!({"token_exchange_audiences": [API]})))
        .await;
    assert_eq!(res.status.as_u16(), 200, "{}", res.describe());
    assert_eq!(res.json()["token_exchange_audiences"], json!([API]), "narrowed");
}

#[tokio::test]
async fn the_admin_api_sets_the_lists() {
    let app = TestApp::with_env(&[("LATCHKEY_ADMIN_ENABLED", "true")]).await;
    let out = app.cli_json(&["admin", "token", "create", "--name", "t", "--scope", "clients:write"]).await;
    let admin = out["token"].as_str().unwrap().to_string();
    let body = json!({"client_name": "Svc", "grant_types": ["client_credentials", GRANT],
                      "token_exchange_audiences": [API], "token_exchange_subject_clients": ["front"]});
    let res = app.post("/admin/api/v1/clients").bearer(&admin).json(&body).await;
    assert_eq!(res.status.as_u16(), 201, "{}", res.describe());
    let c = res.json();
    assert_eq!(
        (c["token_exchange_audiences"].clone(), c["token_exchange_subject_clients"].clone()),
        (json!([API]), json!(["front"])),
        "{c}"
    );
    let bad = json!({"client_name": "X", "grant_types": ["client_credentials"], "token_exchange_audiences": [API]});
    let res = app.post("/admin/api/v1/clients").bearer(&admin).json(&bad).await;
    assert_eq!(res.status.as_u16(), 400, "the lists need the grant: {}", res.describe());
}

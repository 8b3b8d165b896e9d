//! The audit log (docs/operations.md, "Audit log"): security-relevant events
//! from the server and the CLI land in one ordered, append-only log, readable
//! with `latchkey audit list`, and never carry secrets.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(security_events_are_recorded_in_order_without_secrets);

fn audit_list(db: &TestDb, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "list", "--limit", "1000"];
    args.extend_from_slice(filters);
    cli_json(db, &args).as_array().expect("a JSON array").clone()
}

async fn security_events_are_recorded_in_order_without_secrets(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_REGISTRATION_MODE", "open")]).await;
    let client = offline_client(&db, "RP", &[]);

    // A failed and a good sign-in, consent, tokens.
    let b = Browser::new(&server);
    let page = b.authorize(&code_request(&client.id, &pkce()).set("scope", "openid")).await;
    b.login(&page, "alice", "not-her-password").await;
    let t = tokens_for(&server, &Browser::new(&server), &client, &alice, OFFLINE_SCOPES).await;
    let rt = str_of(&t, "refresh_token").to_string();
    refresh_ok(&server, &client, &rt).await;
    assert_eq!(refresh(&server, auth_of(&client), &rt, None).await.status, 400, "reuse");

    // A self-registered client, then deleted through RFC 7592.
    let res = http()
        .post(server.url("/register"))
        .json(&json!({"client_name": "Self", "redirect_uris": ["https://app.example/cb"]}))
        .send()
        .await
        .unwrap();
    let reg: Value = res.json().await.unwrap();
    let self_id = str_of(&reg, "client_id").to_string();
    let reg_token = str_of(&reg, "registration_access_token").to_string();
    let res = http().delete(str_of(&reg, "registration_client_uri")).bearer_auth(&reg_token).send().await.unwrap();
    assert_eq!(res.status(), 204);

    // Operator actions.
    cli(&db, &["user", "disable", "alice"], &[], None).ok();
    cli(&db, &["keys", "rotate", "--force"], &[], None).ok();

    let events = audit_list(&db, &[]);
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    let expected = [
        "user.created",
        "client.created",
        "login.failure",
        "login.success",
        "consent.granted",
        "token_family.revoked",
        "client.created",
        "client.deleted",
        "user.disabled",
        "key.rotated",
    ];
    assert_eq!(kinds, expected, "{events:#?}");
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[1] == w[0] + 1), "ids rise by one: {ids:?}");

    let find = |kind: &str| events.iter().find(|e| e["kind"] == kind).unwrap();
    assert_eq!(find("login.failure")["subject"], "alice");
    assert_eq!(find("login.failure")["client_id"], client.id.as_str());
    assert_eq!(find("login.failure")["ip"], "127.0.0.1", "sign-ins carry the source address");
    assert_eq!(find("login.success")["actor"], format!("user:{}", alice.id));
    assert_eq!(find("consent.granted")["client_id"], client.id.as_str());
    let revoked = find("token_family.revoked");
    assert_eq!(revoked["details"]["reason"], "refresh_token_reuse");
    assert_eq!(revoked["subject"], alice.id.as_str());
    let deleted = find("client.deleted");
    assert_eq!(deleted["subject"], self_id.as_str());
    assert_eq!(deleted["ip"], "127.0.0.1", "HTTP events carry the source address");
    assert_eq!(find("user.disabled")["actor"], "cli");

    // Filters and paging.
    let failures = audit_list(&db, &["--kind", "login.failure"]);
    assert_eq!(failures.len(), 1);
    let about_self = audit_list(&db, &["--subject", &self_id]);
    assert_eq!(
        about_self.iter().map(|e| e["kind"].as_str().unwrap()).collect::<Vec<_>>(),
        ["client.created", "client.deleted"]
    );
    let after = ids[ids.len() - 2].to_string();
    assert_eq!(audit_list(&db, &["--after", &after]).len(), 1);

    // No secret anywhere in the log or its log lines.
    let dump = serde_json::to_string(&events).unwrap();
    for secret in [client.secret(), &alice.password, "not-her-password", &rt, &reg_token] {
        assert!(!dump.contains(secret), "a secret in the audit log");
        assert!(!server.log().contains(secret), "a secret in the server log");
    }
    assert!(server.log().contains("audit event"), "audit events also go to the log");
}

//! The admin API's second-factor routes (docs/admin-api.md): a support desk
//! sees what a person has set up and removes it for someone who lost their
//! phone; each route needs its scope, the removal is audited with the admin
//! as actor, and afterwards the password alone signs the person in.

use latchkey_server::testing::TestApp;
use serde_json::json;

use crate::common::*;
use crate::mfa::{enroll, password_step};

const FACTORS: &str = "/admin/api/v1/users/{id}/factors";

async fn admin_token(app: &TestApp, scopes: &[&str]) -> (String, String) {
    let mut args = vec!["admin", "token", "create", "--name", "desk"];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let out = app.cli_json(&args).await;
    (out["id"].as_str().unwrap().to_string(), out["token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn the_admin_api_lists_and_removes_a_persons_factors() {
    let app = TestApp::with_env(&[("LATCHKEY_ADMIN_ENABLED", "true")]).await;
    let (client, alice) = (confidential(&app).await, alice(&app).await);
    enroll(&app, &alice).await;
    let path = FACTORS.replace("{id}", &alice.id);
    let reset = format!("{path}/reset");
    let (_, reader) = admin_token(&app, &["users:read"]).await;
    let (writer_id, writer) = admin_token(&app, &["users:write"]).await;

    let listed = app.get(&path).bearer(&reader).await;
    assert_eq!(listed.status, 200, "{}", listed.describe());
    let body = listed.json();
    assert_eq!(body["user_id"], alice.id.as_str());
    assert!(body["totp"]["confirmed_at"].is_i64(), "{body}");
    assert_eq!(body["recovery_codes_left"], 10, "{body}");
    assert_eq!(body["passkeys"], json!([]), "{body}");
    assert!(!listed.text().contains("secret"), "no secret on the wire: {body}");

    // Each route needs its own scope; an unknown person is a 404.
    assert_eq!(app.get(&path).bearer(&writer).await.status, 403);
    assert_eq!(app.post(&reset).bearer(&reader).await.status, 403);
    assert_eq!(app.get(&FACTORS.replace("{id}", "nobody")).bearer(&reader).await.status, 404);
    assert_eq!(app.post(&FACTORS.replace("{id}", "nobody/reset")).bearer(&writer).await.status, 404);
    assert!(app.store().get_totp(&alice.id).await.unwrap().is_some(), "refusals remove nothing");

    let removed = app.post(&reset).bearer(&writer).await;
    assert_eq!(removed.status, 200, "{}", removed.describe());
    assert_eq!(
        removed.json(),
        json!({"user_id": alice.id, "totp_removed": true, "recovery_codes_removed": 10, "passkeys_removed": 0})
    );
    // Again: nothing left, still a success (automation may retry).
    let again = app.post(&reset).bearer(&writer).await;
    assert_eq!(
        again.json(),
        json!({"user_id": alice.id, "totp_removed": false, "recovery_codes_removed": 0, "passkeys_removed": 0})
    );
    let listed = app.get(&path).bearer(&reader).await.json();
    assert_eq!((listed["totp"].clone(), listed["recovery_codes_left"].clone()), (json!(null), json!(0)));

    let events = app.cli_json(&["audit", "list", "--kind", "mfa.removed"]).await;
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 1, "only the removal that removed something: {events:?}");
    assert_eq!(events[0]["actor"], format!("admin:{writer_id}"));
    assert_eq!(events[0]["subject"], alice.id.as_str());

    // The password alone signs Alice in now.
    let page = password_step(&app.browser(), &client, &alice, &pkce()).await;
    assert!(page.input("code").is_none(), "no code page after the reset: {}", page.describe());
}

//! Profiles (OIDC Core §5.1): people edit the claims the operator lets them
//! on `/account`, each value checked by its rule, and apps receive them by
//! scope (`profile`, `address`, `phone`) at UserInfo.

use latchkey_server::testing::{Browser, TestApp, TestResponse};
use serde_json::json;

use crate::common::*;

/// Signs `alice` in on `/account`; returns the account page.
async fn account(browser: &Browser<'_>) -> TestResponse {
    let form = browser.get("/account").await;
    let csrf = form.input("csrf").unwrap();
    let login = [("csrf", csrf.as_str()), ("username", "alice"), ("password", PASSWORD)];
    assert_eq!(browser.post_form("/account/login", &login).await.status, 303);
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "{}", page.describe());
    page
}

async fn save(browser: &Browser<'_>, page: &TestResponse, fields: &[(&str, &str)]) -> TestResponse {
    let csrf = page.input("csrf").unwrap();
    let mut form = vec![("csrf", csrf.as_str())];
    form.extend_from_slice(fields);
    browser.post_form("/account/profile", &form).await
}

#[tokio::test]
async fn people_edit_their_profile_on_the_account_page() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let browser = app.browser();
    let page = account(&browser).await;
    assert!(
        page.text().contains("id=\"claim-name\" name=\"name\" type=\"text\" value=\"Alice Liddell\""),
        "the current value: {}",
        page.describe()
    );
    for field in ["nickname", "birthdate", "zoneinfo", "locale", "picture", "address.locality"] {
        assert!(page.input(field).is_some(), "{field}: {}", page.describe());
    }
    assert!(page.input("email").is_none() && page.input("phone_number").is_none(), "not editable by default");

    let fields = [
        ("name", "Alice Liddell"),
        ("nickname", "Al"),
        ("zoneinfo", "Europe/London"),
        ("locale", "en_GB"),
        ("address.locality", "Oxford"),
        ("address.country", "GB"),
        ("email", "mallory@example.com"),
    ];
    let res = save(&browser, &page, &fields).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    assert_eq!(res.location(), Some("/account?done=profile-saved"));
    let stored = app.store().get_user(&alice.id).await.unwrap().unwrap().claims;
    assert_eq!(stored.nickname.as_deref(), Some("Al"));
    assert_eq!(stored.locale.as_deref(), Some("en-GB"), "BCP 47");
    assert_eq!(stored.address.as_ref().and_then(|a| a.locality.as_deref()), Some("Oxford"));
    assert_eq!(stored.email.as_deref(), Some("alice@example.com"), "a field people may not edit is ignored");
    assert!(stored.email_verified);
    let shown = browser.get("/account?done=profile-saved").await;
    assert!(shown.text().contains("Your profile has been saved."), "{}", shown.describe());
    assert_eq!(shown.input("nickname").as_deref(), Some("Al"));
    let audit = app.cli_json(&["audit", "list", "--kind", "user.updated"]).await;
    let changed = &audit.as_array().unwrap().last().unwrap()["details"]["changed"];
    assert_eq!(*changed, json!(["nickname", "zoneinfo", "locale", "address.locality", "address.country"]));

    // One invalid value saves nothing, and the form keeps what was typed.
    let page = browser.get("/account").await;
    let res =
        save(&browser, &page, &[("nickname", "Ally"), ("birthdate", "30/04/1990"), ("address.country", "GB")]).await;
    assert_eq!(res.status, 400, "{}", res.describe());
    let says = "Birthday: enter a date as YYYY-MM-DD, as 0000-MM-DD to leave out the year, or just the year";
    assert!(res.text().contains(says), "{}", res.describe());
    assert_eq!(res.input("birthdate").as_deref(), Some("30/04/1990"));
    assert_eq!(res.input("nickname").as_deref(), Some("Ally"));
    let stored = app.store().get_user(&alice.id).await.unwrap().unwrap().claims;
    assert_eq!((stored.nickname.as_deref(), stored.birthdate), (Some("Al"), None));

    // The form is the whole profile: a field left empty unsets its claim.
    let res =
        save(&browser, &page, &[("name", "Alice Liddell"), ("nickname", ""), ("zoneinfo", "Europe/London")]).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let stored = app.store().get_user(&alice.id).await.unwrap().unwrap().claims;
    assert_eq!((stored.nickname, stored.address, stored.locale), (None, None, None));
    assert_eq!((stored.name.as_deref(), stored.zoneinfo.as_deref()), (Some("Alice Liddell"), Some("Europe/London")));
    // A forged form changes nothing.
    let forged = browser.post_form("/account/profile", &[("csrf", "forged"), ("nickname", "Pwned")]).await;
    assert_eq!(forged.status, 403, "{}", forged.describe());
    // Signed out: the form goes nowhere.
    let stranger = app.browser();
    let res = stranger.post_form("/account/profile", &[("csrf", "x"), ("nickname", "Pwned")]).await;
    assert_eq!(res.status, 303);
    assert_eq!(app.store().get_user(&alice.id).await.unwrap().unwrap().claims.nickname, None);
}

#[tokio::test]
async fn operators_choose_which_claims_people_may_edit() {
    let app = TestApp::with_env(&[("LATCHKEY_ACCOUNT_EDITABLE_CLAIMS", "nickname")]).await;
    let person = alice(&app).await;
    let browser = app.browser();
    let page = account(&browser).await;
    assert!(page.input("nickname").is_some());
    // (The passkey form has a field `name` of its own: the profile's are checked by id.)
    assert!(
        !page.text().contains("id=\"claim-name\"") && page.input("address.locality").is_none(),
        "{}",
        page.describe()
    );
    let res = save(&browser, &page, &[("nickname", "Al"), ("name", "Mallory")]).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let stored = app.store().get_user(&person.id).await.unwrap().unwrap().claims;
    assert_eq!((stored.nickname.as_deref(), stored.name.as_deref()), (Some("Al"), Some("Alice Liddell")));

    // None: no profile section at all.
    let app = TestApp::with_env(&[("LATCHKEY_ACCOUNT_EDITABLE_CLAIMS", "")]).await;
    alice(&app).await;
    let page = account(&app.browser()).await;
    assert!(!page.text().contains("Your profile"), "{}", page.describe());
}

#[tokio::test]
async fn userinfo_releases_each_claim_by_its_scope() {
    let app = TestApp::start().await;
    let alice = alice(&app).await;
    let update = [
        "user",
        "update",
        "alice",
        "--claim",
        "nickname=Al",
        "--claim",
        "picture=https://example.com/alice.png",
        "--claim",
        "birthdate=0000-05-04",
        "--claim",
        "address.street_address=1 Rabbit Hole",
        "--claim",
        "address.country=GB",
        "--phone",
        "+44 20 7946 0000",
    ];
    app.cli_json(&update).await;
    let client =
        app.create_client("Address App", &["--redirect-uri", CB, "--scope", "openid profile phone address"]).await;

    let at = |t: serde_json::Value| t["access_token"].as_str().unwrap().to_string();
    let profile_only = at(tokens(&app, &client, &alice, "openid profile").await);
    let info = app.get("/userinfo").bearer(&profile_only).await.json();
    assert_eq!(info["nickname"], "Al", "{info}");
    assert_eq!(info["picture"], "https://example.com/alice.png");
    assert_eq!(info["birthdate"], "0000-05-04");
    assert!(info.get("address").is_none() && info.get("phone_number").is_none(), "{info}");

    let all = at(tokens(&app, &client, &alice, "openid phone address").await);
    let info = app.get("/userinfo").bearer(&all).await.json();
    assert_eq!(info["address"], json!({"street_address": "1 Rabbit Hole", "country": "GB"}), "{info}");
    assert_eq!(info["phone_number"], "+442079460000");
    assert_eq!(info["phone_number_verified"], false);
    assert!(info.get("nickname").is_none(), "{info}");
}

//! Sessions, `latchkey session`, RP-initiated logout and back-channel logout
//! (docs/token-lifecycle.md, "Sessions", "RP-initiated logout",
//! "Back-channel logout") over real HTTP, with a real HTTP receiver standing
//! in for the relying party.

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use std::time::{Duration, Instant};

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

on_both_backends!(
    session_list_shows_the_session_and_its_clients,
    session_revoke_all_ends_the_session_offline_tokens_survive_by_default,
    end_revokes_all_revokes_every_refresh_token,
    end_revokes_none_keeps_every_refresh_token,
    session_revoke_one_session,
    rp_initiated_logout_with_a_hint_redirects_with_state,
    rp_initiated_logout_without_a_redirect_shows_signed_out,
    post_logout_redirect_uri_must_be_registered,
    id_token_hint_must_be_ours_and_match_client_id,
    without_a_hint_the_person_confirms,
    a_hint_for_another_session_asks_to_confirm,
    logout_without_a_session_shows_signed_out,
    backchannel_logout_token_reaches_the_client,
    logout_tokens_are_signed_like_the_clients_id_tokens,
    backchannel_retries_within_the_wait_and_after_it,
    every_app_has_its_logout_token_before_the_redirect,
    backchannel_on_session_revoke_and_on_a_new_sign_in,
    backchannel_uri_from_registration_metadata,
);

// These move a session's clock by editing its SQL row (Redis keeps sessions
// in the cluster; its idle and absolute limits are the same code path).
on_sql_backends!(an_idle_timeout_ends_the_session, a_session_past_its_absolute_lifetime_is_over);

const BYE: &str = "https://app.example/bye";
const BCL: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A client for the code flow with the refresh grant, a post-logout URI and
/// `extra` flags.
fn rp(db: &TestDb, name: &str, extra: &[&str]) -> TestClient {
    let mut args = vec!["--post-logout-redirect-uri", BYE];
    args.extend_from_slice(extra);
    offline_client(db, name, &args)
}

/// `latchkey session list --user alice --json`.
fn sessions(db: &TestDb, user: &str) -> Vec<Value> {
    let out = cli(db, &["session", "list", "--user", user, "--json"], &[], None).ok().json();
    out.as_array().unwrap_or_else(|| panic!("session list prints an array: {out}")).clone()
}

fn sid_of(token_response: &Value) -> String {
    let c = claims(str_of(token_response, "id_token"));
    str_of(&c, "sid").to_string()
}

/// Whether a fresh authorization request through `client` in `b` shows the
/// login page (no session) rather than going through to the client.
async fn needs_login(b: &Browser, client: &TestClient) -> bool {
    let p = pkce();
    let mut page = b.authorize(&code_request(&client.id, &p).set("scope", "openid")).await;
    for _ in 0..6 {
        if page.is_redirect() {
            let loc = page.location().unwrap();
            let abs = url::Url::parse(&page.url).unwrap().join(&loc).unwrap().to_string();
            if abs.starts_with(&format!("{}/", b.issuer)) {
                page = b.get(&abs).await;
                continue;
            }
            return false;
        }
        if page.status == 200 && page.is_login() {
            return true;
        }
        if page.status == 200 && page.is_consent() {
            return false;
        }
        panic!("unexpected page: {}", page.describe());
    }
    panic!("too many redirects");
}

/// `GET /logout?params` in the browser.
async fn logout(b: &Browser, params: &Params) -> Page {
    b.get(&format!("{}/logout?{}", b.issuer, params.encode())).await
}

/// The session cookie is cleared by `page`.
fn assert_session_cookie_cleared(page: &Page, what: &str) {
    let c = page
        .set_cookie("latchkey_session")
        .unwrap_or_else(|| panic!("{what}: the session cookie is cleared: {:?}", page.header_all("set-cookie")));
    assert_eq!(c.attr("max-age").as_deref(), Some("0"), "{what}: Max-Age=0 in {}", c.raw);
}

/// A client that may keep refresh tokens without offline_access (with
/// `LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS=true`): the session-bound
/// kind.
async fn two_kinds_of_refresh_tokens(
    server: &Server,
    b: &Browser,
    client: &TestClient,
    user: &User,
) -> (String, String) {
    let offline = tokens_for(server, b, client, user, OFFLINE_SCOPES).await;
    let bound = tokens_for(server, b, client, user, "profile email").await;
    let bound_rt = bound["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("refresh_without_offline_access gives a refresh token: {bound}"))
        .to_string();
    (str_of(&offline, "refresh_token").to_string(), bound_rt)
}

/// Whether a refresh token still refreshes (spending it: use once).
async fn refreshes(server: &Server, client: &TestClient, rt: &str) -> bool {
    let res = refresh(server, auth_of(client), rt, None).await;
    match res.status.as_u16() {
        200 => true,
        400 => {
            assert_eq!(res.json()["error"], "invalid_grant", "{}", res.body);
            false
        }
        _ => panic!("refresh: {}", res.describe()),
    }
}

// ---------------------------------------------------------------------------
// Sessions and the CLI.

async fn session_list_shows_the_session_and_its_clients(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let a = rp(&db, "A", &[]);
    let b_client = rp(&db, "B", &[]);
    let unused = rp(&db, "Unused", &[]);
    create_user(&db, "bob", "bob's password 123", &[]);
    assert!(sessions(&db, "alice").is_empty(), "no session before signing in");

    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &a, &alice, "openid").await;
    tokens_for(&server, &b, &b_client, &alice, "openid").await;
    let list = sessions(&db, "alice");
    assert_eq!(list.len(), 1, "one browser, one session: {list:?}");
    let s = &list[0];
    assert_eq!(s["sid"], sid_of(&t).as_str(), "the listed sid is the ID token's: {s}");
    let clients = s["clients"].to_string();
    assert!(clients.contains(&a.id), "client A is in the session: {s}");
    assert!(clients.contains(&b_client.id), "client B is in the session: {s}");
    assert!(!clients.contains(&unused.id), "a client not signed into is not: {s}");
    // By user id too; another user has none.
    assert_eq!(sessions(&db, &alice.id).len(), 1);
    assert!(sessions(&db, "bob").is_empty());
    // The session cookie's value is not what the CLI shows.
    let cookie = b.cookie("latchkey_session").expect("a session cookie");
    assert!(!serde_json::to_string(&list).unwrap().contains(&cookie), "{list:?}");
}

async fn session_revoke_all_ends_the_session_offline_tokens_survive_by_default(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS", "true")]).await;
    let client = rp(&db, "RP", &[]);
    let b = Browser::new(&server);
    let (offline_rt, bound_rt) = two_kinds_of_refresh_tokens(&server, &b, &client, &alice).await;
    let b2 = Browser::new(&server);
    tokens_for(&server, &b2, &client, &alice, "openid").await;
    assert_eq!(sessions(&db, "alice").len(), 2);
    assert!(!needs_login(&b, &client).await, "signed in");

    cli(&db, &["session", "revoke", "--user", "alice", "--all"], &[], None).ok();
    assert!(sessions(&db, "alice").is_empty(), "every session ended");
    assert!(needs_login(&b, &client).await, "the next /authorize shows the login page");
    assert!(needs_login(&b2, &client).await, "in the other browser too");
    // Default policy session_bound: the offline_access token survives, the
    // session-bound one does not.
    assert!(
        refreshes(&server, &client, &offline_rt).await,
        "an offline_access refresh token survives the session (session_bound)"
    );
    assert!(
        !refreshes(&server, &client, &bound_rt).await,
        "a token issued without offline_access ends with its session (session_bound)"
    );
}

async fn end_revokes_all_revokes_every_refresh_token(backend: Backend) {
    let policy = [("LATCHKEY_SESSIONS_END_REVOKES", "all"), ("LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS", "true")];
    let Env { db, server, alice } = env(backend, &policy).await;
    let client = rp(&db, "RP", &[]);

    // Through the CLI (which reads the same setting).
    let b = Browser::new(&server);
    let (offline_rt, bound_rt) = two_kinds_of_refresh_tokens(&server, &b, &client, &alice).await;
    cli(&db, &["session", "revoke", "--user", "alice", "--all"], &policy, None).ok();
    assert!(!refreshes(&server, &client, &offline_rt).await, "all: the offline_access token too");
    assert!(!refreshes(&server, &client, &bound_rt).await, "all: the session-bound token");

    // Through RP-initiated logout.
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, OFFLINE_SCOPES).await;
    let page = logout(&b, &Params::new().set("id_token_hint", str_of(&t, "id_token"))).await;
    assert!(page.status.is_success() || page.is_redirect(), "{}", page.describe());
    assert!(
        !refreshes(&server, &client, str_of(&t, "refresh_token")).await,
        "all: logout revokes the offline_access token"
    );
}

async fn end_revokes_none_keeps_every_refresh_token(backend: Backend) {
    let policy =
        [("LATCHKEY_SESSIONS_END_REVOKES", "none"), ("LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS", "true")];
    let Env { db, server, alice } = env(backend, &policy).await;
    let client = rp(&db, "RP", &[]);
    let b = Browser::new(&server);
    let (offline_rt, bound_rt) = two_kinds_of_refresh_tokens(&server, &b, &client, &alice).await;
    cli(&db, &["session", "revoke", "--user", "alice", "--all"], &policy, None).ok();
    assert!(needs_login(&b, &client).await, "the session ended");
    assert!(refreshes(&server, &client, &offline_rt).await, "none: the offline_access token survives");
    assert!(refreshes(&server, &client, &bound_rt).await, "none: the session-bound token survives");
}

async fn session_revoke_one_session(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);
    let b1 = Browser::new(&server);
    let b2 = Browser::new(&server);
    let t1 = tokens_for(&server, &b1, &client, &alice, "openid").await;
    let t2 = tokens_for(&server, &b2, &client, &alice, "openid").await;
    let (sid1, sid2) = (sid_of(&t1), sid_of(&t2));
    assert_ne!(sid1, sid2);

    cli(&db, &["session", "revoke", "--user", "alice", "--session", &sid1], &[], None).ok();
    let list = sessions(&db, "alice");
    let sids: Vec<&str> = list.iter().map(|s| s["sid"].as_str().unwrap()).collect();
    assert_eq!(sids, vec![sid2.as_str()], "only the named session ended");
    assert!(needs_login(&b1, &client).await, "the revoked session's browser signs in again");
    assert!(!needs_login(&b2, &client).await, "the other session lives on");

    // An unknown sid, or neither --session nor --all: an error.
    let out = cli(&db, &["session", "revoke", "--user", "alice", "--session", "nope"], &[], None);
    assert_ne!(out.code, 0, "{out:?}");
    let out = cli(&db, &["session", "revoke", "--user", "alice"], &[], None);
    assert_ne!(out.code, 0, "{out:?}");
    assert_eq!(sessions(&db, "alice").len(), 1);
}

async fn an_idle_timeout_ends_the_session(backend: Backend) {
    // The idle TTL's minimum is 60 s: the session is made idle by moving its
    // last activity two minutes into the past.
    let receiver = Receiver::start(200);
    let Env { db, server, alice } = env(
        backend,
        &[("LATCHKEY_SESSIONS_IDLE_TTL_SECONDS", "60"), ("LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS", "true")],
    )
    .await;
    let bcl = receiver.url("/bcl");
    let client = rp(&db, "RP", &["--backchannel-logout-uri", &bcl]);
    let b = Browser::new(&server);
    let (offline_rt, bound_rt) = two_kinds_of_refresh_tokens(&server, &b, &client, &alice).await;
    assert!(!needs_login(&b, &client).await);
    let pool = db.pool().await;
    sqlx::query("UPDATE sessions SET last_seen_at = last_seen_at - 120, created_at = created_at - 120")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    assert!(needs_login(&b, &client).await, "a session idle for longer than sessions.idle_ttl_seconds is over");
    assert!(refreshes(&server, &client, &offline_rt).await, "offline_access survives");
    let (server_ref, client_ref, bound_ref) = (&server, &client, &bound_rt);
    assert!(
        eventually(Duration::from_secs(3), || async move {
            let res = refresh(server_ref, auth_of(client_ref), bound_ref, None).await;
            res.status == 400
        })
        .await,
        "an idle timeout ends the session: its session-bound refresh token is revoked"
    );
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "an idle timeout triggers back-channel logout");
}

async fn a_session_past_its_absolute_lifetime_is_over(backend: Backend) {
    // The absolute TTL's minimum is 60 s: the session's end is moved into the past.
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);
    let b = Browser::new(&server);
    tokens_for(&server, &b, &client, &alice, "openid").await;
    assert!(!needs_login(&b, &client).await);
    let pool = db.pool().await;
    sqlx::query("UPDATE sessions SET expires_at = created_at, created_at = created_at - 100")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(needs_login(&b, &client).await, "a session past its absolute lifetime is over");
    assert!(sessions(&db, "alice").is_empty(), "and not listed");
}

// ---------------------------------------------------------------------------
// RP-initiated logout.

async fn rp_initiated_logout_with_a_hint_redirects_with_state(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);

    for (method, with_client_id) in [("GET", false), ("GET", true), ("POST", true)] {
        let b = Browser::new(&server);
        let t = tokens_for(&server, &b, &client, &alice, "openid").await;
        assert!(!needs_login(&b, &client).await);
        let mut params = Params::new()
            .set("id_token_hint", str_of(&t, "id_token"))
            .set("post_logout_redirect_uri", BYE)
            .set("state", NASTY_STATE)
            .set("ui_locales", "en");
        if with_client_id {
            params = params.set("client_id", &client.id);
        }
        let started = Instant::now();
        let page = if method == "GET" { logout(&b, &params).await } else { b.post_form("/logout", &params).await };
        let what = format!("{method} /logout (client_id: {with_client_id})");
        assert_eq!(page.status, 303, "{what}: {}", page.describe());
        assert!(started.elapsed() < Duration::from_secs(1), "{what}: fast");
        let loc = page.location().unwrap();
        assert!(loc.starts_with(&format!("{BYE}?")), "{what}: to the post-logout URI: {loc}");
        let pairs = query_pairs(&loc);
        assert_eq!(one(&pairs, "state"), NASTY_STATE, "{what}: state byte for byte");
        assert_session_cookie_cleared(&page, &what);
        assert!(needs_login(&b, &client).await, "{what}: the next /authorize shows the login page");
        assert!(sessions(&db, "alice").is_empty(), "{what}: the session is gone");
    }

    // Without state: no state parameter.
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let page =
        logout(&b, &Params::new().set("id_token_hint", str_of(&t, "id_token")).set("post_logout_redirect_uri", BYE))
            .await;
    assert_eq!(page.status, 303, "{}", page.describe());
    let loc = page.location().unwrap();
    assert!(loc == BYE || loc.starts_with(&format!("{BYE}?")), "{loc}");
    assert!(get(&query_pairs(&loc), "state").is_none(), "{loc}");
}

async fn rp_initiated_logout_without_a_redirect_shows_signed_out(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS", "true")]).await;
    let client = rp(&db, "RP", &[]);
    let b = Browser::new(&server);
    let (offline_rt, bound_rt) = two_kinds_of_refresh_tokens(&server, &b, &client, &alice).await;
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let page = logout(&b, &Params::new().set("id_token_hint", str_of(&t, "id_token"))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.location().is_none());
    assert!(page.body.contains("You are signed out"), "{}", page.describe());
    assert_page_headers(&page, "signed-out page");
    assert_session_cookie_cleared(&page, "logout without a post-logout URI");
    assert!(needs_login(&b, &client).await);
    // The default policy (session_bound) on logout.
    assert!(refreshes(&server, &client, &offline_rt).await, "logout keeps offline_access tokens");
    assert!(!refreshes(&server, &client, &bound_rt).await, "logout revokes session-bound tokens");

    // An expired ID token is a fine hint.
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let mut c = claims(str_of(&t, "id_token"));
    c["iat"] = json!(now() - 7200);
    c["exp"] = json!(now() - 3600);
    let expired = sign_with_active_key(&db, "JWT", &c).await;
    let page = logout(
        &b,
        &Params::new().set("id_token_hint", &expired).set("post_logout_redirect_uri", BYE).set("state", "s1"),
    )
    .await;
    assert_eq!(page.status, 303, "an expired hint is accepted: {}", page.describe());
    assert_eq!(page.location().as_deref(), Some(format!("{BYE}?state=s1").as_str()));
    assert!(needs_login(&b, &client).await);
}

async fn post_logout_redirect_uri_must_be_registered(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);
    let other = rp(&db, "Other", &["--post-logout-redirect-uri", "https://other.example/bye"]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let hint = str_of(&t, "id_token").to_string();

    let bad = [
        "https://evil.example/bye",
        "https://app.example/bye/",
        "https://APP.example/bye",
        "https://app.example/bye?x=1",
        "https://app.example/Bye",
        "https://other.example/bye",
    ];
    for uri in bad {
        let page = logout(
            &b,
            &Params::new().set("id_token_hint", &hint).set("post_logout_redirect_uri", uri).set("state", "s"),
        )
        .await;
        assert_eq!(page.status, 400, "unregistered {uri}: {}", page.describe());
        assert!(page.location().is_none(), "{uri}: never a redirect");
        assert!(page.header("content-type").unwrap_or_default().starts_with("text/html"), "{uri}: an error page");
        assert!(!page.body.contains(uri), "{uri}: the page does not link to it");
    }
    // A registered URI of another client, with that client's id: client_id
    // does not match the hint.
    let page = logout(
        &b,
        &Params::new()
            .set("id_token_hint", &hint)
            .set("client_id", &other.id)
            .set("post_logout_redirect_uri", "https://other.example/bye"),
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.describe());
    assert!(page.location().is_none());
    // A post-logout URI without any client (no hint, no client_id).
    let page = logout(&b, &Params::new().set("post_logout_redirect_uri", BYE)).await;
    assert_eq!(page.status, 400, "no client named: {}", page.describe());
    assert!(page.location().is_none());
}

async fn id_token_hint_must_be_ours_and_match_client_id(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);
    let other = rp(&db, "Other", &[]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let hint = str_of(&t, "id_token").to_string();
    let c = claims(&hint);

    let foreign = sign_with_foreign_key(&hint, &c).await;
    let mut wrong_iss = c.clone();
    wrong_iss["iss"] = json!("https://evil.example");
    let wrong_iss = sign_with_active_key(&db, "JWT", &wrong_iss).await;
    for (what, params) in [
        ("a foreign-signed hint", Params::new().set("id_token_hint", &foreign)),
        ("a hint for another issuer", Params::new().set("id_token_hint", &wrong_iss)),
        ("a garbage hint", Params::new().set("id_token_hint", "garbage")),
        ("client_id other than the hint's aud", Params::new().set("id_token_hint", &hint).set("client_id", &other.id)),
    ] {
        let page = logout(&b, &params.set("post_logout_redirect_uri", BYE).set("state", "s")).await;
        assert_eq!(page.status, 400, "{what}: {}", page.describe());
        assert!(page.location().is_none(), "{what}: never a redirect");
    }
    // An access token is not an ID token.
    let page = logout(
        &b,
        &Params::new().set("id_token_hint", str_of(&t, "access_token")).set("post_logout_redirect_uri", BYE),
    )
    .await;
    assert!(page.location().is_none(), "an access token as hint: {}", page.describe());
}

async fn without_a_hint_the_person_confirms(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);
    let b = Browser::new(&server);
    tokens_for(&server, &b, &client, &alice, "openid").await;

    let page = logout(&b, &Params::new()).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_page_headers(&page, "logout confirmation");
    assert_eq!(form_action(&page.body).as_deref(), Some("/logout/confirm"), "{}", page.body);
    assert_eq!(form_method(&page.body).as_deref(), Some("post"));
    let csrf = page.input("csrf").expect("a csrf field");
    assert!(!csrf.is_empty());
    let decisions = input_values(&page.body, "decision");
    assert!(
        decisions.contains(&"logout".to_string()) && decisions.contains(&"stay".to_string()),
        "decision=logout|stay: {decisions:?}"
    );
    assert!(page.set_cookie("latchkey_session").is_none_or(|c| !c.deletes()), "not yet");
    // The session still works until confirmed.
    assert!(!needs_login(&b, &client).await, "the session survives the question");

    let form = |page: &Page, decision: &str| {
        let mut p = Params::new();
        for (k, v) in hidden_fields(&page.body) {
            p = p.add(&k, &v);
        }
        p.set("decision", decision)
    };
    // A wrong csrf does nothing.
    let page = logout(&b, &Params::new()).await;
    let bad = form(&page, "logout").set("csrf", "forged");
    let res = b.post_form("/logout/confirm", &bad).await;
    assert!(res.status.is_client_error(), "a forged csrf: {}", res.describe());
    assert!(!needs_login(&b, &client).await, "a forged confirmation ends nothing");
    // Stay.
    let page = logout(&b, &Params::new()).await;
    let res = b.post_form("/logout/confirm", &form(&page, "stay")).await;
    assert!(res.status.is_success() || res.is_redirect(), "{}", res.describe());
    assert!(res.set_cookie("latchkey_session").is_none_or(|c| !c.deletes()));
    assert!(!needs_login(&b, &client).await, "stay keeps the session");
    assert_eq!(sessions(&db, "alice").len(), 1);
    // Logout.
    let page = logout(&b, &Params::new()).await;
    let res = b.post_form("/logout/confirm", &form(&page, "logout")).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.body.contains("You are signed out"), "{}", res.describe());
    assert_session_cookie_cleared(&res, "confirmed logout");
    assert!(needs_login(&b, &client).await, "the session ended");
    assert!(sessions(&db, "alice").is_empty());

    // client_id and a registered post-logout URI without a hint: the question,
    // then the redirect with state.
    let b = Browser::new(&server);
    tokens_for(&server, &b, &client, &alice, "openid").await;
    let page = logout(
        &b,
        &Params::new().set("client_id", &client.id).set("post_logout_redirect_uri", BYE).set("state", NASTY_STATE),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(form_action(&page.body).as_deref(), Some("/logout/confirm"));
    let res = b.post_form("/logout/confirm", &form(&page, "logout")).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let loc = res.location().unwrap();
    assert!(loc.starts_with(&format!("{BYE}?")), "{loc}");
    assert_eq!(one(&query_pairs(&loc), "state"), NASTY_STATE);
    assert_session_cookie_cleared(&res, "confirmed logout with a post-logout URI");
    assert!(needs_login(&b, &client).await);
}

async fn a_hint_for_another_session_asks_to_confirm(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);
    let b1 = Browser::new(&server);
    let b2 = Browser::new(&server);
    tokens_for(&server, &b1, &client, &alice, "openid").await;
    let t2 = tokens_for(&server, &b2, &client, &alice, "openid").await;

    // Browser 1 presents the ID token of browser 2's session.
    let page = logout(&b1, &Params::new().set("id_token_hint", str_of(&t2, "id_token"))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(
        form_action(&page.body).as_deref(),
        Some("/logout/confirm"),
        "a hint whose sid is not this browser's session asks: {}",
        page.describe()
    );
    assert!(!needs_login(&b1, &client).await, "nothing ended yet");
    assert!(!needs_login(&b2, &client).await, "the other session is not ended by someone else's browser");
    assert_eq!(sessions(&db, "alice").len(), 2);
}

async fn logout_without_a_session_shows_signed_out(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &[]);
    let b = Browser::new(&server);
    let page = logout(&b, &Params::new()).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.body.contains("You are signed out"), "{}", page.describe());
    assert!(!page.body.contains("/logout/confirm"), "nothing to confirm");
    // With a (valid) hint and registered URI but no session: straight back.
    let other = Browser::new(&server);
    let t = tokens_for(&server, &other, &client, &alice, "openid").await;
    let page = logout(
        &b,
        &Params::new()
            .set("id_token_hint", str_of(&t, "id_token"))
            .set("post_logout_redirect_uri", BYE)
            .set("state", "x"),
    )
    .await;
    assert!(page.status == 303 || page.status == 200, "no session to end: {}", page.describe());
    if page.status == 303 {
        assert_eq!(page.location().as_deref(), Some(format!("{BYE}?state=x").as_str()));
    }
    assert!(!needs_login(&other, &client).await, "the other browser's session is untouched");
}

// ---------------------------------------------------------------------------
// Back-channel logout.

/// Verifies a logout token against the JWKS, with `aud` = `client_id`.
async fn verify_logout_token(server: &Server, token: &str, client_id: &str) -> (jsonwebtoken::Header, Value) {
    let jwks: jsonwebtoken::jwk::JwkSet = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).expect("a JWT header");
    let kid = header.kid.clone().expect("kid");
    let jwk = jwks.find(&kid).unwrap_or_else(|| panic!("kid {kid} is not in the JWKS"));
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_issuer(&[&server.issuer]);
    v.set_audience(&[client_id]);
    v.set_required_spec_claims(&["exp", "iss", "aud", "iat"]);
    let claims = jsonwebtoken::decode::<Value>(token, &key, &v)
        .unwrap_or_else(|e| panic!("the logout token does not verify: {e}"))
        .claims;
    (header, claims)
}

fn logout_token_of(r: &Received) -> String {
    let form = r.form();
    one(&form, "logout_token")
}

async fn backchannel_logout_token_reaches_the_client(backend: Backend) {
    let receiver = Receiver::start(200);
    let bystander = Receiver::start(200);
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = rp(&db, "RP", &["--backchannel-logout-uri", &receiver.url("/backchannel")]);
    let not_signed_into = rp(&db, "Bystander", &["--backchannel-logout-uri", &bystander.url("/bcl")]);
    let _ = &not_signed_into;
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let sid = sid_of(&t);

    let started = Instant::now();
    let page = logout(
        &b,
        &Params::new()
            .set("id_token_hint", str_of(&t, "id_token"))
            .set("post_logout_redirect_uri", BYE)
            .set("state", "s"),
    )
    .await;
    let took = started.elapsed();
    assert_eq!(page.status, 303, "{}", page.describe());
    assert!(took < Duration::from_secs(1), "a receiver that answers at once costs no wait ({took:?})");

    let got = receiver.received();
    assert_eq!(got.len(), 1, "the logout token arrived before the redirect: {got:?}\n{}", tail(&server.log(), 20));
    let r = &got[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/backchannel");
    assert!(r.header("content-type").unwrap_or_default().starts_with("application/x-www-form-urlencoded"), "{r:?}");
    let lt = logout_token_of(r);
    let (header, c) = verify_logout_token(&server, &lt, &client.id).await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"), "header typ");
    assert_eq!(c["iss"], server.issuer.as_str(), "{c}");
    assert!(aud_contains(&c["aud"], &client.id), "aud = client_id: {c}");
    assert_eq!(c["sub"], alice.id.as_str(), "{c}");
    assert_eq!(c["sid"], sid.as_str(), "sid = the ID token's: {c}");
    assert!(c["jti"].as_str().is_some_and(|j| !j.is_empty()), "{c}");
    let (iat, exp) = (c["iat"].as_i64().unwrap(), c["exp"].as_i64().unwrap());
    assert!((now() - 30..=now() + 1).contains(&iat) && exp > iat, "{c}");
    assert!(c["events"].get(BCL).is_some_and(Value::is_object), "events has {BCL} (an object): {c}");
    assert!(c.get("nonce").is_none(), "no nonce: {c}");

    // Only clients that received a code in the session are told.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(bystander.count(), 0, "a client not signed into is not notified");
    assert_eq!(receiver.count(), 1, "one delivery on success");
}

async fn backchannel_retries_within_the_wait_and_after_it(backend: Backend) {
    let failing = Receiver::start(500);
    let refusing = Receiver::start(400);
    let Env { db, server, alice } = env(backend, &[]).await;
    let c500 = rp(&db, "Failing", &["--backchannel-logout-uri", &failing.url("/bcl")]);
    let c400 = rp(&db, "Refusing", &["--backchannel-logout-uri", &refusing.url("/bcl")]);

    // 5xx and 4xx answers: the retries (0.5 s and 1 s apart) fit in the wait.
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &c500, &alice, "openid").await;
    tokens_for(&server, &b, &c400, &alice, "openid").await;
    let started = Instant::now();
    let page =
        logout(&b, &Params::new().set("id_token_hint", str_of(&t, "id_token")).set("post_logout_redirect_uri", BYE))
            .await;
    let took = started.elapsed();
    assert_eq!(page.status, 303, "{}", page.describe());
    assert!(took < Duration::from_secs(3), "failing receivers delay the logout at most ~2 s ({took:?})");

    // 500: three attempts with back-off.
    let got = failing.wait_for(3, Duration::from_secs(20)).await;
    assert_eq!(got.len(), 3, "three attempts on 5xx: {got:?}");
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[1] >= gaps[0] && gaps[0] >= Duration::from_millis(100), "back-off between attempts: {gaps:?}");
    for r in &got {
        verify_logout_token(&server, &logout_token_of(r), &c500.id).await;
    }
    // 4xx: one attempt, made before the redirect.
    assert_eq!(refusing.count(), 1, "the 4xx receiver was called before the redirect");
    // No further attempts.
    tokio::time::sleep(gaps[1] * 2 + Duration::from_secs(1)).await;
    assert_eq!(failing.count(), 3, "exactly three attempts");
    assert_eq!(refusing.count(), 1, "a 4xx answer stops the retries");
}

/// The apps are told concurrently and the redirect waits for them, once, at
/// most about 2 s: two apps that answer after 1.2 s each (2.4 s one after the
/// other) have their tokens before the browser is sent back; one that does
/// not answer does not hold the redirect longer, and is retried in the
/// background.
async fn every_app_has_its_logout_token_before_the_redirect(backend: Backend) {
    let slow = [Receiver::start(200), Receiver::start(200)];
    for r in &slow {
        r.set_delay(Duration::from_millis(1200));
    }
    let hanging = Receiver::start(0);
    let Env { db, server, alice } = env(backend, &[]).await;
    let apps: Vec<TestClient> = slow
        .iter()
        .enumerate()
        .map(|(i, r)| rp(&db, &format!("Slow {i}"), &["--backchannel-logout-uri", &r.url("/bcl")]))
        .collect();

    // Signed into both slow apps: the redirect waits for both, told at once.
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &apps[0], &alice, "openid").await;
    tokens_for(&server, &b, &apps[1], &alice, "openid").await;
    let started = Instant::now();
    let page =
        logout(&b, &Params::new().set("id_token_hint", str_of(&t, "id_token")).set("post_logout_redirect_uri", BYE))
            .await;
    let took = started.elapsed();
    assert_eq!(page.status, 303, "{}", page.describe());
    for (i, r) in slow.iter().enumerate() {
        let got = r.received();
        assert_eq!(got.len(), 1, "slow app {i} has its token before the redirect: {got:?}");
        verify_logout_token(&server, &logout_token_of(&got[0]), &apps[i].id).await;
    }
    assert!(took >= Duration::from_millis(1200), "the redirect waited for the answers ({took:?})");

    // The same through the confirmation page.
    let b = Browser::new(&server);
    tokens_for(&server, &b, &apps[0], &alice, "openid").await;
    let page = logout(&b, &Params::new().set("client_id", &apps[0].id).set("post_logout_redirect_uri", BYE)).await;
    let mut form = Params::new();
    for (k, v) in hidden_fields(&page.body) {
        form = form.add(&k, &v);
    }
    let res = b.post_form("/logout/confirm", &form.set("decision", "logout")).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    assert_eq!(slow[0].count(), 2, "confirmed logout: the token arrived before the redirect");

    // A slow app and one that never answers: the redirect comes after the
    // bound, not after the 5 s per-attempt timeout.
    let stuck = rp(&db, "Hanging", &["--backchannel-logout-uri", &hanging.url("/bcl")]);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &stuck, &alice, "openid").await;
    tokens_for(&server, &b, &apps[1], &alice, "openid").await;
    let started = Instant::now();
    let page =
        logout(&b, &Params::new().set("id_token_hint", str_of(&t, "id_token")).set("post_logout_redirect_uri", BYE))
            .await;
    let took = started.elapsed();
    assert_eq!(page.status, 303, "{}", page.describe());
    assert!(took < Duration::from_secs(3), "a hanging app holds the redirect ~2 s at most ({took:?})");
    assert!(took >= Duration::from_millis(1500), "the redirect waited for the hanging app ({took:?})");
    assert_eq!(slow[1].count(), 2, "the slow app was told before the redirect");
    assert_eq!(hanging.count(), 1, "the hanging app was called before the redirect");
    // Its retries carry on after the redirect: the next attempt (after the
    // 5 s timeout and a back-off) is answered.
    hanging.set_status(200);
    let got = hanging.wait_for(2, Duration::from_secs(15)).await;
    assert_eq!(got.len(), 2, "the hanging app is retried in the background: {got:?}");
    verify_logout_token(&server, &logout_token_of(&got[1]), &stuck.id).await;
}

async fn backchannel_on_session_revoke_and_on_a_new_sign_in(backend: Backend) {
    let receiver = Receiver::start(200);
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_REFRESH_WITHOUT_OFFLINE_ACCESS", "true")]).await;
    let client = rp(&db, "RP", &["--backchannel-logout-uri", &receiver.url("/bcl")]);

    // A new sign-in in the same browser ends the old session.
    let b = Browser::new(&server);
    let (offline_rt, bound_rt) = two_kinds_of_refresh_tokens(&server, &b, &client, &alice).await;
    let t1 = tokens_for(&server, &b, &client, &alice, "openid").await;
    let old_sid = sid_of(&t1);
    let p = pkce();
    let params = code_request(&client.id, &p).set("scope", "openid").set("prompt", "login");
    let code = code_for(&b, &params, &alice).await;
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let new_sid = sid_of(&res.json());
    assert_ne!(old_sid, new_sid, "a new sign-in makes a new session");
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "the replaced session is logged out over the back channel: {got:?}");
    let (_, c) = verify_logout_token(&server, &logout_token_of(&got[0]), &client.id).await;
    assert_eq!(c["sid"], old_sid.as_str(), "{c}");
    let list = sessions(&db, "alice");
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["sid"], new_sid.as_str());
    assert!(refreshes(&server, &client, &offline_rt).await, "a new sign-in keeps offline_access tokens");
    assert!(
        !refreshes(&server, &client, &bound_rt).await,
        "a new sign-in ends the old session: its session-bound token is revoked"
    );

    // `latchkey session revoke` (the CLI speaks for the same issuer).
    cli(&db, &["session", "revoke", "--user", "alice", "--all"], &[("LATCHKEY_ISSUER", &server.issuer)], None).ok();
    let got = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 2, "session revoke triggers back-channel logout: {got:?}");
    let (header, c) = verify_logout_token(&server, &logout_token_of(&got[1]), &client.id).await;
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    assert_eq!(c["sid"], new_sid.as_str(), "{c}");
    assert_eq!(c["sub"], alice.id.as_str(), "{c}");
    assert!(c["events"].get(BCL).is_some(), "{c}");
}

async fn backchannel_uri_from_registration_metadata(backend: Backend) {
    const TOKEN: &str = "initial-access-token-0123456789";
    let receiver = Receiver::start(200);
    let Env { db: _db, server, alice } = env(backend, &[("LATCHKEY_REGISTRATION_TOKEN", TOKEN)]).await;
    let meta = json!({
        "client_name": "Registered RP",
        "redirect_uris": [CB],
        "post_logout_redirect_uris": [BYE],
        "backchannel_logout_uri": receiver.url("/registered-bcl"),
    });
    let res = http().post(server.url("/register")).bearer_auth(TOKEN).json(&meta).send().await.unwrap();
    assert_eq!(res.status(), 201, "registration");
    let reg: Value = res.json().await.unwrap();
    assert_eq!(reg["backchannel_logout_uri"], receiver.url("/registered-bcl").as_str(), "{reg}");
    let client = TestClient {
        id: str_of(&reg, "client_id").to_string(),
        secret: reg["client_secret"].as_str().map(String::from),
    };
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let page = logout(&b, &Params::new().set("id_token_hint", str_of(&t, "id_token"))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    let got = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].path, "/registered-bcl");
    let (_, c) = verify_logout_token(&server, &logout_token_of(&got[0]), &client.id).await;
    assert_eq!(c["sid"], sid_of(&t).as_str());
}

/// A client that registered `id_token_signed_response_alg` ES256 gets its
/// logout tokens signed with ES256 too (Back-Channel Logout §2.6), verified
/// from the JWKS; its ES256 ID token works as `id_token_hint`.
async fn logout_tokens_are_signed_like_the_clients_id_tokens(backend: Backend) {
    let receiver = Receiver::start(200);
    let algorithms = [("LATCHKEY_KEYS_ALGORITHMS", "RS256,ES256")];
    let Env { db, server, alice } = env(backend, &algorithms).await;
    let bcl = receiver.url("/backchannel");
    let args = [
        "client",
        "create",
        "--name",
        "EC",
        "--redirect-uri",
        CB,
        "--post-logout-redirect-uri",
        BYE,
        "--backchannel-logout-uri",
        &bcl,
        "--id-token-signed-response-alg",
        "ES256",
        "--json",
    ];
    let out = cli(&db, &args, &algorithms, None).ok().json();
    let client = TestClient {
        id: out["client_id"].as_str().unwrap().to_string(),
        secret: out["client_secret"].as_str().map(String::from),
    };
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let hint = str_of(&t, "id_token");
    let page = logout(&b, &Params::new().set("id_token_hint", hint).set("post_logout_redirect_uri", BYE)).await;
    assert_eq!(page.status, 303, "{}", page.describe());
    let got = receiver.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let (header, claims) = verify_logout_token(&server, &logout_token_of(&got[0]), &client.id).await;
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(claims["sub"], alice.id.as_str());
}

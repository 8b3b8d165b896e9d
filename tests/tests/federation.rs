//! Enterprise SSO (docs/federation.md): Latchkey signs people in through an
//! upstream OpenID Connect provider, here a second Latchkey on loopback
//! (behind a small proxy that can re-sign its ID tokens with another key), and stays the issuer the
//! app sees. The app is the `openidconnect` crate; the chain is app →
//! Latchkey → upstream login → back → code → tokens. Every upstream error
//! fails closed with a page. (node-oidc-provider as the upstream:
//! `federation_node.rs`.)

mod common;
#[path = "common/upstream.rs"]
mod upstream;

use common::flow::*;
use latchkey_tests::*;
use upstream::*;

on_both_backends!(
    the_whole_chain_provisions_then_recognises_the_person,
    upstream_errors_fail_closed_with_a_page,
    linking_needs_both_identities_and_home_realm_discovery_finds_the_provider,
    latchkey_authenticates_upstream_with_a_private_key,
    groups_and_mapped_claims_come_from_upstream_and_stay_fresh,
    update_claims_always_refreshes_a_linked_account,
);
on_sql_backends!(the_password_form_can_be_turned_off);

async fn the_whole_chain_provisions_then_recognises_the_person(backend: Backend) {
    let up = Upstream::start().await;
    let ursula = up.user("ursula", "ursula@corp.example", true);
    let down = Downstream::start(backend, &up, "").await;
    let app = confidential(&down.db);

    // The login page offers the provider beside the password form.
    let b = Browser::new(&down.server);
    let rp = Rp::discover(&down.server, &app).await;
    let (url, nonce, verifier) = rp.authorize_url(&["email", "profile"]);
    let login = b.get(&url).await;
    assert!(login.is_login(), "{}", login.describe());
    assert!(login.body.contains("Sign in with Corp SSO"), "the provider's button: {}", login.describe());
    let csp = login.header("content-security-policy").unwrap();
    assert!(csp.contains(&up.issuer), "form-action allows the provider's origin: {csp}");

    // Upstream and back; Latchkey asks for consent for the app; the app gets a code.
    let back = sign_in_upstream(&b, &up, &login, "corp", &ursula, "allow").await;
    let flow = b.drive(back, None, "allow").await;
    assert_eq!(flow.saw_consent, 1, "consent for the app, at Latchkey");
    let (claims, raw) = rp.exchange(&flow.code(), &verifier, &nonce).await;

    // A local account, provisioned from the upstream claims, no password.
    let shown = cli_json(&down.db, &["user", "show", "ursula@corp.example"]);
    assert_eq!(shown["id"], claims.subject().as_str(), "{shown}");
    assert_eq!(shown["has_password"], false, "{shown}");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ursula@corp.example"));
    assert_eq!(claims.email_verified(), Some(true));
    assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("Ursula Upstream"));
    // The session reflects the upstream authentication: its amr passed
    // through; its acr is ours, one factor (the upstream's mfa is not trusted
    // by default).
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]), "{raw}");
    assert_eq!(raw["acr"], "urn:latchkey:acr:federated", "{raw}");
    assert_ne!(claims.subject().as_str(), ursula.id, "our own subject, not the upstream's");

    // A second sign-in, another browser: the same account (by issuer and
    // subject), no new one.
    let b2 = Browser::new(&down.server);
    let (url, nonce, verifier) = rp.authorize_url(&["email"]);
    let login = b2.get(&url).await;
    let back = sign_in_upstream(&b2, &up, &login, "corp", &ursula, "allow").await;
    let flow = b2.drive(back, None, "allow").await;
    let (again, _) = rp.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(again.subject(), claims.subject());
    let users = cli_json(&down.db, &["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 2, "alice and ursula only: {users}");

    // The audit log tells how.
    let provisioned = cli_json(&down.db, &["audit", "list", "--kind", "user.provisioned"]);
    assert_eq!(provisioned.as_array().unwrap().len(), 1, "{provisioned}");
    assert_eq!(provisioned[0]["actor"], "upstream:corp");
    let logins = cli_json(&down.db, &["audit", "list", "--kind", "login.success"]);
    assert!(logins.as_array().unwrap().iter().all(|e| e["details"]["upstream"] == "corp"), "{logins}");

    // A device (RFC 8628): the person signs in at /device through the same
    // provider and lands on the device's consent page.
    let grant = "urn:ietf:params:oauth:grant-type:device_code";
    let tv = create_client(&down.db, "TV", &["--public", "--grant-type", grant, "--scope", "openid email"]);
    let form = Params::new().set("scope", "openid email");
    let res = post_with_auth(&down.server, "/device_authorization", Auth::None(&tv.id), &form).await;
    let device = res.json();
    let b3 = Browser::new(&down.server);
    let page = b3.get(device["verification_uri_complete"].as_str().unwrap()).await;
    let form =
        Params::new().set("csrf", &page.input("csrf").unwrap()).set("user_code", device["user_code"].as_str().unwrap());
    let login = b3.post_form("/device", &form).await;
    assert!(login.body.contains("Sign in with Corp SSO"), "{}", login.describe());
    let consent = sign_in_upstream(&b3, &up, &login, "corp", &ursula, "allow").await;
    assert!(consent.body.contains(device["user_code"].as_str().unwrap()), "{}", consent.describe());
    let form = Params::new()
        .set("interaction", &consent.input("interaction").unwrap())
        .set("csrf", &consent.input("csrf").unwrap())
        .set("decision", "allow");
    assert_eq!(b3.post_form("/device/consent", &form).await.status, 200);
    let poll = Params::new().set("grant_type", grant).set("device_code", device["device_code"].as_str().unwrap());
    let res = token(&down.server, Auth::None(&tv.id), &poll).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let id_token = res.json()["id_token"].as_str().unwrap().to_string();
    let raw = verify_jwt(&down.server, &id_token).await;
    assert_eq!(raw["sub"], claims.subject().as_str(), "the same account: {raw}");
    assert_eq!(raw["amr"], serde_json::json!(["pwd"]), "the upstream's amr: {raw}");
}

async fn upstream_errors_fail_closed_with_a_page(backend: Backend) {
    let up = Upstream::start().await;
    let ursula = up.user("ursula", "ursula@corp.example", true);
    let down = Downstream::start(backend, &up, "").await;
    let app = confidential(&down.db);
    let no_session = |page: &Page, what: &str| {
        assert!(page.set_cookie("latchkey_session").is_none_or(|c| c.deletes()), "{what}: no session was started");
    };

    // Denied at the upstream's consent screen.
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let back = sign_in_upstream(&b, &up, &login, "corp", &ursula, "deny").await;
    assert_error_page(&back, 403, "cancelled or refused", "denied upstream");
    no_session(&back, "denied upstream");

    // A good return, then: a forged state, the same return twice, and the
    // return in another browser.
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let callback = to_callback(&b, &up, &login, "corp", &ursula).await;
    let forged = set_param(&callback, "state", "forged-state-value");
    assert_error_page(&b.get(&forged).await, 400, "expired or was already completed", "a forged state");
    let other_browser = Browser::new(&down.server);
    let page = other_browser.get(&callback).await;
    assert_error_page(&page, 403, "another browser", "the callback in another browser");
    no_session(&page, "another browser");
    // The right browser still completes it, once.
    let done = b.get(&callback).await;
    assert!(done.is_consent() || done.is_redirect(), "the first return works: {}", done.describe());
    assert_error_page(&b.get(&callback).await, 400, "expired or was already completed", "a replayed callback");

    // A callback naming another issuer (RFC 9207 mix-up defence).
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let callback = to_callback(&b, &up, &login, "corp", &ursula).await;
    assert!(callback.contains("iss="), "the upstream Latchkey sends iss: {callback}");
    let mixed = set_param(&callback, "iss", "https://evil.example");
    assert_error_page(&b.get(&mixed).await, 400, "does not come from Corp SSO", "another issuer");

    // A nonce that does not match (the upstream signs what it was sent).
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let to_upstream = start_upstream(&b, &login, "corp").await;
    let tampered = set_param(&to_upstream, "nonce", "not-the-nonce-latchkey-sent");
    let callback = upstream_login(&up, &b, &tampered, &ursula, "allow").await;
    let page = b.get(&callback).await;
    assert_error_page(&page, 502, "could not be verified", "nonce mismatch");
    no_session(&page, "nonce mismatch");
    let logged =
        eventually(std::time::Duration::from_secs(3), || async { down.server.log().contains("upstream_rejected") })
            .await;
    assert!(logged, "logged for the operator");

    // An ID token whose signature does not verify with the published keys.
    up.proxy.forge_id_tokens(true).await;
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let callback = to_callback(&b, &up, &login, "corp", &ursula).await;
    let page = b.get(&callback).await;
    assert_error_page(&page, 502, "could not be verified", "ID token signed by a wrong key");
    no_session(&page, "wrong key");
    up.proxy.forge_id_tokens(false).await;

    // An upstream that is down: a page within the timeout, not a hang.
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let started = std::time::Instant::now();
    let page = b
        .post_form(
            "/upstream/gone/start",
            &Params::new()
                .set("interaction", &login.input("interaction").unwrap())
                .set("csrf", &login.input("csrf").unwrap()),
        )
        .await;
    assert_error_page(&page, 503, "cannot be reached", "upstream down");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "bounded by the timeout: {:?}", started.elapsed());

    // Unknown provider, missing state.
    let page = b.get(&down.server.url("/upstream/nope/callback?state=x&code=y")).await;
    assert_eq!(page.status, 404, "{}", page.describe());
    assert_error_page(&b.get(&down.server.url("/upstream/corp/callback")).await, 400, "expired", "no state");

    // After all that, the normal chain still works.
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let back = sign_in_upstream(&b, &up, &login, "corp", &ursula, "allow").await;
    let flow = b.drive(back, None, "allow").await;
    assert!(!flow.code().is_empty());
    assert!(!down.server.log().contains("panicked"));
}

/// Alice (a local account) signs in at /account with her password and links
/// `user`'s upstream account there (both identities proven); her browser.
async fn link_alice(down: &Downstream, up: &Upstream, user: &User) -> Browser {
    let b = Browser::new(&down.server);
    let form = b.get(&down.server.url("/account")).await;
    let res = b
        .post_form(
            "/account/login",
            &Params::new()
                .set("csrf", &form.input("csrf").unwrap())
                .set("username", "alice")
                .set("password", &down.alice.password),
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let account = b.get(&down.server.url("/account")).await;
    assert!(account.body.contains("Link your Corp SSO account"), "{}", account.describe());
    let csrf = account.input("csrf").unwrap();
    let res = b.post_form("/account/link/corp", &Params::new().set("csrf", &csrf)).await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let callback = upstream_login(up, &b, &res.location().unwrap(), user, "allow").await;
    let res = b.get(&callback).await;
    assert_eq!(res.location().as_deref(), Some("/account?done=linked"), "{}", res.describe());
    let account = b.get(&down.server.url("/account?done=linked")).await;
    assert!(account.body.contains(&format!("data-issuer=\"{}\"", up.issuer)), "{}", account.describe());
    b
}

/// `update_claims = "always"`: a linked local account takes the upstream's
/// mapped claims at its next upstream sign-in (by default it keeps its own,
/// see the linking test); the username stays.
async fn update_claims_always_refreshes_a_linked_account(backend: Backend) {
    let up = Upstream::start().await;
    let ursula = up.user("ursula", "ursula@corp.example", true);
    let down = Downstream::start(backend, &up, "update_claims = \"always\"\n").await;
    let app = confidential(&down.db);
    let alice_before = cli_json(&down.db, &["user", "show", "alice"]);
    link_alice(&down, &up, &ursula).await;
    assert_eq!(cli_json(&down.db, &["user", "show", "alice"])["claims"], alice_before["claims"], "linking alone");

    let rp = Rp::discover(&down.server, &app).await;
    let b = Browser::new(&down.server);
    let (url, nonce, verifier) = rp.authorize_url(&["email", "profile"]);
    let login = b.get(&url).await;
    let to = start_upstream(&b, &login, "corp").await;
    let callback = upstream_login(&up, &b, &to, &ursula, "allow").await;
    let flow = b.drive(b.get(&callback).await, None, "allow").await;
    // On the cluster, the other replica's user cache learns of the refresh
    // from the change feed.
    wait_for_change_feed();
    let (claims, _) = rp.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(claims.subject().as_str(), down.alice.id, "the linked account");
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ursula@corp.example"), "the upstream's address now");
    let alice = cli_json(&down.db, &["user", "show", "alice"]);
    assert_eq!(alice["username"], "alice", "the username never changes");
    assert_eq!(alice["claims"]["email"], "ursula@corp.example", "{alice}");
    assert_eq!(alice["claims"]["email_verified"], true, "{alice}");
    assert_eq!(alice["claims"]["name"], "Ursula Upstream", "{alice}");
    assert_ne!(alice["claims"], alice_before["claims"]);
    let kinds = cli_json(&down.db, &["audit", "list"]).to_string();
    assert!(kinds.contains("upstream:corp") && kinds.contains("user.updated"), "the refresh is audited: {kinds}");
}

async fn linking_needs_both_identities_and_home_realm_discovery_finds_the_provider(backend: Backend) {
    let up = Upstream::start().await;
    let ursula = up.user("ursula", "ursula@corp.example", true);
    let unverified = up.user("uma", "uma@corp.example", false);
    let outsider = up.user("olga", "olga@elsewhere.example", true);
    let clash = up.user("carol", "carol@corp.example", true);
    let down = Downstream::start(backend, &up, "").await;
    create_user(&down.db, "carol@corp.example", "carol-local-password", &[]);
    let app = confidential(&down.db);

    // Alice (a local account) links her corp account from /account.
    let b = link_alice(&down, &up, &ursula).await;

    // Home-realm discovery: typing a corp address goes to the provider, and
    // the linked account (alice's) signs in, not a new one.
    let rp = Rp::discover(&down.server, &app).await;
    let b2 = Browser::new(&down.server);
    let (url, nonce, verifier) = rp.authorize_url(&[]);
    let login = b2.get(&url).await;
    assert!(login.body.contains("Username or work email"), "{}", login.describe());
    let res = b2
        .post_form(
            "/login",
            &Params::new()
                .set("interaction", &login.input("interaction").unwrap())
                .set("csrf", &login.input("csrf").unwrap())
                .set("username", "Ursula@Corp.Example")
                .set("password", ""),
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.describe());
    let to = res.location().unwrap();
    assert!(to.starts_with(&format!("{}/authorize?", up.issuer)), "{to}");
    assert!(to.contains("login_hint=Ursula%40Corp.Example"), "the address goes along as login_hint: {to}");
    let alice_before = cli_json(&down.db, &["user", "show", "alice"]);
    let callback = upstream_login(&up, &b2, &to, &ursula, "allow").await;
    let flow = b2.drive(b2.get(&callback).await, None, "allow").await;
    let (claims, _) = rp.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(claims.subject().as_str(), down.alice.id, "the linked account");
    let alice_after = cli_json(&down.db, &["user", "show", "alice"]);
    assert_eq!(alice_after["claims"], alice_before["claims"], "a linked local account keeps its own claims");

    // The same upstream account cannot be linked to a second account.
    let bob = create_user(&down.db, "bob", "bob-password-123", &[]);
    let b3 = Browser::new(&down.server);
    let form = b3.get(&down.server.url("/account")).await;
    b3.post_form(
        "/account/login",
        &Params::new().set("csrf", &form.input("csrf").unwrap()).set("username", "bob").set("password", &bob.password),
    )
    .await;
    let csrf = b3.get(&down.server.url("/account")).await.input("csrf").unwrap();
    let res = b3.post_form("/account/link/corp", &Params::new().set("csrf", &csrf)).await;
    let callback = upstream_login(&up, &b3, &res.location().unwrap(), &ursula, "allow").await;
    assert_error_page(&b3.get(&callback).await, 409, "already linked to another account", "a second link");

    // Provisioning policy: unverified email, another domain, and a local
    // account of the same name (never joined by name or email).
    for (user, status, message) in [
        (&unverified, 403, "did not confirm your email address"),
        (&outsider, 403, "cannot sign in here"),
        (&clash, 409, "already exists here"),
    ] {
        let b = Browser::new(&down.server);
        let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
        let back = sign_in_upstream(&b, &up, &login, "corp", user, "allow").await;
        assert_error_page(&back, status, message, &user.username);
    }
    let users = cli_json(&down.db, &["user", "list"]);
    assert_eq!(users.as_array().unwrap().len(), 3, "alice, carol, bob; nobody provisioned: {users}");

    // Unlinking alice's only upstream account is fine (she has a password).
    let account = b.get(&down.server.url("/account")).await;
    let res = b
        .post_form(
            "/account/unlink",
            &Params::new()
                .set("csrf", &account.input("csrf").unwrap())
                .set("issuer", &up.issuer)
                .set("subject", &ursula.id),
        )
        .await;
    assert_eq!(res.location().as_deref(), Some("/account?done=unlinked"), "{}", res.describe());
    let kinds: Vec<String> = cli_json(&down.db, &["audit", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(kinds.contains(&"identity.linked".into()) && kinds.contains(&"identity.unlinked".into()), "{kinds:?}");
}

async fn latchkey_authenticates_upstream_with_a_private_key(backend: Backend) {
    let up = Upstream::start().await;
    let ursula = up.user("ursula", "ursula@corp.example", true);
    // A client at the upstream that authenticates with private_key_jwt.
    let key = josekit::jws::RS256.generate_key_pair(2048).unwrap();
    let mut public = key.to_jwk_public_key();
    public.set_key_id("downstream-1");
    let dir = tempfile::tempdir().unwrap();
    let (jwks, pem) = (dir.path().join("jwks.json"), dir.path().join("key.pem"));
    std::fs::write(
        &jwks,
        serde_json::json!({ "keys": [serde_json::from_str::<Value>(&public.to_string()).unwrap()] }).to_string(),
    )
    .unwrap();
    std::fs::write(&pem, key.to_pem_private_key()).unwrap();
    let created = cli_json(
        &up.db,
        &[
            "client",
            "create",
            "--name",
            "Keyed downstream",
            "--redirect-uri",
            "https://placeholder.example/cb",
            "--scope",
            "openid email profile",
            "--auth-method",
            "private_key_jwt",
            "--jwks-file",
            jwks.to_str().unwrap(),
        ],
    );
    assert!(created["client_secret"].is_null(), "{created}");
    let client_id = created["client_id"].as_str().unwrap();
    let config = format!(
        r#"
[[upstream]]
id = "corp"
display_name = "Corp SSO"
issuer = "{issuer}"
client_id = "{client_id}"
private_key_file = "{pem}"
private_key_id = "downstream-1"
timeout_seconds = 3
"#,
        issuer = up.issuer,
        pem = pem.display(),
    );
    let down = Downstream::with_config(backend, &config).await;
    let callback = format!("{}/upstream/corp/callback", down.server.issuer);
    cli(&up.db, &["client", "update", client_id, "--redirect-uri", &callback], &[], None).ok();

    let app = confidential(&down.db);
    let rp = Rp::discover(&down.server, &app).await;
    let b = Browser::new(&down.server);
    let (url, nonce, verifier) = rp.authorize_url(&["email"]);
    let login = b.get(&url).await;
    let back = sign_in_upstream(&b, &up, &login, "corp", &ursula, "allow").await;
    assert!(
        back.is_consent(),
        "{}\n{}",
        back.describe(),
        up.server.log().lines().rev().take(8).collect::<Vec<_>>().join("\n")
    );
    let flow = b.drive(back, None, "allow").await;
    let (claims, _) = rp.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(claims.email().map(|e| e.as_str()), Some("ursula@corp.example"));
    // The upstream saw an assertion, not a secret.
    let log = up.server.log();
    assert!(!log.contains("invalid_client"), "{log}");
}

async fn the_password_form_can_be_turned_off(backend: Backend) {
    let up = Upstream::start().await;
    let ursula = up.user("ursula", "ursula@corp.example", true);
    let down = Downstream::start(backend, &up, "").await;
    let app = confidential(&down.db);
    // Same database, a second server with the password form off.
    let server = Server::start(
        &down.db,
        &[("LATCHKEY_LOGIN_PASSWORD_ENABLED", "false"), ("LATCHKEY_CONFIG", down.config_path())],
    )
    .await;
    up.allow_callback(&format!("{}/upstream/corp/callback", server.issuer));
    let b = Browser::new(&server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    assert_eq!(login.status, 200, "{}", login.describe());
    assert!(login.input("password").is_none(), "no password field: {}", login.describe());
    assert!(login.body.contains("Sign in with Corp SSO"));
    // A password posted anyway is not checked.
    let res = b
        .post_form(
            "/login",
            &Params::new()
                .set("interaction", &login.input("interaction").unwrap())
                .set("csrf", &login.input("csrf").unwrap())
                .set("username", "alice")
                .set("password", &down.alice.password),
        )
        .await;
    assert_eq!(res.status, 401, "{}", res.describe());
    assert!(res.set_cookie("latchkey_session").is_none(), "no session from a password");
    // The provider still works.
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let back = sign_in_upstream(&b, &up, &login, "corp", &ursula, "allow").await;
    let flow = b.drive(back, None, "allow").await;
    assert!(!flow.code().is_empty());
}

/// Groups and claim mapping (docs/federation.md): the upstream Latchkey
/// releases `groups` (its user's groups) and `preferred_username`; the
/// downstream maps `groups` → groups (added to `default_groups`) and
/// `preferred_username` → name, and refreshes both on the next sign-in of the
/// account it provisioned. The app sees `groups` only with the `groups` scope.
async fn groups_and_mapped_claims_come_from_upstream_and_stay_fresh(backend: Backend) {
    let up = Upstream::start().await;
    up.allow_groups_scope();
    let ursula = up.user("ursula", "ursula@corp.example", true);
    cli(&up.db, &["user", "update", "ursula", "--group", "corp-staff", "--group", "corp-eng"], &[], None).ok();
    let extra = r#"
scopes = ["openid", "email", "profile", "groups"]
default_groups = ["sso-users"]
[upstream.claims]
groups = "groups"
name = "preferred_username"
"#;
    let down = Downstream::start(backend, &up, extra).await;
    let app = create_client(&down.db, "Groups App", &["--redirect-uri", CB, "--scope", "openid email profile groups"]);
    let rp = Rp::discover(&down.server, &app).await;

    // First sign-in, asking for groups: provisioned with default_groups plus
    // the upstream's, and the mapped name.
    let sign_in = |scopes: &'static [&'static str]| {
        let (up, down, rp, ursula) = (&up, &down, &rp, &ursula);
        async move {
            let b = Browser::new(&down.server);
            let (url, nonce, verifier) = rp.authorize_url(scopes);
            let login = b.get(&url).await;
            let back = sign_in_upstream(&b, up, &login, "corp", ursula, "allow").await;
            let flow = b.drive(back, None, "allow").await;
            let consent = flow.saw_consent;
            let (_, raw, access_token) = rp.exchange_all(&flow.code(), &verifier, &nonce).await;
            (raw, access_token, consent)
        }
    };
    let (raw, access_token, _) = sign_in(&["email", "profile", "groups"]).await;
    let expected = serde_json::json!(["sso-users", "corp-staff", "corp-eng"]);
    assert_eq!(raw["groups"], expected, "the ID token: {raw}");
    assert_eq!(raw["name"], "ursula", "name from the upstream's preferred_username: {raw}");
    assert_eq!(rp.userinfo(&access_token).await["groups"], expected);
    let (_, at) = jwt_parts(&access_token);
    assert_eq!(at["groups"], expected, "RFC 9068 §2.2.3.1: the access token too: {at}");
    let shown = cli_json(&down.db, &["user", "show", "ursula@corp.example"]);
    assert_eq!(shown["groups"], expected, "{shown}");

    // Without the groups scope, no groups anywhere.
    let (raw, access_token, _) = sign_in(&["email", "profile"]).await;
    assert!(raw.get("groups").is_none(), "{raw}");
    assert!(rp.userinfo(&access_token).await.get("groups").is_none());
    assert!(jwt_parts(&access_token).1.get("groups").is_none());

    // The upstream changes the person: the next sign-in brings the change
    // (the upstream is the source of truth of the account it provisioned).
    cli(&up.db, &["user", "update", "ursula", "--remove-group", "corp-eng", "--add-group", "corp-admins"], &[], None)
        .ok();
    cli(&up.db, &["user", "update", "ursula", "--username", "ursula.u", "--given-name", "Ursa"], &[], None).ok();
    let renamed = User { username: "ursula.u".into(), ..ursula.clone() };
    let b = Browser::new(&down.server);
    let (url, nonce, verifier) = rp.authorize_url(&["profile", "groups"]);
    let login = b.get(&url).await;
    let back = sign_in_upstream(&b, &up, &login, "corp", &renamed, "allow").await;
    let flow = b.drive(back, None, "allow").await;
    // On two replicas the token endpoint may be the other one, whose cache
    // drops the old account within one poll of the change feed.
    wait_for_change_feed();
    let (_, raw, _) = rp.exchange_all(&flow.code(), &verifier, &nonce).await;
    assert_eq!(raw["groups"], serde_json::json!(["sso-users", "corp-staff", "corp-admins"]), "{raw}");
    assert_eq!((&raw["name"], &raw["given_name"]), (&"ursula.u".into(), &"Ursa".into()), "{raw}");
    let shown = cli_json(&down.db, &["user", "show", "ursula@corp.example"]);
    assert_eq!(shown["username"], "ursula@corp.example", "the local username never changes: {shown}");
    let updated = cli_json(&down.db, &["audit", "list", "--kind", "user.updated"]);
    let refreshed = updated.as_array().unwrap().iter().find(|e| e["actor"] == "upstream:corp");
    let changed =
        refreshed.unwrap_or_else(|| panic!("audited as the upstream's change: {updated}"))["details"]["changed"]
            .to_string();
    assert!(changed.contains("groups") && changed.contains("given_name"), "{changed}");
}

/// An upstream's second factor (here the upstream Latchkey requires one of
/// the downstream's client: ursula sets up an app there, RFC 6238 codes
/// from Python) counts downstream only where `trust_upstream_mfa` says so.
/// Untrusted, a downstream that requires two factors has ursula set one up
/// locally right after the provider; trusted, it asks nothing more. The app
/// sees `acr` mfa either way, and one factor (`federated`, no `mfa` in
/// `amr`) from a downstream that neither trusts nor requires. One backend: the logic is
/// the same on all, and three servers are not cheap.
#[tokio::test]
async fn an_upstreams_second_factor_counts_only_where_it_is_trusted() {
    let up = Upstream::start().await;
    cli(&up.db, &["client", "update", &up.client.id, "--require-mfa", "true"], &[], None).ok();
    let ursula = up.user("ursula", "ursula@corp.example", true);
    let table = |id: &str, trust: bool| {
        format!(
            "[[upstream]]\nid = \"{id}\"\nissuer = \"{}\"\nclient_id = \"{}\"\nclient_secret = \"{}\"\n\
             timeout_seconds = 3\ntrust_upstream_mfa = {trust}\n",
            up.issuer,
            up.client.id,
            up.client.secret()
        )
    };
    let untrusted =
        Downstream::with_config(Backend::Sqlite, &format!("[mfa]\nrequired = true\n\n{}", table("corp", false))).await;
    let trusted = Downstream::with_config(Backend::Sqlite, &table("corp", true)).await;
    let plain = Downstream::with_config(Backend::Sqlite, &table("corp", false)).await;
    let callbacks: Vec<String> =
        [&untrusted, &trusted, &plain].iter().map(|d| format!("{}/upstream/corp/callback", d.server.issuer)).collect();
    let mut args = vec!["client", "update", up.client.id.as_str()];
    for cb in &callbacks {
        args.extend(["--redirect-uri", cb.as_str()]);
    }
    cli(&up.db, &args, &[], None).ok();

    // Untrusted and required: the upstream's factor (set up there now), then a local one.
    let b = Browser::new(&untrusted.server);
    let app = confidential(&untrusted.db);
    let rp = Rp::discover(&untrusted.server, &app).await;
    let (url, nonce, verifier) = rp.authorize_url(&["email"]);
    let login = b.get(&url).await;
    let to = start_upstream(&b, &login, "corp").await;
    let ub = at(&b, &up.issuer);
    let upstream_login = ub.get(&to).await;
    let setup = ub.login(&upstream_login, &ursula.username, &ursula.password).await;
    let form = Params::new()
        .set("interaction", &setup.input("interaction").unwrap())
        .set("csrf", &setup.input("csrf").unwrap())
        .set("code", &totp(&setup_secret(&setup), now()));
    let done = ub.post_form("/login/enroll", &form).await;
    let back = ub.drive(done, None, "allow").await;
    assert!(back.location.starts_with(&callbacks[0]), "{}", back.location);
    let local = b.get(&back.location).await;
    assert!(local.body.contains("Two-step verification is required"), "a local setup: {}", local.describe());
    let form = Params::new()
        .set("interaction", &local.input("interaction").unwrap())
        .set("csrf", &local.input("csrf").unwrap())
        .set("code", &totp(&setup_secret(&local), now()));
    let flow = b.drive(b.post_form("/login/enroll", &form).await, None, "allow").await;
    let (_, raw) = rp.exchange(&flow.code(), &verifier, &nonce).await;
    assert_eq!(raw["acr"], "urn:latchkey:acr:mfa", "{raw}");
    assert_eq!(raw["amr"], serde_json::json!(["pwd", "otp", "mfa"]), "{raw}");

    // Trusted: the upstream session's two factors are enough, nothing asked here.
    let both = serde_json::json!(["pwd", "otp", "mfa"]);
    for (down, acr, amr) in [
        (&trusted, "urn:latchkey:acr:mfa", both),
        (&plain, "urn:latchkey:acr:federated", serde_json::json!(["pwd", "otp"])),
    ] {
        let b = Browser { http: b.http.clone(), jar: b.jar.clone(), issuer: down.server.issuer.clone() };
        let app = confidential(&down.db);
        let rp = Rp::discover(&down.server, &app).await;
        let (url, nonce, verifier) = rp.authorize_url(&["email"]);
        let login = b.get(&url).await;
        let to = start_upstream(&b, &login, "corp").await;
        let back = ub.drive(ub.get(&to).await, None, "allow").await;
        let flow = b.drive(b.get(&back.location).await, None, "allow").await;
        let (_, raw) = rp.exchange(&flow.code(), &verifier, &nonce).await;
        assert_eq!(raw["acr"], acr, "{raw}");
        assert_eq!(raw["amr"], amr, "the provider's amr, mfa only where trusted: {raw}");
    }
}

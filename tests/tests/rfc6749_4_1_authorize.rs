//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2, RFC 9207),
//! the login and consent pages, sessions and remembered consent, driven by a
//! small cookie-keeping browser over real HTTP. The contract is
//! docs/authorization-flow.md.

mod common;

use common::flow::*;
use latchkey_tests::*;

on_both_backends!(
    phase1_errors_render_a_page_and_never_redirect,
    no_redirect_ever_reaches_an_unregistered_uri,
    phase2_errors_redirect_with_state_and_iss,
    pkce_parameters_are_checked,
    form_post_answers_with_a_self_submitting_page,
    success_carries_code_state_and_iss,
    login_page_headers_cookie_and_hint,
    failed_sign_ins_all_look_the_same,
    csrf_binds_the_form_to_the_browser_and_the_interaction,
    session_cookie_is_strict_and_stored_hashed,
    prompt_none_outcomes,
    consent_is_remembered_per_user_client_and_scope,
    reauthentication_prompt_login_select_account_max_age,
    reflected_values_are_escaped,
    https_issuer_uses_a_host_prefixed_secure_session_cookie,
    jarm_responses_verify_with_pyjwt,
);

/// Phase 1: without a proven client and redirect URI, an HTML error page,
/// HTTP 400, and nothing that sends the browser anywhere.
async fn phase1_errors_render_a_page_and_never_redirect(backend: Backend) {
    let Env { db, server, .. } = env(backend, &[]).await;
    let client = confidential(&db);
    let two = create_client(&db, "Two URIs", &["--redirect-uri", CB, "--redirect-uri", "https://app.example/other"]);
    let other = create_client(&db, "Other", &["--redirect-uri", "https://other.example/cb"]);
    let b = Browser::new(&server);
    let p = pkce();
    let good = code_request(&client.id, &p).set("state", NASTY_STATE);

    // The request the cases below spoil is itself fine.
    let page = b.authorize(&good).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.is_login(), "{}", page.describe());

    let cases: Vec<(&str, Params)> = vec![
        ("unknown client_id", good.clone().set("client_id", "no-such-client")),
        ("missing client_id", good.clone().without("client_id")),
        ("empty client_id", good.clone().set("client_id", "")),
        ("client_id given twice (same value)", good.clone().add("client_id", &client.id)),
        ("client_id given twice (two clients)", good.clone().add("client_id", &other.id)),
        ("unregistered redirect_uri", good.clone().set("redirect_uri", "https://evil.example/cb")),
        ("another client's redirect_uri", good.clone().set("redirect_uri", "https://other.example/cb")),
        ("redirect_uri given twice (same value)", good.clone().add("redirect_uri", CB)),
        ("redirect_uri given twice (second unregistered)", good.clone().add("redirect_uri", "https://evil.example/cb")),
        (
            "empty redirect_uri (= omitted, RFC 6749 §3.1) with two registered",
            code_request(&two.id, &p).set("redirect_uri", ""),
        ),
        ("missing redirect_uri with two registered", code_request(&two.id, &p).without("redirect_uri")),
        (
            "unknown client and a phase-2 error too",
            good.clone().set("client_id", "no-such-client").set("response_type", "token"),
        ),
    ];
    for (what, params) in &cases {
        let page = b.authorize(params).await;
        assert_phase1_page(&page, &format!("GET {what}"));
        let page = b.authorize_post(params).await;
        assert_phase1_page(&page, &format!("POST {what}"));
    }

    // A client with two URIs works when one of them is named.
    let page = b.authorize(&code_request(&two.id, &p).set("redirect_uri", "https://app.example/other")).await;
    assert!(page.is_login(), "{}", page.describe());
    // An empty parameter is an omitted one (RFC 6749 §3.1): fine with one URI.
    let page = b.authorize(&good.clone().set("redirect_uri", "")).await;
    assert!(page.is_login(), "{}", page.describe());
}

/// Near misses of `https://app.example/cb`: each must be refused with the
/// phase-1 page, whatever else is wrong or asked in the request.
const NEAR_MISSES: &[&str] = &[
    "https://app.example/c",
    "https://app.example/cb/x",
    "https://app.example/cbx",
    "https://app.example/CB",
    "https://APP.example/cb",
    "https://APP.EXAMPLE/cb",
    "HTTPS://app.example/cb",
    "http://app.example/cb",
    "https://app.example/cb?x=1",
    "https://app.example/cb?",
    "https://app.example/cb#x",
    "https://app.example/cb#",
    "https://evil@app.example/cb",
    "https://app.example@evil.example/cb",
    "https://app.example:443@evil.example/cb",
    "https://app.example/cb/../evil",
    "https://app.example/cb/%2e%2e/evil",
    "https://app.example/cb/..%2Fevil",
    "https://app.example/cb/./",
    "https://app.example/./cb",
    "https://app.example.evil/cb",
    "https://evil.example/https://app.example/cb",
    "https://app.example/cb/",
    "https://app.example//cb",
    "https://app.example:443/cb",
    "https://app.example./cb",
    "https://app.example/%63b",
    "https://app.example/c%62",
    "https://app.example/cb%2F",
    "https://app.example%2Fcb",
    "https%3A%2F%2Fapp.example%2Fcb",
    "https://app.example/cb%3Fx=1",
    "https://app.example/cb%23x",
    "https://app.example/cb%20",
    "https://app.example/cb ",
    " https://app.example/cb",
    "https://app.example/cb\t",
    "https://app.example/cb%00",
    "https://app.example/cb\r\nLocation: https://evil.example/",
    "https://app.example/cb;x",
    "https://app.example\\cb",
    "//app.example/cb",
    "app.example/cb",
    "/cb",
    "https://app.exаmple/cb",
];

async fn no_redirect_ever_reaches_an_unregistered_uri(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let base = code_request(&client.id, &p).set("state", "s");

    // Also with a signed-in browser: prompt=none must not leak a code either.
    let signed_in = Browser::new(&server);
    signed_in.follow_to_code(&base, &alice).await.code();

    type Variant = (&'static str, Box<dyn Fn(Params) -> Params>);
    let variants: Vec<Variant> = vec![
        ("valid otherwise", Box::new(|p| p)),
        ("response_type=token", Box::new(|p| p.set("response_type", "token"))),
        ("no response_type", Box::new(|p| p.without("response_type"))),
        ("response_mode=form_post", Box::new(|p| p.set("response_mode", "form_post"))),
        ("form_post and an error", Box::new(|p| p.set("response_mode", "form_post").set("response_type", "token"))),
        ("response_mode=fragment", Box::new(|p| p.set("response_mode", "fragment"))),
        ("prompt=none", Box::new(|p| p.set("prompt", "none"))),
        ("no scope", Box::new(|p| p.without("scope"))),
        ("bad scope", Box::new(|p| p.set("scope", "openid admin"))),
        ("no PKCE", Box::new(|p| p.without("code_challenge").without("code_challenge_method"))),
        ("request object", Box::new(|p| p.set("request", "eyJhbGciOiJub25lIn0.e30."))),
    ];
    for uri in NEAR_MISSES {
        for (variant, make) in &variants {
            let params = make(base.clone().set("redirect_uri", uri));
            let what = format!("redirect_uri {uri:?}, {variant}");
            assert_phase1_page(&b.authorize(&params).await, &format!("GET {what}"));
            assert_phase1_page(&signed_in.authorize(&params).await, &format!("signed in, GET {what}"));
        }
        let params = base.clone().set("redirect_uri", uri);
        assert_phase1_page(&b.authorize_post(&params).await, &format!("POST redirect_uri {uri:?}"));
    }
}

/// Phase 2: every listed error redirects to the registered URI with error,
/// error_description, the state byte for byte, and iss.
async fn phase2_errors_redirect_with_state_and_iss(backend: Backend) {
    let Env { db, server, .. } = env(backend, &[]).await;
    let client = confidential(&db);
    let cc_only = create_client(
        &db,
        "Machine",
        &["--redirect-uri", CB, "--grant-type", "client_credentials", "--scope", "openid"],
    );
    let b = Browser::new(&server);
    let p = pkce();
    let good = code_request(&client.id, &p).set("state", NASTY_STATE);

    // A foreign-signed and a wrong-issuer ID token for id_token_hint.
    let now = now();
    let hint_claims = json!({
        "iss": server.issuer, "sub": "someone", "aud": client.id,
        "iat": now, "exp": now + 300,
    });
    let ours_other_iss = sign_with_active_key(
        &db,
        "JWT",
        &json!({"iss": "https://other.example", "sub": "someone", "aud": client.id, "iat": now, "exp": now + 300}),
    )
    .await;
    let foreign = sign_with_foreign_key(&ours_other_iss, &hint_claims).await;

    let cases: Vec<(&str, Params, &str)> = vec![
        ("missing response_type", good.clone().without("response_type"), "invalid_request"),
        ("response_type=token", good.clone().set("response_type", "token"), "unsupported_response_type"),
        ("response_type=id_token", good.clone().set("response_type", "id_token"), "unsupported_response_type"),
        (
            "response_type=code id_token",
            good.clone().set("response_type", "code id_token"),
            "unsupported_response_type",
        ),
        ("response_type twice", good.clone().add("response_type", "code"), "invalid_request"),
        ("response_mode=fragment", good.clone().set("response_mode", "fragment"), "invalid_request"),
        ("response_mode=bogus", good.clone().set("response_mode", "bogus"), "invalid_request"),
        ("missing scope", good.clone().without("scope"), "invalid_scope"),
        ("empty scope", good.clone().set("scope", ""), "invalid_scope"),
        ("malformed scope (quote)", good.clone().set("scope", "openid \"profile\""), "invalid_scope"),
        ("malformed scope (backslash)", good.clone().set("scope", "openid pro\\file"), "invalid_scope"),
        ("scope not allowed", good.clone().set("scope", "openid admin"), "invalid_scope"),
        ("scope given twice", good.clone().add("scope", "openid"), "invalid_request"),
        ("nonce given twice", good.clone().set("nonce", "a").add("nonce", "b"), "invalid_request"),
        ("prompt=none login", good.clone().set("prompt", "none login"), "invalid_request"),
        ("prompt=none consent", good.clone().set("prompt", "none consent"), "invalid_request"),
        ("prompt=bogus", good.clone().set("prompt", "bogus"), "invalid_request"),
        ("prompt=login bogus", good.clone().set("prompt", "login bogus"), "invalid_request"),
        ("max_age=-1", good.clone().set("max_age", "-1"), "invalid_request"),
        ("max_age=abc", good.clone().set("max_age", "abc"), "invalid_request"),
        ("max_age=1.5", good.clone().set("max_age", "1.5"), "invalid_request"),
        ("display=bogus", good.clone().set("display", "bogus"), "invalid_request"),
        ("id_token_hint garbage", good.clone().set("id_token_hint", "garbage"), "invalid_request"),
        ("id_token_hint foreign key", good.clone().set("id_token_hint", &foreign), "invalid_request"),
        ("id_token_hint for another issuer", good.clone().set("id_token_hint", &ours_other_iss), "invalid_request"),
        (
            "an unsigned request object (RFC 9101)",
            good.clone().set("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."),
            "invalid_request_object",
        ),
        (
            "request_uri",
            good.clone().set("request_uri", "https://app.example/request.jwt"),
            "request_uri_not_supported",
        ),
        ("code_challenge_method=plain", good.clone().set("code_challenge_method", "plain"), "invalid_request"),
        ("prompt=none without a session", good.clone().set("prompt", "none"), "login_required"),
        (
            "client not registered for code",
            code_request(&cc_only.id, &p).set("state", NASTY_STATE).set("scope", "openid"),
            "unauthorized_client",
        ),
    ];
    for (what, params, error) in &cases {
        let page = b.authorize(params).await;
        assert_error_redirect(&page, CB, error, Some(NASTY_STATE), &server.issuer, &format!("GET {what}"));
        let page = b.authorize_post(params).await;
        assert_error_redirect(&page, CB, error, Some(NASTY_STATE), &server.issuer, &format!("POST {what}"));
    }

    // Without a state, none comes back.
    let page = b.authorize(&good.clone().without("state").set("response_type", "token")).await;
    assert_error_redirect(&page, CB, "unsupported_response_type", None, &server.issuer, "no state");

    // The values listed as valid are accepted.
    for (name, value) in [
        ("display", "page"),
        ("display", "popup"),
        ("display", "touch"),
        ("display", "wap"),
        ("prompt", "login"),
        ("prompt", "consent"),
        ("prompt", "select_account"),
        ("prompt", "login consent"),
        ("max_age", "0"),
        ("max_age", "3600"),
    ] {
        let page = b.authorize(&good.clone().set(name, value)).await;
        assert!(page.status == 200 && page.is_login(), "{name}={value} is valid: {}", page.describe());
    }
}

/// RFC 7636 at the authorization endpoint.
async fn pkce_parameters_are_checked(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let public = public(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let state = "pkce state";
    let good = code_request(&client.id, &p).set("state", state);
    let alphabet_43 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";
    assert_eq!(alphabet_43.len(), 43);

    let cases: Vec<(&str, Params)> = vec![
        ("method plain", good.clone().set("code_challenge_method", "plain")),
        ("method s256 (case matters)", good.clone().set("code_challenge_method", "s256")),
        ("method bogus", good.clone().set("code_challenge_method", "S512")),
        ("challenge without method", good.clone().without("code_challenge_method")),
        ("challenge of 42 characters", good.clone().set("code_challenge", &alphabet_43[..42])),
        ("challenge of 44 characters", good.clone().set("code_challenge", &format!("{alphabet_43}x"))),
        ("challenge of 128 characters", good.clone().set("code_challenge", &"a".repeat(128))),
        ("challenge with '+'", good.clone().set("code_challenge", &format!("{}+", &alphabet_43[..42]))),
        ("challenge with '='", good.clone().set("code_challenge", &format!("{}=", &alphabet_43[..42]))),
        ("challenge with '.'", good.clone().set("code_challenge", &format!("{}.", &alphabet_43[..42]))),
        ("empty challenge", good.clone().set("code_challenge", "")),
        ("challenge twice", good.clone().add("code_challenge", &p.challenge)),
        (
            "public client without a challenge",
            code_request(&public.id, &p).set("state", state).without("code_challenge").without("code_challenge_method"),
        ),
        (
            "confidential client without a challenge (required by default)",
            good.clone().without("code_challenge").without("code_challenge_method"),
        ),
    ];
    for (what, params) in &cases {
        let page = b.authorize(params).await;
        assert_error_redirect(&page, CB, "invalid_request", Some(state), &server.issuer, what);
    }

    // Any 43 base64url characters are a challenge.
    let page = b.authorize(&good.clone().set("code_challenge", "-_-_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM")).await;
    assert!(page.is_login(), "{}", page.describe());
    let flow = b.follow_to_code(&good, &alice).await;
    flow.code();

    // Relaxed for confidential clients only.
    let relaxed = Server::start(&db, &[("LATCHKEY_PKCE_REQUIRE_FOR_CONFIDENTIAL", "false")]).await;
    let b = Browser::new(&relaxed);
    let no_pkce = code_request(&client.id, &p).without("code_challenge").without("code_challenge_method");
    let flow = b.follow_to_code(&no_pkce, &alice).await;
    flow.code();
    let page = b
        .authorize(
            &code_request(&public.id, &p)
                .set("state", state)
                .without("code_challenge")
                .without("code_challenge_method"),
        )
        .await;
    assert_error_redirect(&page, CB, "invalid_request", Some(state), &relaxed.issuer, "public client, relaxed server");
    let page = b.authorize(&good.clone().set("code_challenge_method", "plain")).await;
    assert_error_redirect(&page, CB, "invalid_request", Some(state), &relaxed.issuer, "plain, relaxed server");
}

/// `response_mode=form_post`: errors and codes in a self-submitting page whose
/// script hash is in the CSP, with a Continue button.
async fn form_post_answers_with_a_self_submitting_page(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let good = code_request(&client.id, &p).set("state", NASTY_STATE).set("response_mode", "form_post");

    // An error.
    let page = b.authorize(&good.clone().set("response_type", "token")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.location().is_none(), "form_post does not redirect");
    assert_form_post_page(&page, "error page");
    let fields = hidden_fields(&page.body);
    assert_eq!(one(&fields, "error"), "unsupported_response_type");
    assert_description_charset(&one(&fields, "error_description"), "form_post error");
    assert_eq!(one(&fields, "state"), NASTY_STATE, "state byte for byte");
    assert_eq!(one(&fields, "iss"), server.issuer);
    assert!(get(&fields, "code").is_none());

    // The same through POST /authorize.
    let page = b.authorize_post(&good.clone().without("scope")).await;
    assert_form_post_page(&page, "POST error page");
    let fields = hidden_fields(&page.body);
    assert_eq!(one(&fields, "error"), "invalid_scope");
    assert_eq!(one(&fields, "state"), NASTY_STATE);

    // An invalid response_mode is answered in the query.
    let page = b.authorize(&good.clone().set("response_mode", "fragment")).await;
    assert_error_redirect(&page, CB, "invalid_request", Some(NASTY_STATE), &server.issuer, "fragment");

    // Success.
    let flow = b.follow_to_code(&good, &alice).await;
    assert!(flow.form_post, "the code comes in a form_post page");
    let last = flow.last.as_ref().unwrap();
    assert_form_post_page(last, "success page");
    assert_eq!(one(&flow.params, "state"), NASTY_STATE);
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    let code = flow.code();
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "the form_post code is redeemable: {}", res.describe());
}

fn assert_form_post_page(page: &Page, what: &str) {
    assert_eq!(page.status, 200, "{what}: {}", page.describe());
    assert_eq!(form_action(&page.body).as_deref(), Some(CB), "{what}: form action");
    assert_eq!(form_method(&page.body).as_deref(), Some("post"), "{what}: form method");
    assert!(page.body.contains("Continue"), "{what}: a visible Continue button");
    assert_page_headers_with_form_action(page, what, Some("https://app.example"));
    // The script that submits the form is allowed by its hash and nothing else.
    let csp = page.header("content-security-policy").unwrap();
    let scripts = inline_scripts(&page.body);
    assert_eq!(scripts.len(), 1, "{what}: one inline script: {}", page.body);
    let hash = format!("'sha256-{}'", {
        use base64::Engine;
        use sha2::Digest;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(scripts[0].as_bytes()))
    });
    let script_src = csp_sources(&csp, "script-src").unwrap_or_else(|| panic!("{what}: no script-src in {csp}"));
    assert!(script_src.contains(&hash), "{what}: script-src must list the script's hash {hash}: {csp}");
    assert!(!script_src.iter().any(|s| s == "'unsafe-inline'" || s == "*"), "{what}: {csp}");
}

/// The contents of each `<script>` element without a `src`.
fn inline_scripts(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(off) = lower[i..].find("<script") {
        let start = i + off;
        let Some(gt) = lower[start..].find('>') else { break };
        let body_start = start + gt + 1;
        let Some(end) = lower[body_start..].find("</script") else {
            break;
        };
        if !lower[start..body_start].contains("src=") {
            out.push(html[body_start..body_start + end].to_string());
        }
        i = body_start + end;
    }
    out
}

async fn success_carries_code_state_and_iss(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let params = code_request(&client.id, &p).set("state", NASTY_STATE);

    let flow = b.follow_to_code(&params, &alice).await;
    let last = flow.last.as_ref().unwrap();
    assert!(last.is_redirect(), "{}", last.describe());
    assert!(flow.location.starts_with(&format!("{CB}?")), "query mode to the registered URI: {}", flow.location);
    assert!(!flow.location.contains('#'));
    let code = flow.code();
    assert_eq!(code.len(), 43, "256 bits in base64url: {code}");
    assert!(code.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "base64url: {code}");
    assert_eq!(one(&flow.params, "state"), NASTY_STATE, "state byte for byte");
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    assert!(get(&flow.params, "error").is_none());
    assert!(!database_contains(&db, &code).await, "the code is stored only as a hash");

    // A redirect URI with a query keeps it; successes and errors are appended.
    let tenant_uri = "https://app.example/cb?tenant=a";
    let tenant = create_client(&db, "Tenant", &["--redirect-uri", tenant_uri]);
    let tp = code_request(&tenant.id, &p).set("redirect_uri", tenant_uri).set("state", "t");
    let flow = b.follow_to_code(&tp, &alice).await;
    assert!(flow.location.starts_with("https://app.example/cb?tenant=a&"), "{}", flow.location);
    assert_eq!(one(&flow.params, "tenant"), "a");
    assert_eq!(one(&flow.params, "state"), "t");
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    let tcode = flow.code();
    let res =
        token(&server, auth_of(&tenant), &code_grant(&tcode, Some(&p.verifier)).set("redirect_uri", tenant_uri)).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    let page = b.authorize(&tp.clone().set("response_type", "token")).await;
    let pairs = assert_error_redirect(
        &page,
        tenant_uri,
        "unsupported_response_type",
        Some("t"),
        &server.issuer,
        "error to a URI with a query",
    );
    assert_eq!(one(&pairs, "tenant"), "a");

    // redirect_uri may be omitted when exactly one is registered.
    let flow = b.follow_to_code(&params.clone().without("redirect_uri").set("state", "o"), &alice).await;
    assert!(flow.location.starts_with(&format!("{CB}?")), "{}", flow.location);
    let code = flow.code();
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier)).without("redirect_uri")).await;
    assert_eq!(res.status, 200, "{}", res.describe());

    // POST /authorize works like GET, with a fresh browser (login and all).
    let b2 = Browser::new(&server);
    let page = b2.authorize_post(&params).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.is_login(), "{}", page.describe());
    let flow = b2.drive(page, Some(&alice), "allow").await;
    assert_eq!(one(&flow.params, "state"), NASTY_STATE);
    assert_eq!(one(&flow.params, "iss"), server.issuer);
    let code = flow.code();
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());

    // Accepted parameters, and unknown ones, change nothing.
    let extra = params
        .clone()
        .set("state", "x")
        .set("ui_locales", "fr-CA fr en")
        .set("claims_locales", "de")
        .set("acr_values", "urn:mace:incommon:iap:silver")
        .set("login_hint", "alice")
        .set("nonce", "n-0S6_WzA2Mj")
        .set("claims", r#"{"userinfo":{"email":{"essential":true}},"id_token":{"auth_time":null}}"#)
        .set("display", "popup")
        .set("x_unknown", "ignored");
    let flow = b.follow_to_code(&extra, &alice).await;
    flow.code();
    assert_eq!(one(&flow.params, "state"), "x");
}

async fn login_page_headers_cookie_and_hint(backend: Backend) {
    let Env { db, server, .. } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let page = b.authorize(&code_request(&client.id, &p).set("login_hint", "alice")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.is_login());
    assert_page_headers_with_form_action(&page, "login page", Some("https://app.example"));

    // The CSRF cookie, and the form's csrf field equal to it.
    let csrf = page
        .set_cookie("latchkey_csrf")
        .unwrap_or_else(|| panic!("no latchkey_csrf cookie: {:?}", page.header_all("set-cookie")));
    assert!(csrf.has("httponly"), "{}", csrf.raw);
    assert_eq!(csrf.attr("samesite").as_deref(), Some("lax"), "{}", csrf.raw);
    assert!(!csrf.value.is_empty());
    assert_eq!(page.input("csrf").as_deref(), Some(csrf.value.as_str()), "csrf field = cookie");
    assert_eq!(b.cookie("latchkey_csrf").as_deref(), Some(csrf.value.as_str()));
    assert!(page.set_cookie("latchkey_session").is_none(), "no session before sign-in");

    // The form.
    assert_eq!(form_method(&page.body).as_deref(), Some("post"));
    let action = form_action(&page.body).expect("form action");
    assert!(action == "/login" || action == server.url("/login"), "the login form posts to /login: {action}");
    assert!(!page.input("interaction").unwrap_or_default().is_empty());
    assert_eq!(page.input("username").as_deref(), Some("alice"), "login_hint prefills the username");
    let password = elements(&page.body).into_iter().find(|e| e.attr("name") == Some("password")).unwrap();
    assert_eq!(password.attr("type"), Some("password"));
    assert!(password.attr("value").is_none_or(str::is_empty), "no password prefilled");

    // Without a hint the username is empty.
    let page = b.authorize(&code_request(&client.id, &p)).await;
    assert_eq!(page.input("username").unwrap_or_default(), "");

    // The stylesheet the pages use.
    let css = b.get(&server.url("/assets/latchkey.css")).await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").unwrap_or_default().starts_with("text/css"), "{:?}", css.header("content-type"));
}

async fn failed_sign_ins_all_look_the_same(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let bob = create_user(&db, "bob", "bob's password", &[]);
    cli(&db, &["user", "disable", "bob"], &[], None).ok();
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let params = code_request(&client.id, &p);

    let mut normalized = Vec::new();
    let mut last = None;
    for (what, user, pass) in [
        ("wrong password", "alice", "wrong password"),
        ("unknown user", "nobody", PASSWORD),
        ("disabled user", bob.username.as_str(), bob.password.as_str()),
        ("empty password", "alice", ""),
        ("password with a trailing space", "alice", &format!("{PASSWORD} ") as &str),
    ] {
        let page = b.authorize(&params).await;
        let res = b.login(&page, user, pass).await;
        assert_eq!(res.status, 401, "{what}: {}", res.describe());
        assert!(res.body.contains(BAD_LOGIN), "{what}: {}", res.body);
        assert!(res.is_login(), "{what}: the form is shown again");
        assert!(
            res.set_cookie("latchkey_session").is_none(),
            "{what}: no session cookie: {:?}",
            res.header_all("set-cookie")
        );
        assert!(res.location().is_none());
        assert_page_headers(&res, what);
        normalized.push((what, strip_values(&res.body)));
        last = Some(res);
    }
    assert!(b.cookie("latchkey_session").is_none());
    for (what, body) in &normalized[1..] {
        assert_eq!(body, &normalized[0].1, "the page for {what} differs from the one for {}", normalized[0].0);
    }

    // The form shown again works.
    let res = b.login(last.as_ref().unwrap(), &alice.username, &alice.password).await;
    let flow = b.drive(res, Some(&alice), "allow").await;
    flow.code();
    assert_eq!(flow.saw_login, 0);
}

/// The page without the values of its attributes (usernames, tokens).
fn strip_values(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find("value=\"") {
        out.push_str(&rest[..i + 7]);
        rest = &rest[i + 7..];
        let end = rest.find('"').unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

async fn csrf_binds_the_form_to_the_browser_and_the_interaction(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let p = pkce();
    let params = code_request(&client.id, &p);
    let a = Browser::new(&server);
    let b = Browser::new(&server);
    let page_a = a.authorize(&params).await;
    let page_b = b.authorize(&params).await;
    let (ia, ca) = (page_a.input("interaction").unwrap(), page_a.input("csrf").unwrap());
    let (ib, cb) = (page_b.input("interaction").unwrap(), page_b.input("csrf").unwrap());
    assert_ne!(ca, cb, "each browser has its own CSRF token");
    assert_ne!(ia, ib);

    let login = |i: &str, c: Option<&str>| {
        let mut f =
            Params::new().set("interaction", i).set("username", &alice.username).set("password", &alice.password);
        if let Some(c) = c {
            f = f.set("csrf", c);
        }
        f
    };
    let cases = [
        ("csrf of another browser", login(&ia, Some(&cb))),
        ("interaction of another browser", login(&ib, Some(&ca))),
        ("wrong csrf", login(&ia, Some("x"))),
        ("empty csrf", login(&ia, Some(""))),
        ("no csrf", login(&ia, None)),
        ("unknown interaction", login("no-such-interaction", Some(&ca))),
    ];
    for (what, form) in &cases {
        let res = a.post_form("/login", form).await;
        assert_refused(&res, what);
    }
    // No cookie at all, with the right fields.
    let res = Page::of(
        http()
            .post(server.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(login(&ia, Some(&ca)).encode())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(&res, "no csrf cookie");
    assert!(a.cookie("latchkey_session").is_none(), "no session from refused forms");

    // The consent form is bound the same way.
    let page = a.authorize(&params).await;
    let consent = a.login(&page, &alice.username, &alice.password).await;
    let consent = follow_within(&a, consent).await;
    assert!(consent.is_consent(), "{}", consent.describe());
    let page_b = b.authorize(&params).await;
    let ci = consent.input("interaction").unwrap();
    let cases =
        [("consent: csrf of another browser", page_b.input("csrf").unwrap()), ("consent: wrong csrf", "x".to_string())];
    for (what, csrf) in &cases {
        let form = Params::new().set("interaction", &ci).set("csrf", csrf).set("decision", "allow");
        let res = a.post_form("/consent", &form).await;
        assert_refused(&res, what);
    }
    let res = Page::of(
        http()
            .post(server.url("/consent"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                Params::new()
                    .set("interaction", &ci)
                    .set("csrf", &consent.input("csrf").unwrap())
                    .set("decision", "allow")
                    .encode(),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_refused(&res, "consent without the cookie");

    // The browser itself still gets through.
    let flow = a.drive(a.authorize(&params).await, Some(&alice), "allow").await;
    flow.code();
}

/// Follows redirects within the issuer.
async fn follow_within(b: &Browser, mut page: Page) -> Page {
    for _ in 0..5 {
        match page.location() {
            Some(loc) if page.is_redirect() => {
                let abs = url::Url::parse(&page.url).unwrap().join(&loc).unwrap().to_string();
                if !abs.starts_with(&b.issuer) {
                    return page;
                }
                page = b.get(&abs).await;
            }
            _ => return page,
        }
    }
    page
}

fn assert_refused(res: &Page, what: &str) {
    assert!(res.status.is_client_error(), "{what}: must be refused with 4xx: {}", res.describe());
    assert!(res.set_cookie("latchkey_session").is_none(), "{what}: no session: {:?}", res.header_all("set-cookie"));
    if let Some(loc) = res.location() {
        assert!(!loc.contains("code="), "{what}: no code: {loc}");
    }
    assert!(!res.body.contains("name=\"code\""), "{what}: no code");
}

async fn session_cookie_is_strict_and_stored_hashed(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let first_party = create_client(&db, "First party", &["--redirect-uri", CB, "--skip-consent"]);
    let b = Browser::new(&server);
    let p = pkce();
    let page = b.authorize(&code_request(&client.id, &p)).await;
    let res = b.login(&page, &alice.username, &alice.password).await;
    assert!(res.status.is_success() || res.is_redirect(), "sign-in succeeded: {}", res.describe());
    let cookie = res
        .set_cookie("latchkey_session")
        .unwrap_or_else(|| panic!("no latchkey_session cookie: {:?}", res.header_all("set-cookie")));
    assert!(res.set_cookie("__Host-latchkey_session").is_none(), "the __Host- name is for https issuers");
    assert!(cookie.has("httponly"), "{}", cookie.raw);
    assert_eq!(cookie.attr("samesite").as_deref(), Some("lax"), "{}", cookie.raw);
    assert_eq!(cookie.attr("path").as_deref(), Some("/"), "{}", cookie.raw);
    assert!(!cookie.has("secure"), "not Secure for an http issuer: {}", cookie.raw);
    assert!(cookie.attr("domain").is_none(), "host-only: {}", cookie.raw);
    let v = &cookie.value;
    let entropy_ok = (v.len() >= 43 && v.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'))
        || (v.len() >= 64 && v.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(entropy_ok, "256 random bits (base64url or hex): {v:?}");
    assert!(!database_contains(&db, v).await, "the session id must be stored only as a hash");

    // The session is used: no login page for the next requests, for this or
    // another client.
    let flow = b.drive(res, Some(&alice), "allow").await;
    flow.code();
    let flow = b.follow_to_code(&code_request(&client.id, &p), &alice).await;
    assert_eq!(flow.saw_login, 0, "signed in already");
    assert_eq!(flow.saw_consent, 0);
    flow.code();
    let flow = b.follow_to_code(&code_request(&first_party.id, &p), &alice).await;
    assert_eq!(flow.saw_login, 0, "the session covers every client");
    flow.code();

    // Another browser is not signed in; a forged session cookie is ignored.
    let other = Browser::new(&server);
    other.set_cookie("latchkey_session", "forged-forged-forged-forged-forged-forged-xx");
    let page = other.authorize(&code_request(&client.id, &p).set("prompt", "none").set("state", "f")).await;
    assert_error_redirect(&page, CB, "login_required", Some("f"), &server.issuer, "forged session");
    // The session cookie copied into another browser is the session (a bearer
    // credential): it works there, which is what the cookie flags protect.
    let copy = Browser::new(&server);
    copy.set_cookie("latchkey_session", v);
    let page = copy.authorize(&code_request(&client.id, &p).set("prompt", "none")).await;
    assert!(page.is_redirect(), "{}", page.describe());
    assert!(get(&query_pairs(&page.location().unwrap()), "code").is_some());
}

async fn prompt_none_outcomes(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let bob = create_user(&db, "bob", "bob's password", &[]);
    let a_client = confidential(&db);
    let b_client = create_client(&db, "Second app", &["--redirect-uri", CB]);
    let p = pkce();
    let none = |c: &TestClient, state: &str| code_request(&c.id, &p).set("prompt", "none").set("state", state);

    // No session.
    let browser = Browser::new(&server);
    let page = browser.authorize(&none(&a_client, "s1")).await;
    assert_error_redirect(&page, CB, "login_required", Some("s1"), &server.issuer, "no session");

    // Sign in and consent for client A; then client B has no consent yet.
    let code = browser.follow_to_code(&code_request(&a_client.id, &p), &alice).await.code();
    let alice_tokens = token(&server, auth_of(&a_client), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(alice_tokens.status, 200, "{}", alice_tokens.describe());
    let alice_id_token = alice_tokens.json()["id_token"].as_str().unwrap().to_string();
    let page = browser.authorize(&none(&b_client, "s2")).await;
    assert_error_redirect(&page, CB, "consent_required", Some("s2"), &server.issuer, "no consent");

    // Client A: straight to the code, no page.
    let page = browser.authorize(&none(&a_client, "s3")).await;
    assert!(page.is_redirect(), "{}", page.describe());
    let pairs = query_pairs(&page.location().unwrap());
    assert!(get(&pairs, "code").is_some(), "{pairs:?}");
    assert_eq!(one(&pairs, "state"), "s3");
    assert_eq!(one(&pairs, "iss"), server.issuer);

    // id_token_hint: Alice's own hint works; Bob's gives login_required.
    let bob_browser = Browser::new(&server);
    let code = bob_browser.follow_to_code(&code_request(&a_client.id, &p), &bob).await.code();
    let bob_tokens = token(&server, auth_of(&a_client), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(bob_tokens.status, 200, "{}", bob_tokens.describe());
    let bob_id_token = bob_tokens.json()["id_token"].as_str().unwrap().to_string();

    let page = browser.authorize(&none(&a_client, "s4").set("id_token_hint", &alice_id_token)).await;
    assert!(page.is_redirect(), "{}", page.describe());
    assert!(
        get(&query_pairs(&page.location().unwrap()), "code").is_some(),
        "the hint names the signed-in user: {:?}",
        page.location()
    );
    let page = browser.authorize(&none(&a_client, "s5").set("id_token_hint", &bob_id_token)).await;
    assert_error_redirect(&page, CB, "login_required", Some("s5"), &server.issuer, "hint names another user");
    let page = browser.authorize(&none(&a_client, "s6").set("id_token_hint", "not.a.jwt")).await;
    assert_error_redirect(&page, CB, "invalid_request", Some("s6"), &server.issuer, "bad hint");
}

async fn consent_is_remembered_per_user_client_and_scope(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let bob = create_user(&db, "bob", "bob's password", &[]);
    let a_client = confidential(&db);
    let b_client = create_client(&db, "Second app", &["--redirect-uri", CB]);
    let first_party = create_client(&db, "First party", &["--redirect-uri", CB, "--skip-consent"]);
    let p = pkce();
    let req = |c: &TestClient, scope: &str| code_request(&c.id, &p).set("scope", scope);
    let browser = Browser::new(&server);

    let flow = browser.follow_to_code(&req(&a_client, "openid profile email"), &alice).await;
    assert_eq!((flow.saw_login, flow.saw_consent), (1, 1), "first time: login and consent");
    flow.code();

    // The consent page.
    let page = browser.authorize(&req(&a_client, "openid profile email phone")).await;
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.is_consent(), "{}", page.describe());
    assert_page_headers_with_form_action(&page, "consent page", Some("https://app.example"));
    assert_eq!(form_method(&page.body).as_deref(), Some("post"));
    let action = form_action(&page.body).unwrap();
    assert!(action == "/consent" || action == server.url("/consent"), "{action}");
    let decisions = input_values(&page.body, "decision");
    assert!(decisions.contains(&"allow".to_string()) && decisions.contains(&"deny".to_string()), "{decisions:?}");
    assert!(page.body.contains("Test App"), "the client's name is shown");

    for (scope, consent_expected, what) in [
        ("openid profile email", 0, "same scopes"),
        ("openid email", 0, "fewer scopes"),
        ("email openid profile", 0, "same scopes in another order"),
        ("openid profile email phone", 1, "more scopes"),
        ("openid phone", 0, "now granted"),
    ] {
        let flow = browser.follow_to_code(&req(&a_client, scope), &alice).await;
        assert_eq!(flow.saw_login, 0, "{what}");
        assert_eq!(flow.saw_consent, consent_expected, "{what}: {scope}");
        flow.code();
        if consent_expected == 0 {
            // Straight from /authorize to the client.
            let page = browser.authorize(&req(&a_client, scope)).await;
            assert!(page.is_redirect(), "{what}: {}", page.describe());
            assert!(page.location().unwrap().starts_with(&format!("{CB}?")));
        }
    }
    let flow = browser.follow_to_code(&req(&a_client, "openid").set("prompt", "consent"), &alice).await;
    assert_eq!(flow.saw_consent, 1, "prompt=consent shows it again");
    flow.code();

    // Per client: B asks; deny gives access_denied with state and iss.
    let page = browser.authorize(&req(&b_client, "openid").set("state", NASTY_STATE)).await;
    assert!(page.is_consent(), "{}", page.describe());
    let res = browser.consent(&page, "deny").await;
    let res = follow_within(&browser, res).await;
    assert_error_redirect(&res, CB, "access_denied", Some(NASTY_STATE), &server.issuer, "deny");
    let flow = browser.follow_to_code(&req(&b_client, "openid"), &alice).await;
    assert_eq!(flow.saw_consent, 1, "a denial is not remembered as consent");
    flow.code();

    // Per user: Bob is asked for client A.
    let bob_browser = Browser::new(&server);
    let flow = bob_browser.follow_to_code(&req(&a_client, "openid"), &bob).await;
    assert_eq!(flow.saw_consent, 1, "consent is per user");
    flow.code();

    // --skip-consent: never, not even with prompt=consent.
    for (params, what) in [
        (req(&first_party, "openid profile"), "first request"),
        (req(&first_party, "openid profile email phone"), "more scopes"),
        (req(&first_party, "openid").set("prompt", "consent"), "prompt=consent"),
    ] {
        let flow = bob_browser.follow_to_code(&params, &bob).await;
        assert_eq!(flow.saw_consent, 0, "skip-consent client, {what}");
        flow.code();
    }
}

async fn reauthentication_prompt_login_select_account_max_age(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = create_client(&db, "First party", &["--redirect-uri", CB, "--skip-consent"]);
    let p = pkce();
    let req = code_request(&client.id, &p);
    let browser = Browser::new(&server);
    browser.follow_to_code(&req, &alice).await.code();
    let old_session = browser.cookie("latchkey_session").expect("session cookie");

    let flow = browser.follow_to_code(&req.clone().set("max_age", "3600"), &alice).await;
    assert_eq!(flow.saw_login, 0, "a recent sign-in satisfies max_age=3600");
    flow.code();

    for (name, value) in [("prompt", "login"), ("prompt", "select_account"), ("max_age", "0")] {
        let page = browser.authorize(&req.clone().set(name, value)).await;
        assert_eq!(page.status, 200, "{name}={value}: {}", page.describe());
        assert!(page.is_login(), "{name}={value} shows the login page with a session");
        let flow = browser.drive(page, Some(&alice), "allow").await;
        assert_eq!(flow.saw_login, 1);
        flow.code();
    }

    // Signing in replaced the session: a new cookie, and the old one is dead.
    let new_session = browser.cookie("latchkey_session").expect("session cookie");
    assert_ne!(new_session, old_session, "signing in replaces the session");
    let stale = Browser::new(&server);
    stale.set_cookie("latchkey_session", &old_session);
    let page = stale.authorize(&req.clone().set("prompt", "none").set("state", "old")).await;
    assert_error_redirect(&page, CB, "login_required", Some("old"), &server.issuer, "replaced session");
    let page = browser.authorize(&req.clone().set("prompt", "none")).await;
    assert!(page.is_redirect(), "{}", page.describe());
    assert!(get(&query_pairs(&page.location().unwrap()), "code").is_some());

    // prompt=login together with prompt=none is refused, not a silent pass.
    let page = browser.authorize(&req.clone().set("prompt", "none login").set("state", "nl")).await;
    assert_error_redirect(&page, CB, "invalid_request", Some("nl"), &server.issuer, "none+login");
}

async fn reflected_values_are_escaped(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let evil_name = "Evil <b>App</b> \"quoted\" & 'single'";
    let client = create_client(&db, evil_name, &["--redirect-uri", CB]);
    let b = Browser::new(&server);
    let p = pkce();
    let xss = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>";
    let raw_markers = ["<script>alert(1)", "<img src=x", "<b>App</b>"];
    let check = |page: &Page, what: &str| {
        for m in raw_markers {
            assert!(!page.body.contains(m), "{what}: {m:?} reflected unescaped:\n{}", page.body);
        }
    };

    // login_hint on the login page.
    let page = b.authorize(&code_request(&client.id, &p).set("login_hint", xss).set("state", xss)).await;
    assert!(page.is_login(), "{}", page.describe());
    check(&page, "login page");
    assert_eq!(page.input("username").as_deref(), Some(xss), "escaped, not altered");

    // The username typed on a failed login.
    let res = b.login(&page, xss, "wrong").await;
    assert_eq!(res.status, 401);
    check(&res, "failed login");

    // The client's name on the consent page.
    let page = b.authorize(&code_request(&client.id, &p).set("state", xss)).await;
    let res = b.login(&page, &alice.username, &alice.password).await;
    let res = follow_within(&b, res).await;
    assert!(res.is_consent(), "{}", res.describe());
    check(&res, "consent page");
    assert!(unescape(&res.body).contains(evil_name), "the name is shown, escaped: {}", res.body);

    // The state in a form_post page.
    let page = b
        .authorize(
            &code_request(&client.id, &p)
                .set("state", xss)
                .set("response_mode", "form_post")
                .set("response_type", "token"),
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.describe());
    check(&page, "form_post page");
    assert_eq!(one(&hidden_fields(&page.body), "state"), xss);

    // client_id and redirect_uri on the phase-1 page.
    let page = b.authorize(&code_request(xss, &p).set("redirect_uri", &format!("https://evil.example/{xss}"))).await;
    assert_phase1_page(&page, "phase-1 page");
    check(&page, "phase-1 page");
    let page =
        b.authorize(&code_request(&client.id, &p).set("redirect_uri", &format!("https://evil.example/{xss}"))).await;
    assert_phase1_page(&page, "phase-1 page (redirect_uri)");
    check(&page, "phase-1 page (redirect_uri)");
}

/// With an https issuer the session cookie is `__Host-latchkey_session` and
/// `Secure`. The test talks plain HTTP to the listener (as a TLS-terminating
/// proxy would), so it carries the cookies by hand.
async fn https_issuer_uses_a_host_prefixed_secure_session_cookie(backend: Backend) {
    let db = TestDb::new(backend).await;
    let issuer = "https://id.example.test";
    let server = Server::start(&db, &[("LATCHKEY_ISSUER", issuer)]).await;
    let alice = create_alice(&db);
    let client = confidential(&db);
    let p = pkce();
    let c = http();
    let page = Page::of(
        c.get(format!("{}?{}", server.url("/authorize"), code_request(&client.id, &p).encode())).send().await.unwrap(),
    )
    .await;
    assert!(page.is_login(), "{}", page.describe());
    let csrf = page
        .header_all("set-cookie")
        .into_iter()
        .map(|raw| SetCookie::parse(&raw))
        .find(|c| c.name.ends_with("latchkey_csrf"))
        .unwrap_or_else(|| panic!("no CSRF cookie: {:?}", page.header_all("set-cookie")));
    assert!(csrf.has("httponly"), "{}", csrf.raw);
    assert!(csrf.has("secure"), "the CSRF cookie is Secure under https too: {}", csrf.raw);
    let form = Params::new()
        .set("interaction", &page.input("interaction").unwrap())
        .set("csrf", &page.input("csrf").unwrap())
        .set("username", &alice.username)
        .set("password", &alice.password);
    let res = Page::of(
        c.post(server.url("/login"))
            .header("cookie", format!("{}={}", csrf.name, csrf.value))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.encode())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(res.status.is_success() || res.is_redirect(), "{}\nserver log:\n{}", res.describe(), server.log());
    assert!(res.set_cookie("latchkey_session").is_none(), "only the prefixed name under https");
    let session = res
        .set_cookie("__Host-latchkey_session")
        .unwrap_or_else(|| panic!("no __Host-latchkey_session: {:?}", res.header_all("set-cookie")));
    assert!(session.has("secure"), "{}", session.raw);
    assert!(session.has("httponly"), "{}", session.raw);
    assert_eq!(session.attr("samesite").as_deref(), Some("lax"), "{}", session.raw);
    assert_eq!(session.attr("path").as_deref(), Some("/"), "{}", session.raw);
    assert!(session.attr("domain").is_none(), "__Host- cookies have no Domain: {}", session.raw);
    assert!(!database_contains(&db, &session.value).await);
}

/// JARM (`response_mode=jwt`): the code and an error each come back as one
/// signed `response` JWT, which PyJWT (an independent JOSE library) verifies
/// from our JWKS with `iss`, `aud` and `exp`; an altered one is refused.
/// The code inside is redeemed. Contract: docs/authorization-flow.md, "JARM".
async fn jarm_responses_verify_with_pyjwt(backend: Backend) {
    let Some(python) = python_with("jwt, cryptography") else { return };
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let flow =
        b.follow_to_code(&code_request(&client.id, &p).set("response_mode", "jwt").set("state", "xyz"), &alice).await;
    assert_eq!(flow.params.len(), 1, "only response: {:?}", flow.params);
    let success = one(&flow.params, "response");
    let silent = code_request(&client.id, &pkce()).set("response_mode", "jwt").set("prompt", "none");
    let page = Browser::new(&server).authorize(&silent).await;
    let failure = one(&query_pairs(&page.location().expect("a redirect")), "response");

    let args = [server.url("/jwks"), server.issuer.clone(), client.id.clone(), success, failure];
    let report = python_report(python, "pyjwt_jarm.py", &args, &server).await;
    assert_eq!(report["altered_refused"], true, "{report}");
    let (ok, error) = (&report["verified"][0], &report["verified"][1]);
    assert_eq!(ok["state"], "xyz", "{report}");
    assert_eq!(error["error"], "login_required", "{report}");
    let code = ok["code"].as_str().expect("a code").to_string();
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());
}

//! The token endpoint for the authorization code grant (RFC 6749 §4.1.3,
//! §2.3.1, §5), PKCE (RFC 7636 §4.6) and the access token format (RFC 9068),
//! over real HTTP. The contract is docs/authorization-flow.md.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;

on_both_backends!(
    basic_exchange_and_the_response,
    client_authentication_methods_are_enforced,
    grant_type_errors,
    code_reuse_is_refused_and_revokes_the_tokens,
    concurrent_redemptions_succeed_exactly_once,
    a_corrected_request_redeems_the_code,
    concurrent_redemptions_with_typos_succeed_exactly_once,
    codes_are_bound_to_client_redirect_uri_and_verifier,
    verifier_for_a_code_without_challenge,
    codes_expire,
    refresh_token_only_with_offline_access_and_the_grant,
    malformed_bodies_are_invalid_request,
    access_token_audience_is_configurable,
);

/// `grant_types_supported` from discovery.
async fn supported_grants(server: &Server) -> Vec<String> {
    let doc: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    doc["grant_types_supported"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g.as_str().map(String::from)).collect())
        .unwrap_or_default()
}

fn tail(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn scope_set(s: &str) -> BTreeSet<String> {
    s.split(' ').map(String::from).collect()
}

async fn basic_exchange_and_the_response(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let params = code_request(&client.id, &p).set("nonce", "n-42");
    let code = code_for(&b, &params, &alice).await;

    let before = now();
    let res = token(&server, Auth::Basic(&client.id, client.secret()), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(res.header("pragma").as_deref(), Some("no-cache"));
    assert!(res.header("content-type").unwrap_or_default().starts_with("application/json"));
    let body = res.json();
    assert_eq!(body["token_type"], "Bearer", "{body}");
    let expires_in = body["expires_in"].as_i64().expect("expires_in is an integer");
    assert!(expires_in > 0, "{body}");
    assert_eq!(scope_set(body["scope"].as_str().unwrap()), scope_set(SCOPES));
    assert!(body.get("refresh_token").is_none(), "no offline_access: {body}");
    let access_token = body["access_token"].as_str().unwrap();
    let id_token = body["id_token"].as_str().expect("id_token for openid");

    // The access token: an RS256 JWT of type at+jwt (RFC 9068), verified with
    // nothing but the JWKS.
    let (header, _) = jwt_parts(access_token);
    assert_eq!(header["typ"], "at+jwt", "{header}");
    assert_eq!(header["alg"], "RS256", "{header}");
    let at = verify_jwt(&server, access_token).await;
    assert_eq!(at["iss"], server.issuer.as_str());
    assert_eq!(at["sub"], alice.id.as_str());
    assert!(aud_contains(&at["aud"], &server.issuer), "default audience is the issuer: {at}");
    assert_eq!(at["client_id"], client.id.as_str());
    assert_eq!(scope_set(at["scope"].as_str().unwrap()), scope_set(SCOPES));
    let (iat, exp) = (at["iat"].as_i64().unwrap(), at["exp"].as_i64().unwrap());
    assert!((before - 5..=now() + 5).contains(&iat), "iat is now: {at}");
    assert!((exp - iat - expires_in).abs() <= 1, "exp - iat = expires_in: {at} vs {expires_in}");
    assert!(!at["jti"].as_str().unwrap_or_default().is_empty(), "{at}");
    let auth_time = at["auth_time"].as_i64().expect("auth_time");
    assert!(auth_time <= iat && auth_time > iat - 120, "{at}");
    assert!(at["acr"].is_string(), "acr: {at}");
    assert!(at["amr"].as_array().is_some_and(|a| a.iter().any(|m| m == "pwd")), "amr contains pwd: {at}");

    // The ID token.
    let (id_header, _) = jwt_parts(id_token);
    assert_eq!(id_header["alg"], "RS256");
    let id = verify_jwt(&server, id_token).await;
    assert_eq!(id["sub"], alice.id.as_str());
    assert!(aud_contains(&id["aud"], &client.id), "{id}");
    assert_eq!(id["azp"], client.id.as_str());
    assert_eq!(id["nonce"], "n-42");
    assert_eq!(id["auth_time"], auth_time);
    assert!(id["sid"].as_str().is_some_and(|s| !s.is_empty()), "sid: {id}");
    assert_eq!(id["acr"], at["acr"]);
    assert_eq!(id["amr"], at["amr"]);
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(access_token.as_bytes())
    };
    let at_hash = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
    };
    assert_eq!(id["at_hash"], at_hash.as_str());
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["phone_number"], "+15550100");
    assert_eq!(id["name"], "Alice Liddell");

    // Each token has its own jti.
    let code = code_for(&b, &params, &alice).await;
    let again = token(&server, Auth::Basic(&client.id, client.secret()), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(again.status, 200, "{}", again.describe());
    let at2 = jwt_parts(again.json()["access_token"].as_str().unwrap()).1;
    assert_ne!(at2["jti"], at["jti"]);

    // client_secret_basic: id and secret are form-url-decoded after base64,
    // so a client that percent-encodes every character gets through.
    let pct = |s: &str| s.bytes().map(|c| format!("%{c:02X}")).collect::<String>();
    let raw = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", pct(&client.id), pct(client.secret())))
    };
    let code = code_for(&b, &params, &alice).await;
    let res = token(&server, Auth::BasicRaw(&raw), &code_grant(&code, Some(&p.verifier))).await;
    assert_eq!(res.status, 200, "percent-encoded Basic credentials: {}", res.describe());
    if client.secret().contains('-') {
        let raw = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(format!(
                "{}:{}",
                client.id,
                client.secret().replace('-', "%2D")
            ))
        };
        let code = code_for(&b, &params, &alice).await;
        let res = token(&server, Auth::BasicRaw(&raw), &code_grant(&code, Some(&p.verifier))).await;
        assert_eq!(res.status, 200, "%2D for '-': {}", res.describe());
    }
}

/// Each case uses a real code of the client; a failed client authentication
/// must not spend it.
async fn client_authentication_methods_are_enforced(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let basic = confidential(&db);
    let post = create_client(&db, "Post App", &["--redirect-uri", CB, "--auth-method", "client_secret_post"]);
    let public = public(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let realm = "Basic realm=\"latchkey\"";

    // client_secret_basic client.
    let code = code_for(&b, &code_request(&basic.id, &p), &alice).await;
    let grant = code_grant(&code, Some(&p.verifier));
    for (what, auth, basic_used) in [
        ("post for a basic client", Auth::Post(&basic.id, basic.secret()), false),
        ("wrong secret", Auth::Basic(&basic.id, "wrong-secret"), true),
        ("empty secret", Auth::Basic(&basic.id, ""), true),
        ("secret of another client", Auth::Basic(&basic.id, post.secret()), true),
        ("unknown client", Auth::Basic("no-such-client", basic.secret()), true),
        ("none for a confidential client", Auth::None(&basic.id), false),
        ("no authentication", Auth::Nothing, false),
    ] {
        let res = token(&server, auth, &grant).await;
        assert_oauth_error(&res, 401, "invalid_client", what);
        if basic_used {
            assert_eq!(res.header("www-authenticate").as_deref(), Some(realm), "{what}: WWW-Authenticate");
        }
    }
    // Two methods at once.
    let both = token(
        &server,
        Auth::Basic(&basic.id, basic.secret()),
        &grant.clone().set("client_id", &basic.id).set("client_secret", basic.secret()),
    )
    .await;
    assert_oauth_error(&both, 400, "invalid_request", "basic and post at once");
    // Malformed Basic headers are refused, never a 500.
    for raw in ["not base64!!", "bm8tY29sb24=", ""] {
        let res = token(&server, Auth::BasicRaw(raw), &grant).await;
        assert!(matches!(res.status.as_u16(), 400 | 401), "Basic {raw:?}: {}", res.describe());
        assert!(res.json().get("access_token").is_none());
    }
    let res = token(&server, Auth::Basic(&basic.id, basic.secret()), &grant).await;
    assert_eq!(res.status, 200, "the code survived failed authentications: {}", res.describe());

    // client_secret_post client.
    let code = code_for(&b, &code_request(&post.id, &p), &alice).await;
    let grant = code_grant(&code, Some(&p.verifier));
    let res = token(&server, Auth::Basic(&post.id, post.secret()), &grant).await;
    assert_oauth_error(&res, 401, "invalid_client", "basic for a post client");
    assert_eq!(res.header("www-authenticate").as_deref(), Some(realm));
    for (what, auth) in [
        ("wrong secret", Auth::Post(&post.id, "wrong-secret")),
        ("unknown client", Auth::Post("no-such-client", post.secret())),
        ("none for a confidential client", Auth::None(&post.id)),
    ] {
        let res = token(&server, auth, &grant).await;
        assert_oauth_error(&res, 401, "invalid_client", &format!("post client: {what}"));
    }
    let res = token(&server, Auth::Post(&post.id, post.secret()), &grant).await;
    assert_eq!(res.status, 200, "{}", res.describe());

    // Public client: `none` only.
    let code = code_for(&b, &code_request(&public.id, &p), &alice).await;
    let grant = code_grant(&code, Some(&p.verifier));
    for (what, auth) in [
        ("basic for a public client", Auth::Basic(&public.id, "")),
        ("post for a public client", Auth::Post(&public.id, "anything")),
        ("unknown public client", Auth::None("no-such-client")),
    ] {
        let res = token(&server, auth, &grant).await;
        assert_oauth_error(&res, 401, "invalid_client", what);
    }
    let res = token(&server, Auth::None(&public.id), &grant).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert!(res.json()["access_token"].is_string());
}

async fn grant_type_errors(backend: Backend) {
    let Env { db, server, .. } = env(backend, &[]).await;
    let client = confidential(&db);
    let machine = create_client(&db, "Machine", &["--grant-type", "client_credentials"]);
    let auth = Auth::Basic(&client.id, client.secret());

    let res = token(&server, auth, &Params::new().set("code", "x").set("redirect_uri", CB)).await;
    assert_oauth_error(&res, 400, "invalid_request", "missing grant_type");
    for g in ["password", "implicit", "urn:ietf:params:oauth:grant-type:saml2-bearer", "bogus"] {
        let res = token(
            &server,
            auth,
            &Params::new().set("grant_type", g).set("username", "alice").set("password", PASSWORD),
        )
        .await;
        assert_oauth_error(&res, 400, "unsupported_grant_type", g);
    }
    // A client not registered for the grant.
    let res =
        token(&server, Auth::Basic(&machine.id, machine.secret()), &code_grant("some-code", Some(&pkce().verifier)))
            .await;
    assert_oauth_error(&res, 400, "unauthorized_client", "authorization_code for a client_credentials client");
    // The device grant (RFC 8628) is implemented: a client without it is unauthorized.
    let device = Params::new().set("grant_type", "urn:ietf:params:oauth:grant-type:device_code");
    assert_oauth_error(&token(&server, auth, &device).await, 400, "invalid_request", "no device_code");
    let res = token(&server, auth, &device.set("device_code", "x")).await;
    assert_oauth_error(&res, 400, "unauthorized_client", "device_code for a client without that grant");
    let res = token(&server, auth, &Params::new().set("grant_type", "refresh_token").set("refresh_token", "x")).await;
    // A grant the server implements (per discovery) but the client may not
    // use is unauthorized_client; one it does not implement is unknown.
    let expected = if supported_grants(&server).await.iter().any(|g| g == "refresh_token") {
        "unauthorized_client"
    } else {
        "unsupported_grant_type"
    };
    assert_oauth_error(&res, 400, expected, "refresh_token for a client without that grant");
}

async fn code_reuse_is_refused_and_revokes_the_tokens(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = create_client(
        &db,
        "Offline",
        &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
    );
    let b = Browser::new(&server);
    let p = pkce();
    let params = code_request(&client.id, &p).set("scope", "openid profile offline_access");
    let code = code_for(&b, &params, &alice).await;
    let grant = code_grant(&code, Some(&p.verifier));
    let auth = auth_of(&client);

    let first = token(&server, auth, &grant).await;
    assert_eq!(first.status, 200, "{}", first.describe());
    let first = first.json();
    let access = first["access_token"].as_str().unwrap().to_string();
    let refresh = first["refresh_token"]
        .as_str()
        .expect("offline_access with the refresh_token grant gives a refresh token")
        .to_string();
    let bearer = format!("Bearer {access}");
    let ui = userinfo_get(&server, Some(&bearer)).await;
    assert_eq!(ui.status, 200, "{}", ui.describe());
    assert!(!database_contains(&db, &refresh).await, "refresh tokens are stored hashed");

    let second = token(&server, auth, &grant).await;
    assert_oauth_error(&second, 400, "invalid_grant", "second use of a code");
    assert!(second.json().get("refresh_token").is_none());

    // The tokens from the first use are revoked.
    let ui = userinfo_get(&server, Some(&bearer)).await;
    assert_invalid_token(&ui, "access token of a replayed code");
    let grants = supported_grants(&server).await;
    let res =
        token(&server, auth, &Params::new().set("grant_type", "refresh_token").set("refresh_token", &refresh)).await;
    assert_ne!(res.status, 200, "the refresh token is deleted: {}", res.describe());
    if grants.iter().any(|g| g == "refresh_token") {
        assert_oauth_error(&res, 400, "invalid_grant", "refresh token of a replayed code");
    }

    // A third use is refused too, and unknown codes likewise.
    let third = token(&server, auth, &grant).await;
    assert_oauth_error(&third, 400, "invalid_grant", "third use");
    let unknown = token(&server, auth, &code_grant(&"A".repeat(43), Some(&p.verifier))).await;
    assert_oauth_error(&unknown, 400, "invalid_grant", "unknown code");
}

async fn concurrent_redemptions_succeed_exactly_once(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let code = code_for(&b, &code_request(&client.id, &p), &alice).await;
    let body = code_grant(&code, Some(&p.verifier)).encode();
    let auth = basic_header(&client.id, client.secret());
    let answers = concurrent_token_requests(&server, &auth, &body, 20).await;
    let mut ok = 0;
    let mut refused = 0;
    let mut winner = None;
    for (status, json) in answers {
        match status {
            200 => {
                ok += 1;
                winner = Some(json);
            }
            400 if json["error"] == "invalid_grant" => refused += 1,
            _ => panic!("unexpected answer {status}: {json}"),
        }
    }
    assert_eq!((ok, refused), (1, 19), "exactly one redemption wins; server log:\n{}", tail(&server.log(), 40));
    // The 19 others were second uses: the winner's tokens are revoked.
    let at = winner.unwrap()["access_token"].as_str().unwrap().to_string();
    let page = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
    assert_invalid_token(&page, "access token of a code that was replayed concurrently");
}

/// `token_family.revoked` audit events.
fn revocations(db: &TestDb) -> Vec<Value> {
    cli_json(db, &["audit", "list", "--kind", "token_family.revoked"]).as_array().unwrap().clone()
}

/// A token request that is malformed or fails a check the client can
/// correct (PKCE verifier, redirect_uri, its own authentication) leaves the
/// code unspent: the corrected request redeems it, and nothing looks like a
/// replay. Once redeemed, any later use, however sloppy, is a replay that
/// revokes what the code gave.
async fn a_corrected_request_redeems_the_code(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = create_client(
        &db,
        "Offline",
        &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
    );
    let b = Browser::new(&server);
    let p = pkce();
    let code = code_for(&b, &code_request(&client.id, &p).set("scope", "openid offline_access"), &alice).await;
    let auth = auth_of(&client);
    let right = code_grant(&code, Some(&p.verifier));
    for (form, what, says) in [
        (code_grant(&code, None), "no code_verifier", "code_verifier is required"),
        (code_grant(&code, Some(&pkce().verifier)), "another code_verifier", "does not match"),
        (code_grant(&code, Some("too-short")), "a malformed code_verifier", "43 to 128"),
        (right.clone().without("redirect_uri"), "no redirect_uri", "redirect_uri"),
        (right.clone().set("redirect_uri", "https://app.example/cb/"), "another redirect_uri", "redirect_uri"),
    ] {
        let body = assert_oauth_error(&token(&server, auth, &form).await, 400, "invalid_grant", what);
        assert!(body["error_description"].as_str().unwrap().contains(says), "{what}: {body}");
    }
    let duplicated = right.clone().add("code_verifier", &p.verifier);
    assert_oauth_error(&token(&server, auth, &duplicated).await, 400, "invalid_request", "a repeated parameter");
    let res = token(&server, Auth::Basic(&client.id, "not the secret"), &right).await;
    assert_oauth_error(&res, 401, "invalid_client", "a wrong client secret");

    let ok = token(&server, auth, &right).await;
    assert_eq!(ok.status, 200, "the corrected request redeems the code: {}", ok.describe());
    let tokens = ok.json();
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    let refresh_token = tokens["refresh_token"].as_str().expect("a refresh token").to_string();
    assert_eq!(userinfo_get(&server, Some(&bearer)).await.status, 200);
    assert!(!server.log().contains("authorization code reused"), "no typo looks like a replay");
    assert!(revocations(&db).is_empty(), "nothing was revoked");

    // A replay after the redemption, even one that would fail the checks.
    let replay = token(&server, auth, &code_grant(&code, None)).await;
    let body = assert_oauth_error(&replay, 400, "invalid_grant", "a replay");
    assert_eq!(body["error_description"], "the code was already used");
    assert_invalid_token(&userinfo_get(&server, Some(&bearer)).await, "the access token of a replayed code");
    let form = Params::new().set("grant_type", "refresh_token").set("refresh_token", &refresh_token);
    assert_oauth_error(&token(&server, auth, &form).await, 400, "invalid_grant", "its refresh token");
    assert!(server.log().contains("authorization code reused"));
    assert_eq!(revocations(&db).len(), 1);
}

/// Requests with a wrong verifier racing correct ones for one code: exactly
/// one correct request wins, no wrong one does.
async fn concurrent_redemptions_with_typos_succeed_exactly_once(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let code = code_for(&b, &code_request(&client.id, &p), &alice).await;
    let auth = basic_header(&client.id, client.secret());
    let right = code_grant(&code, Some(&p.verifier)).encode();
    let wrong = code_grant(&code, Some(&pkce().verifier)).encode();
    let (typos, correct) = tokio::join!(
        concurrent_token_requests(&server, &auth, &wrong, 10),
        concurrent_token_requests(&server, &auth, &right, 10)
    );
    for (status, json) in &typos {
        assert!(*status == 400 && json["error"] == "invalid_grant", "a wrong verifier never wins: {status} {json}");
    }
    let won = correct.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(
        won,
        1,
        "{correct:?}
{}",
        tail(&server.log(), 40)
    );
    for (status, json) in correct.iter().filter(|(status, _)| *status != 200) {
        assert!(*status == 400 && json["error"] == "invalid_grant", "{status} {json}");
    }
}

async fn codes_are_bound_to_client_redirect_uri_and_verifier(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = create_client(&db, "Two URIs", &["--redirect-uri", CB, "--redirect-uri", "https://app.example/cb2"]);
    let other = confidential(&db);
    let public = public(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let auth = auth_of(&client);
    let req = code_request(&client.id, &p);
    let fresh = || code_for(&b, &req, &alice);

    let code = fresh().await;
    let res =
        token(&server, auth, &code_grant(&code, Some(&p.verifier)).set("redirect_uri", "https://app.example/cb2"))
            .await;
    assert_oauth_error(&res, 400, "invalid_grant", "another registered redirect_uri");
    let code = fresh().await;
    let res =
        token(&server, auth, &code_grant(&code, Some(&p.verifier)).set("redirect_uri", "https://app.example/cb/"))
            .await;
    assert_oauth_error(&res, 400, "invalid_grant", "near-miss redirect_uri");
    let code = fresh().await;
    let res = token(&server, auth, &code_grant(&code, Some(&p.verifier)).without("redirect_uri")).await;
    assert!(
        res.status == 400 && matches!(res.json()["error"].as_str(), Some("invalid_grant" | "invalid_request")),
        "redirect_uri was sent with the request, so it is required: {}",
        res.describe()
    );

    let code = fresh().await;
    let res = token(&server, auth, &code_grant(&code, None)).await;
    assert_oauth_error(&res, 400, "invalid_grant", "missing code_verifier");
    let code = fresh().await;
    let res = token(&server, auth, &code_grant(&code, Some(&pkce().verifier))).await;
    assert_oauth_error(&res, 400, "invalid_grant", "wrong code_verifier");
    let code = fresh().await;
    let res = token(&server, auth, &code_grant(&code, Some(&p.challenge))).await;
    assert_oauth_error(&res, 400, "invalid_grant", "the challenge as verifier (plain)");

    // Another client's code; afterwards it still works for its own client.
    let code = fresh().await;
    let grant = code_grant(&code, Some(&p.verifier));
    let res = token(&server, auth_of(&other), &grant).await;
    assert_oauth_error(&res, 400, "invalid_grant", "another client's code");
    let res = token(&server, auth_of(&public), &grant).await;
    assert_oauth_error(&res, 400, "invalid_grant", "another (public) client's code");
    let res = token(&server, auth, &grant).await;
    assert_eq!(res.status, 200, "the code still works for its client: {}", res.describe());

    // A public client's code at a confidential client.
    let code = code_for(&b, &code_request(&public.id, &p), &alice).await;
    let grant = code_grant(&code, Some(&p.verifier));
    let res = token(&server, auth_of(&other), &grant).await;
    assert_oauth_error(&res, 400, "invalid_grant", "a public client's code");
    let res = token(&server, auth_of(&public), &grant).await;
    assert_eq!(res.status, 200, "{}", res.describe());
}

async fn verifier_for_a_code_without_challenge(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_PKCE_REQUIRE_FOR_CONFIDENTIAL", "false")]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let params = code_request(&client.id, &p).without("code_challenge").without("code_challenge_method");
    let code = code_for(&b, &params, &alice).await;
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    assert_oauth_error(&res, 400, "invalid_grant", "code_verifier for a code without challenge");
    let code = code_for(&b, &params, &alice).await;
    let res = token(&server, auth_of(&client), &code_grant(&code, None)).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    // A code with a challenge still needs its verifier on this server.
    let code = code_for(&b, &code_request(&client.id, &p), &alice).await;
    let res = token(&server, auth_of(&client), &code_grant(&code, None)).await;
    assert_oauth_error(&res, 400, "invalid_grant", "missing verifier, relaxed server");
}

async fn codes_expire(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_CODE_TTL_SECONDS", "1")]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let params = code_request(&client.id, &p);
    // Sign in and consent first, so that the next code is redeemed at once.
    code_for(&b, &params, &alice).await;
    // With a one-second lifetime counted in whole seconds, a code issued just
    // before a second boundary may expire within milliseconds: one of three
    // immediate redemptions must work.
    let mut last = None;
    for _ in 0..3 {
        let code = code_for(&b, &params, &alice).await;
        let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
        if res.status == 200 {
            last = None;
            break;
        }
        last = Some(res.describe());
    }
    assert!(last.is_none(), "a fresh code works: {last:?}");

    let code = code_for(&b, &params, &alice).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let res = token(&server, auth_of(&client), &code_grant(&code, Some(&p.verifier))).await;
    assert_oauth_error(&res, 400, "invalid_grant", "expired code");
}

async fn refresh_token_only_with_offline_access_and_the_grant(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let with_grant = create_client(
        &db,
        "Offline",
        &["--redirect-uri", CB, "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
    );
    let without_grant =
        create_client(&db, "No refresh", &["--redirect-uri", CB, "--scope", "openid profile offline_access"]);
    let public_offline = create_client(
        &db,
        "Public offline",
        &["--redirect-uri", CB, "--public", "--grant-type", "authorization_code", "--grant-type", "refresh_token"],
    );
    let b = Browser::new(&server);

    let t = tokens_for(&server, &b, &with_grant, &alice, "openid profile offline_access").await;
    let rt = t["refresh_token"].as_str().expect("refresh token");
    assert!(rt.len() >= 43, "{rt}");
    let t = tokens_for(&server, &b, &with_grant, &alice, "openid profile").await;
    assert!(t.get("refresh_token").is_none(), "no offline_access: {t}");
    let t = tokens_for(&server, &b, &without_grant, &alice, "openid offline_access").await;
    assert!(t.get("refresh_token").is_none(), "no refresh_token grant: {t}");
    let t = tokens_for(&server, &b, &public_offline, &alice, "openid offline_access").await;
    assert!(t["refresh_token"].is_string(), "public clients too: {t}");
    // Without openid: an access token and no ID token.
    let t = tokens_for(&server, &b, &with_grant, &alice, "profile offline_access").await;
    assert!(t.get("id_token").is_none(), "no openid, no ID token: {t}");
}

async fn malformed_bodies_are_invalid_request(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let p = pkce();
    let code = code_for(&b, &code_request(&client.id, &p), &alice).await;
    let grant = code_grant(&code, Some(&p.verifier));
    let auth = basic_header(&client.id, client.secret());
    let send = |content_type: Option<&'static str>, body: Vec<u8>| {
        let mut req = http().post(server.url("/token")).header("authorization", auth.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        async move { Page::of(req.body(body).send().await.unwrap()).await }
    };
    let json_body = serde_json::to_vec(&json!({
        "grant_type": "authorization_code", "code": code, "redirect_uri": CB, "code_verifier": p.verifier
    }))
    .unwrap();

    let form = "application/x-www-form-urlencoded";
    let cases: Vec<(&str, Option<&'static str>, Vec<u8>)> = vec![
        ("JSON body", Some("application/json"), json_body),
        ("form body sent as text/plain", Some("text/plain"), grant.encode().into_bytes()),
        ("form body without content type", None, grant.encode().into_bytes()),
        ("code twice", Some(form), grant.clone().add("code", &code).encode().into_bytes()),
        ("grant_type twice", Some(form), grant.clone().add("grant_type", "authorization_code").encode().into_bytes()),
        ("code_verifier twice", Some(form), grant.clone().add("code_verifier", &p.verifier).encode().into_bytes()),
        ("redirect_uri twice", Some(form), grant.clone().add("redirect_uri", CB).encode().into_bytes()),
    ];
    for (what, ct, body) in cases {
        let res = send(ct, body).await;
        assert_oauth_error(&res, 400, "invalid_request", what);
    }
    // Broken encodings: refused, never a 500.
    for (what, body) in [
        ("bad percent escape", b"grant_type=authorization_code&code=%zz&redirect_uri=x".to_vec()),
        ("invalid UTF-8", b"grant_type=authorization_code&code=\xff\xfe&redirect_uri=x".to_vec()),
        ("percent-encoded invalid UTF-8", b"grant_type=authorization_code&code=%FF%FE".to_vec()),
        ("no equals signs", b"grant_type&code&redirect_uri".to_vec()),
        ("empty body", Vec::new()),
    ] {
        let res = send(Some(form), body).await;
        assert_eq!(res.status, 400, "{what}: {}", res.describe());
        assert!(res.json()["error"].is_string(), "{what}: {}", res.body);
    }
    // The code was never spent by any of that.
    let res = send(Some(form), grant.encode().into_bytes()).await;
    assert_eq!(res.status, 200, "{}", res.describe());
}

/// `tokens.default_audience` sets the access token's `aud`; a resource server
/// checking its own audience accepts the token.
async fn access_token_audience_is_configurable(backend: Backend) {
    let api = "https://api.example";
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_DEFAULT_AUDIENCE", api)]).await;
    let client = confidential(&db);
    let b = Browser::new(&server);
    let t = tokens_for(&server, &b, &client, &alice, "openid").await;
    let at = t["access_token"].as_str().unwrap();
    let claims = verify_jwt(&server, at).await;
    assert!(aud_contains(&claims["aud"], api), "{claims}");
    assert!(!aud_contains(&claims["aud"], &server.issuer), "{claims}");
    // What a resource server does: verify signature, issuer and audience.
    let jwks: jsonwebtoken::jwk::JwkSet = http().get(server.url("/jwks")).send().await.unwrap().json().await.unwrap();
    let kid = jsonwebtoken::decode_header(at).unwrap().kid.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[&server.issuer]);
    v.set_audience(&[api]);
    jsonwebtoken::decode::<Value>(at, &key, &v).unwrap();
    // The ID token is still for the client.
    let id = verify_jwt(&server, t["id_token"].as_str().unwrap()).await;
    assert!(aud_contains(&id["aud"], &client.id), "{id}");
    // UserInfo accepts it.
    let page = userinfo_get(&server, Some(&format!("Bearer {at}"))).await;
    assert_eq!(page.status, 200, "{}", page.describe());
}

//! Token exchange (RFC 8693; docs/device-and-exchange.md, "Token exchange")
//! over real HTTP on every backend: a chain of services A → B → C → D with
//! nested `act`, each token verified against the JWKS by an independent JWT
//! library (jsonwebtoken); `may_act` honoured; forbidden audiences, scope
//! widening and a client without the grant refused; revoked and expired
//! subject tokens refused. One server per test; the request's validation
//! errors are tested in process (crates/latchkey-server/tests/in_process/exchange.rs).
//! Also docs/device-and-exchange.md's service-to-service example, run by
//! bash as written (on SQLite).

mod common;
#[path = "common/lifecycle.rs"]
mod lifecycle;

use common::flow::*;
use latchkey_tests::*;
use lifecycle::*;

use std::process::{Command, Stdio};

on_both_backends!(a_chain_of_services_with_nested_act, revoked_and_expired_subjects_are_refused);

const GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const AT: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A back-end service: its own tokens (client_credentials) and exchange,
/// plus `extra` options.
fn service(db: &TestDb, name: &str, extra: &[&str]) -> TestClient {
    let mut args = vec!["--grant-type", "client_credentials", "--grant-type", GRANT, "--scope", "svc"];
    args.extend_from_slice(extra);
    register(db, name, &args)
}

fn exchange_form(subject: &str, actor: Option<&str>) -> Params {
    let p = Params::new().set("grant_type", GRANT).set("subject_token", subject).set("subject_token_type", AT);
    match actor {
        Some(a) => p.set("actor_token", a).set("actor_token_type", AT),
        None => p,
    }
}

async fn own_token(server: &Server, client: &TestClient) -> String {
    let res = token(server, auth_of(client), &Params::new().set("grant_type", "client_credentials")).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    str_of(&res.json(), "access_token").to_string()
}

/// An exchange that must succeed: the answer (RFC 8693 §2.2.1) and the new
/// token's claims, verified against the JWKS.
async fn exchanged(server: &Server, client: &TestClient, form: &Params) -> (Value, Value) {
    let res = token(server, auth_of(client), form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    assert_eq!(res.header("cache-control").as_deref(), Some("no-store"));
    let body = res.json();
    assert_eq!(body["issued_token_type"], AT, "{body}");
    assert_eq!(body["token_type"], "Bearer", "{body}");
    assert!(body["expires_in"].as_i64().is_some_and(|e| e > 0), "{body}");
    assert!(body.get("refresh_token").is_none(), "no refresh token: {body}");
    let at = str_of(&body, "access_token");
    assert_eq!(jwt_parts(at).0["typ"], "at+jwt", "an RFC 9068 access token");
    let claims = verify_jwt(server, at).await;
    (body, claims)
}

async fn a_chain_of_services_with_nested_act(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[]).await;
    // A: the web app the person uses; B, C: services that exchange; D: a
    // service that only receives tokens.
    let a = register(
        &db,
        "Front",
        &[
            "--redirect-uri",
            CB,
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "client_credentials",
            "--grant-type",
            GRANT,
            "--scope",
            "openid profile email svc",
        ],
    );
    // B may exchange for C only (set at creation, so that no cache lags).
    let c = service(&db, "Billing", &[]);
    let b = service(&db, "Orders", &["--exchange-audience", &c.id]);
    let d = register(&db, "Ledger", &["--grant-type", "client_credentials", "--scope", "svc"]);
    let browser = Browser::new(&server);
    let person = tokens_for(&server, &browser, &a, &alice, "openid profile email").await;
    let person = str_of(&person, "access_token").to_string();

    // A → B, A acting: act names A.
    let form = exchange_form(&person, Some(&own_token(&server, &a).await)).set("audience", &b.id);
    let (body, t1) = exchanged(&server, &a, &form).await;
    assert_eq!(scope_words(str_of(&body, "scope")), scope_words("openid profile email"), "{body}");
    assert_eq!((t1["sub"].as_str(), t1["client_id"].as_str()), (Some(alice.id.as_str()), Some(a.id.as_str())), "{t1}");
    assert!(aud_contains(&t1["aud"], &b.id), "{t1}");
    assert_eq!(t1["act"], json!({"sub": a.id}), "{t1}");
    assert_eq!(t1["may_act"], json!({"sub": b.id}), "{t1}");
    let t1_token = str_of(&body, "access_token").to_string();

    // B → C, B acting, with a narrower scope: act nests A inside B.
    let b_own = own_token(&server, &b).await;
    let form = exchange_form(&t1_token, Some(&b_own)).set("audience", &c.id).set("scope", "openid profile");
    let (body, t2) = exchanged(&server, &b, &form).await;
    assert_eq!(body["scope"], "openid profile", "{body}");
    assert_eq!(t2["sub"], alice.id.as_str(), "{t2}");
    assert_eq!(t2["act"], json!({"sub": b.id, "act": {"sub": a.id}}), "{t2}");
    let t2_token = str_of(&body, "access_token").to_string();

    // C → D: three actors, most recent outermost.
    let form = exchange_form(&t2_token, Some(&own_token(&server, &c).await)).set("audience", &d.id);
    let (body, t3) = exchanged(&server, &c, &form).await;
    let t3_token = str_of(&body, "access_token").to_string();
    assert_eq!(t3["act"], json!({"sub": c.id, "act": {"sub": b.id, "act": {"sub": a.id}}}), "{t3}");
    assert!(aud_contains(&t3["aud"], &d.id), "{t3}");
    assert!(t3["exp"].as_i64() <= t1["exp"].as_i64(), "never outlives the subject: {t3} {t1}");
    // D introspects what it received and sees the chain (RFC 8693 §4.1).
    let v = introspect_ok(&server, auth_of(&d), &t3_token).await;
    assert_eq!(v["active"], true, "{v}");
    assert_eq!(v["act"], t3["act"], "{v}");

    // may_act: T1 is for B; A may not act with it, B may.
    let res = token(&server, auth_of(&a), &exchange_form(&t1_token, Some(&own_token(&server, &a).await))).await;
    assert_oauth_error(&res, 400, "invalid_request", "an actor that may_act does not name");
    let res = token(&server, auth_of(&b), &exchange_form(&t2_token, Some(&b_own))).await;
    assert_oauth_error(&res, 400, "invalid_request", "T2 is for C, not B");

    // Scope widening.
    let form = exchange_form(&t2_token, None).set("scope", "openid profile email");
    let res = token(&server, auth_of(&c), &form).await;
    assert_oauth_error(&res, 400, "invalid_scope", "wider than the subject token");

    // Forbidden audiences: unknown, and outside the operator's list (B's).
    let res =
        token(&server, auth_of(&b), &exchange_form(&t1_token, None).set("audience", "https://evil.example")).await;
    assert_oauth_error(&res, 400, "invalid_target", "an unknown audience");
    let res = token(&server, auth_of(&b), &exchange_form(&t1_token, None).set("audience", &d.id)).await;
    assert_oauth_error(&res, 400, "invalid_target", "an audience outside --exchange-audience");
    let (_, t) = exchanged(&server, &b, &exchange_form(&t1_token, None).set("audience", &c.id)).await;
    assert_eq!(t["act"], json!({"sub": a.id}), "impersonation keeps the subject's act: {t}");

    // A client without the grant, even for a token issued to it.
    let res = token(&server, auth_of(&d), &exchange_form(&t3_token, None)).await;
    assert_oauth_error(&res, 400, "unauthorized_client", "a client without the grant");

    // Audited.
    let events = cli_json(&db, &["audit", "list", "--kind", "token.exchanged"]);
    let events = events.as_array().unwrap_or_else(|| panic!("{events}"));
    assert!(events.len() >= 4, "{events:?}");
    assert!(
        events.iter().any(|e| e["client_id"] == c.id.as_str() && e["details"]["actors"] == json!([c.id, b.id, a.id])),
        "{events:?}"
    );
}

async fn revoked_and_expired_subjects_are_refused(backend: Backend) {
    let Env { db, server, alice } = env(backend, &[("LATCHKEY_TOKENS_ACCESS_TOKEN_TTL_SECONDS", "5")]).await;
    let front = offline_client(&db, "Front", &["--grant-type", GRANT]);
    let orders = service(&db, "Orders", &[]);
    let browser = Browser::new(&server);
    let to_orders = |at: &str| exchange_form(at, None).set("audience", &orders.id);

    // Revoked with RFC 7009.
    let t = tokens_for(&server, &browser, &front, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    exchanged(&server, &front, &to_orders(&at)).await;
    assert_revoke_ok(&revoke(&server, auth_of(&front), &at, None).await, "the access token");
    let res = token(&server, auth_of(&front), &to_orders(&at)).await;
    assert_oauth_error(&res, 400, "invalid_request", "a revoked access token");

    // Its refresh token family revoked.
    let t = tokens_for(&server, &browser, &front, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    assert_revoke_ok(&revoke(&server, auth_of(&front), str_of(&t, "refresh_token"), None).await, "the family");
    let res = token(&server, auth_of(&front), &to_orders(&at)).await;
    assert_oauth_error(&res, 400, "invalid_request", "an access token of a revoked family");

    // Expired: good until its exp, then refused.
    let t = tokens_for(&server, &browser, &front, &alice, OFFLINE_SCOPES).await;
    let at = str_of(&t, "access_token").to_string();
    let exp = claims(&at)["exp"].as_i64().unwrap();
    let (body, _) = exchanged(&server, &front, &to_orders(&at)).await;
    assert!(body["expires_in"].as_i64().unwrap() <= exp - now() + 1, "capped at the subject's exp: {body}");
    tokio::time::sleep(std::time::Duration::from_secs((exp - now() + 1).max(0) as u64)).await;
    let res = token(&server, auth_of(&front), &to_orders(&at)).await;
    assert_oauth_error(&res, 400, "invalid_request", "an expired access token");
}

/// The `sh` blocks of docs/device-and-exchange.md's example, in order.
fn example_blocks() -> Vec<String> {
    let text = std::fs::read_to_string(repo_root().join("docs/device-and-exchange.md")).unwrap();
    let start = text.find("\n### Example: service to service").expect("the example's section");
    let section = &text[start + 1..];
    let section = &section[..section[4..].find("\n#").map_or(section.len(), |i| i + 4)];
    section.split("```sh\n").skip(1).map(|b| b[..b.find("\n```").expect("a closed block")].to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_to_service_example_runs_as_written() {
    let blocks = example_blocks();
    assert_eq!(blocks.len(), 3, "setup, Front's exchange, Orders' exchange: {blocks:?}");
    let missing: Vec<&str> = ["bash", "curl", "jq"]
        .into_iter()
        .filter(|t| !Command::new(t).arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()))
        .collect();
    if !missing.is_empty() {
        assert!(std::env::var_os("CI").is_none(), "CI must install {missing:?} (.ci/run)");
        eprintln!("example not run: {missing:?} not installed");
        return;
    }
    let Env { db, server, alice } = env(Backend::Sqlite, &[]).await;
    let bin = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(&*BIN, bin.path().join("latchkey")).unwrap();
    let path = format!("{}:{}", bin.path().display(), std::env::var("PATH").unwrap_or_default());
    let run = |script: &str| {
        let mut cmd = Command::new("bash");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LATCHKEY_")) {
            cmd.env_remove(k);
        }
        let script = script.replace("http://localhost:8080", &server.issuer);
        let out = cmd
            .arg("-c")
            .arg(format!("set -euo pipefail\n{script}"))
            .current_dir(db.dir.path())
            .env("PATH", &path)
            .env("LATCHKEY_DATABASE_URL", &db.url)
            .env("LATCHKEY_ISSUER", &server.issuer)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "the example failed:\n{script}\nstdout: {stdout}\nstderr: {stderr}");
        stdout.into_owned()
    };

    // The operator's block; its variables, kept for the next ones.
    let vars = run(&format!("{}\ndeclare -p G AT BILLING_ID FRONT_ID FRONT_SECRET ORDERS_ID ORDERS_SECRET", blocks[0]));
    let var = |name: &str| {
        let line = vars.lines().find(|l| l.contains(&format!(" {name}="))).unwrap_or_else(|| panic!("{vars}"));
        line.split('"').nth(1).unwrap().to_string()
    };
    wait_for_change_feed();
    // Front signs the person in (the code flow, as the walkthrough's test does).
    let front = TestClient { id: var("FRONT_ID"), secret: Some(var("FRONT_SECRET")) };
    let person = tokens_for(&server, &Browser::new(&server), &front, &alice, "openid profile email").await;
    let person = str_of(&person, "access_token");
    let out =
        run(&format!("{vars}\nPERSON_TOKEN='{person}'\n{}\n{}\nprintf '%s\\n' \"$TO_BILLING\"", blocks[1], blocks[2]));
    let to_billing = out.lines().last().unwrap_or_default();
    let c = verify_jwt(&server, to_billing).await;
    assert_eq!(c["sub"], alice.id.as_str(), "{c}");
    assert!(aud_contains(&c["aud"], &var("BILLING_ID")), "{c}");
    assert_eq!(c["client_id"], var("ORDERS_ID").as_str(), "{c}");
    assert_eq!(c["act"], json!({"sub": var("ORDERS_ID")}), "{c}");
    assert_eq!(c["scope"], "openid profile", "{c}");
    let inspected = &out[..out.len() - to_billing.len() - 1];
    assert!(inspected.contains("act") && inspected.contains(&var("ORDERS_ID")), "token inspect shows act: {out}");
}

//! DPoP (RFC 9449) end to end, on SQLite, PostgreSQL and the Redis-backed
//! cluster, with every proof made by a second implementation (panva's
//! `jose` on Node.js, tests/node/dpop.mjs) and the ID token checked by the
//! `openidconnect` crate. Server nonces are required, so the flow takes the
//! nonce dance: the nonce one replica gives is taken by the other, a proof
//! spent on one replica is refused by the other, and `htu` is the issuer's
//! URL whichever replica answers. The many refusals are tested in process
//! (crates/latchkey-server/tests/in_process/dpop.rs).

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::flow::*;
use latchkey_tests::*;
use openidconnect::core::{CoreClient, CoreProviderMetadata, CoreTokenResponse};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce, RedirectUrl, TokenResponse};
use serde_json::{Value, json};

on_both_backends!(a_dpop_flow_with_proofs_from_jose);

/// A DPoP key held by the Node.js script: proofs for `wants`; the key is
/// created on the first call and passed back on the next.
struct JoseKey {
    key: Value,
    jkt: String,
}

fn node_ready() -> bool {
    let ready = repo_root().join("tests/node/node_modules/jose").exists()
        && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ready {
        assert!(std::env::var_os("CI").is_none(), "CI must install Node.js and run `npm ci --prefix tests/node`");
        eprintln!("node or tests/node/node_modules missing: DPoP end-to-end test not run");
    }
    ready
}

fn jose(key: Option<&JoseKey>, wants: Value) -> (JoseKey, Vec<String>) {
    let mut child = Command::new("node")
        .arg(repo_root().join("tests/node/dpop.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node starts");
    let input = json!({"key": key.map(|k| k.key.clone()), "alg": "ES256", "proofs": wants});
    child.stdin.take().unwrap().write_all(input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dpop.mjs failed");
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    let proofs = out["proofs"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    (JoseKey { key: out["key"].clone(), jkt: out["jkt"].as_str().unwrap().to_string() }, proofs)
}

/// One proof by `key`.
fn proof(key: &JoseKey, htm: &str, htu: &str, access_token: Option<&str>, nonce: Option<&str>) -> String {
    let want = json!({"htm": htm, "htu": htu, "access_token": access_token, "nonce": nonce});
    jose(Some(key), json!([want])).1.remove(0)
}

fn claims_of(jwt: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn a_dpop_flow_with_proofs_from_jose(backend: Backend) {
    if !node_ready() {
        return;
    }
    let env_vars = [
        ("LATCHKEY_DPOP_REQUIRE_NONCE", "true"),
        // Replicas accept each other's nonces through the shared key.
        ("LATCHKEY_KEYS_ENCRYPTION_KEY", "4f1c0a9e8d7b6c5a49382716f5e4d3c2b1a09f8e7d6c5b4a3928170f6e5d4c3b"),
    ];
    let Env { db, server, alice } = env(backend, &env_vars).await;
    let client = confidential(&db);
    let first = 0;
    let last = server.replicas.len() - 1;
    let token_url = format!("{}/token", server.issuer);

    let meta: Value =
        http().get(server.url("/.well-known/openid-configuration")).send().await.unwrap().json().await.unwrap();
    assert_eq!(meta["dpop_signing_alg_values_supported"], json!(["ES256", "RS256", "PS256", "EdDSA"]), "{meta}");
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.issuer.clone()).unwrap(), &http()).await.unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        Some(ClientSecret::new(client.secret().to_string())),
    )
    .set_redirect_uri(RedirectUrl::new(CB.to_string()).unwrap());

    let (key, proofs) = jose(None, json!([{"htm": "POST", "htu": token_url}]));
    let p = pkce();
    let nonce = Nonce::new_random();
    let browser = Browser::new(&server);
    let params = code_request(&client.id, &p).set("nonce", nonce.secret()).set("dpop_jkt", &key.jkt);
    let code = code_for(&browser, &params, &alice).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let token_request = |replica: usize, proof: &str| {
        http()
            .post(server.replica_url(replica, "/token"))
            .basic_auth(&client.id, Some(client.secret()))
            .header("DPoP", proof)
            .form(&form)
            .send()
    };

    // No nonce yet: 400 use_dpop_nonce, and the nonce to use.
    let res = token_request(first, &proofs[0]).await.unwrap();
    assert_eq!(res.status(), 400);
    let server_nonce = res.headers()["dpop-nonce"].to_str().unwrap().to_string();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "use_dpop_nonce", "{body}");

    // The other replica takes that nonce; htu is the issuer's URL, whichever replica answers.
    let with_nonce = proof(&key, "POST", &token_url, None, Some(&server_nonce));
    let res = token_request(last, &with_nonce).await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP", "{body}");
    let tokens: CoreTokenResponse = serde_json::from_value(body.clone()).unwrap();
    let claims = tokens
        .id_token()
        .expect("an ID token")
        .claims(&rp.id_token_verifier(), &nonce)
        .unwrap_or_else(|e| panic!("ID token: {e:?}"));
    assert_eq!(claims.subject().as_str(), alice.id);
    let at = body["access_token"].as_str().unwrap().to_string();
    assert_eq!(claims_of(&at)["cnf"]["jkt"], key.jkt, "jose's thumbprint is ours");

    // A proof is single use across replicas.
    let res = token_request(first, &with_nonce).await.unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof", "a replayed proof on the other replica: {body}");

    // Introspection answers the binding.
    let res = http()
        .post(server.url("/introspect"))
        .basic_auth(&client.id, Some(client.secret()))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .unwrap();
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["token_type"], "DPoP", "{answer}");
    assert_eq!(answer["cnf"]["jkt"], key.jkt, "{answer}");

    // UserInfo: with a proof by the key (ath, nonce), on each replica.
    let userinfo_url = format!("{}/userinfo", server.issuer);
    for replica in [first, last] {
        let proof = proof(&key, "GET", &userinfo_url, Some(&at), Some(&server_nonce));
        let res = http()
            .get(server.replica_url(replica, "/userinfo"))
            .header("Authorization", format!("DPoP {at}"))
            .header("DPoP", proof)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "replica {replica}");
        let info: Value = res.json().await.unwrap();
        assert_eq!(info["sub"], alice.id.as_str());
    }
    // As a bearer token, or with a proof for another URL: refused with a DPoP challenge.
    let res = http().get(server.url("/userinfo")).bearer_auth(&at).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.starts_with("DPoP error=\"invalid_token\""), "{challenge}");
    let wrong_htu = proof(&key, "GET", &token_url, Some(&at), Some(&server_nonce));
    let res = http()
        .get(server.url("/userinfo"))
        .header("Authorization", format!("DPoP {at}"))
        .header("DPoP", wrong_htu)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_string();
    assert!(challenge.contains("error=\"invalid_dpop_proof\""), "{challenge}");
}

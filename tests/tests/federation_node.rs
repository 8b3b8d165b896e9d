//! Enterprise SSO against node-oidc-provider (the certified reference
//! implementation) as the upstream: app (`openidconnect`) → Latchkey →
//! node-oidc-provider's sign-in and consent → back → code → tokens. The
//! upstream puts scope claims in UserInfo only, so this also covers the
//! UserInfo step, and claim mapping from non-standard claims (`displayName`,
//! `roles`). Needs Node.js and `npm ci --prefix tests/node` (`.ci/run`
//! does both; without them this test says so and passes only outside CI).

mod common;
#[path = "common/upstream.rs"]
mod upstream;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::flow::*;
use latchkey_tests::*;
use upstream::*;

on_both_backends!(the_whole_chain_through_node_oidc_provider);

/// The node-oidc-provider process, stopped on drop.
struct NodeUpstream {
    child: Child,
    issuer: String,
}

impl Drop for NodeUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl NodeUpstream {
    /// None (outside CI) when Node.js or the npm packages are missing.
    async fn start(port: u16, redirect_uri: &str) -> Option<NodeUpstream> {
        let dir = repo_root().join("tests/node");
        let ready = dir.join("node_modules/oidc-provider").exists()
            && Command::new("node").arg("--version").output().is_ok_and(|o| o.status.success());
        if !ready {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must install Node.js and run `npm ci --prefix tests/node` (.ci/run does)"
            );
            eprintln!(
                "node or tests/node/node_modules missing: node-oidc-provider test not run (npm ci --prefix tests/node)"
            );
            return None;
        }
        let child = Command::new("node")
            .arg(dir.join("upstream.mjs"))
            .env("PORT", port.to_string())
            .env("REDIRECT_URI", redirect_uri)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("node starts");
        let node = NodeUpstream { child, issuer: format!("http://localhost:{port}") };
        let discovery = format!("{}/.well-known/openid-configuration", node.issuer);
        let up = eventually(Duration::from_secs(20), || async {
            http().get(&discovery).send().await.is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(up, "node-oidc-provider did not come up on {}", node.issuer);
        Some(node)
    }
}

/// Drives node-oidc-provider's development sign-in and consent pages from
/// `url` (its authorization request); returns the callback URL it sends the
/// browser to.
async fn node_login(node: &NodeUpstream, b: &Browser, url: &str, login: &str) -> String {
    let nb = at(b, &node.issuer);
    let mut page = nb.get(url).await;
    for _ in 0..12 {
        if page.is_redirect() {
            let next = url::Url::parse(&page.url).unwrap().join(&page.location().unwrap()).unwrap().to_string();
            if !next.starts_with(&node.issuer) {
                return next;
            }
            page = nb.get(&next).await;
            continue;
        }
        assert_eq!(page.status, 200, "node-oidc-provider: {}", page.describe());
        let action = form_action(&page.body).expect("a form");
        let action = url::Url::parse(&page.url).unwrap().join(&action).unwrap();
        let mut form = Params::new();
        for (k, v) in hidden_fields(&page.body) {
            form = form.set(&k, &v);
        }
        if page.body.contains("name=\"login\"") {
            form = form.set("login", login).set("password", "any password");
        }
        page = Page::of(
            nb.http
                .post(action.as_str())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form.encode())
                .send()
                .await
                .unwrap(),
        )
        .await;
    }
    panic!("node-oidc-provider's pages did not lead back: {}", page.describe());
}

async fn the_whole_chain_through_node_oidc_provider(backend: Backend) {
    let port = free_port();
    let config = format!(
        r#"
[[upstream]]
id = "node"
display_name = "Node IdP"
issuer = "http://localhost:{port}"
client_id = "latchkey"
client_secret = "latchkey-test-secret-0123456789"
email_domains = ["node.example"]
timeout_seconds = 3
default_groups = ["node-users"]
[upstream.claims]
name = "displayName"
groups = "roles"
"#
    );
    let down = Downstream::with_config(backend, &config).await;
    let Some(node) = NodeUpstream::start(port, &format!("{}/upstream/node/callback", down.server.issuer)).await else {
        return;
    };
    let app = create_client(&down.db, "Groups App", &["--redirect-uri", CB, "--scope", "openid email profile groups"]);
    let rp = Rp::discover(&down.server, &app).await;

    for round in 0..2 {
        let b = Browser::new(&down.server);
        let (url, nonce, verifier) = rp.authorize_url(&["email", "profile", "groups"]);
        let login = b.get(&url).await;
        assert!(login.body.contains("Sign in with Node IdP"), "{}", login.describe());
        let to = start_upstream(&b, &login, "node").await;
        assert!(to.starts_with(&format!("{}/auth?", node.issuer)), "{to}");
        for p in ["code_challenge_method=S256", "state=", "nonce=", "scope=openid"] {
            assert!(to.contains(p), "the authorization request has {p}: {to}");
        }
        let callback = node_login(&node, &b, &to, "nadia").await;
        let flow = b.drive(b.get(&callback).await, None, "allow").await;
        let (claims, raw) = rp.exchange(&flow.code(), &verifier, &nonce).await;
        // Claims from the upstream's UserInfo (its ID token carries none).
        assert_eq!(claims.email().map(|e| e.as_str()), Some("nadia@node.example"), "round {round}: {raw}");
        // Mapped: name from displayName, groups from roles ("not a group"
        // is no valid name: dropped, the sign-in goes on).
        assert_eq!(claims.name().and_then(|n| n.get(None)).map(|n| n.as_str()), Some("nadia (Node)"), "{raw}");
        assert_eq!(raw["groups"], serde_json::json!(["node-users", "node-staff", "nadia-team"]), "{raw}");
        let amr = raw["amr"].as_array().cloned().unwrap_or_default();
        assert!(!amr.is_empty(), "an amr: {raw}");
        let shown = cli_json(&down.db, &["user", "show", "nadia@node.example"]);
        assert_eq!(shown["id"], claims.subject().as_str(), "the same account every time: {shown}");
    }

    // A replayed callback fails closed here too.
    let b = Browser::new(&down.server);
    let login = b.authorize(&code_request(&app.id, &pkce()).set("scope", "openid")).await;
    let to = start_upstream(&b, &login, "node").await;
    let callback = node_login(&node, &b, &to, "nadia").await;
    let first = b.get(&callback).await;
    assert!(first.is_consent() || first.is_redirect(), "{}", first.describe());
    assert_error_page(&b.get(&callback).await, 400, "expired or was already completed", "replayed callback");
}

//! What the tests share: the usual client and person, PKCE, and the code
//! flow up to tokens.

#![allow(dead_code)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, EdDSA, JwsSigner, PS256, RS256};
use latchkey_server::testing::{Browser, ISSUER, TestApp, TestClient, TestResponse, TestUser};
use latchkey_store::OutboxEmail;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The redirect URI most tests register.
pub const CB: &str = "https://app.example/cb";
/// Alice's password: spaces, `&`, `=`, `+`, `%` and non-ASCII must survive
/// form encoding.
pub const PASSWORD: &str = "Tr0ub4dor & 3 = +% ünï";
/// Scopes most tests request.
pub const SCOPES: &str = "openid profile email";

/// A confidential (`client_secret_basic`) client registered for [`CB`].
pub async fn confidential(app: &TestApp) -> TestClient {
    app.create_client("Test App", &["--redirect-uri", CB]).await
}

/// A public client registered for [`CB`].
pub async fn public(app: &TestApp) -> TestClient {
    app.create_client("Public App", &["--redirect-uri", CB, "--public"]).await
}

pub async fn alice(app: &TestApp) -> TestUser {
    app.create_user("alice", PASSWORD, &["--email", "alice@example.com", "--email-verified", "--name", "Alice Liddell"])
        .await
}

/// A PKCE pair (RFC 7636), the challenge computed here rather than by the server's code.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

pub fn pkce() -> Pkce {
    let verifier = latchkey_core::random::token(48);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    Pkce { verifier, challenge }
}

/// Request parameters, in order (repeats allowed on purpose).
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Replaces every `name` with one `name=value`.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.0.retain(|(k, _)| k != name);
        self.0.push((name.into(), value.into()));
        self
    }

    /// Appends `name=value`, keeping any earlier one.
    pub fn add(mut self, name: &str, value: &str) -> Self {
        self.0.push((name.into(), value.into()));
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.0.retain(|(k, _)| k != name);
        self
    }

    pub fn encode(&self) -> String {
        url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&self.0).finish()
    }

    pub fn pairs(&self) -> Vec<(&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

/// A valid code request for `client_id` at [`CB`] with [`SCOPES`].
pub fn code_request(client_id: &str, pkce: &Pkce) -> Params {
    Params::default()
        .set("response_type", "code")
        .set("client_id", client_id)
        .set("redirect_uri", CB)
        .set("scope", SCOPES)
        .set("state", "s-1")
        .set("code_challenge", &pkce.challenge)
        .set("code_challenge_method", "S256")
}

/// The single value of `name` among `pairs`; panics when absent or repeated.
pub fn one(pairs: &[(String, String)], name: &str) -> String {
    let found: Vec<&String> = pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect();
    assert_eq!(found.len(), 1, "exactly one {name:?} in {pairs:?}");
    found[0].clone()
}

pub fn get(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
}

/// `GET /authorize?params` from `browser`.
pub async fn authorize(browser: &Browser<'_>, params: &Params) -> TestResponse {
    browser.get(&format!("/authorize?{}", params.encode())).await
}

/// Signs `user` in and allows `params`; returns the code from the redirect.
pub async fn code_for(browser: &Browser<'_>, user: &TestUser, params: &Params) -> String {
    let res = browser.drive(authorize(browser, params).await, user).await;
    let location = res.location().unwrap_or_else(|| panic!("no redirect: {}", res.describe()));
    assert!(location.starts_with(CB), "{}", res.describe());
    one(&res.location_params(), "code")
}

/// The token endpoint with `client`'s secret (Basic) or, for a public
/// client, its `client_id` in the form.
pub async fn token(app: &TestApp, client: &TestClient, form: &[(&str, &str)]) -> TestResponse {
    match &client.secret {
        Some(secret) => app.post("/token").basic(&client.id, secret).form(form).await,
        None => {
            let mut all = form.to_vec();
            all.push(("client_id", &client.id));
            app.post("/token").form(&all).await
        }
    }
}

/// The whole code flow: tokens for `user` at `client` with `scope`.
pub async fn tokens(app: &TestApp, client: &TestClient, user: &TestUser, scope: &str) -> Value {
    let browser = app.browser();
    let p = pkce();
    let code = code_for(&browser, user, &code_request(&client.id, &p).set("scope", scope)).await;
    redeem_code(app, client, &code, &p).await
}

/// Redeems `code` (PKCE `p`, at [`CB`]) at `client`; the token response.
pub async fn redeem_code(app: &TestApp, client: &TestClient, code: &str, p: &Pkce) -> Value {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", CB),
        ("code_verifier", p.verifier.as_str()),
    ];
    let res = token(app, client, &form).await;
    assert_eq!(res.status, 200, "{}", res.describe());
    res.json()
}

/// Gives `user`'s password on the login page `page`; the answer.
pub async fn give_password(browser: &Browser<'_>, page: &TestResponse, user: &TestUser) -> TestResponse {
    let (interaction, csrf) = (page.input("interaction").unwrap(), page.input("csrf").unwrap());
    let form = [
        ("interaction", interaction.as_str()),
        ("csrf", csrf.as_str()),
        ("username", user.username.as_str()),
        ("password", user.password.as_str()),
    ];
    browser.post_form("/login", &form).await
}

/// Redeems the code `res` redirected with; returns the token response.
pub async fn redeem(app: &TestApp, client: &TestClient, p: &Pkce, res: &TestResponse) -> Value {
    let location = res.location().unwrap_or_else(|| panic!("no redirect: {}", res.describe()));
    assert!(location.starts_with(CB), "{}", res.describe());
    redeem_code(app, client, &one(&res.location_params(), "code"), p).await
}

/// An OAuth error response (RFC 6749 §5.2): status, `error`, a description
/// in the allowed characters, and never cached.
pub fn assert_oauth_error(res: &TestResponse, status: u16, error: &str, what: &str) {
    assert_eq!(res.status.as_u16(), status, "{what}: {}", res.describe());
    let body = res.json();
    assert_eq!(body["error"], error, "{what}: {body}");
    if let Some(desc) = body["error_description"].as_str() {
        assert!(desc.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)), "{what}: {desc:?}");
    }
    assert_eq!(res.header("cache-control"), Some("no-store"), "{what}");
}

/// A DPoP key pair: the private JWK signs, the public one goes in the header.
pub struct Key {
    pub private: Jwk,
    pub public: Value,
    pub alg: &'static str,
}

impl Key {
    pub fn es256() -> Key {
        let pair = ES256.generate_key_pair().unwrap();
        Key::of(pair.to_jwk_private_key(), pair.to_jwk_public_key(), "ES256")
    }

    pub fn of_ed25519() -> Key {
        let pair = EdDSA.generate_key_pair(josekit::jwk::alg::ed::EdCurve::Ed25519).unwrap();
        Key::of(pair.to_jwk_private_key(), pair.to_jwk_public_key(), "EdDSA")
    }

    pub fn of(private: Jwk, public: Jwk, alg: &'static str) -> Key {
        Key { private, public: serde_json::to_value(public.as_ref()).unwrap(), alg }
    }

    pub fn jkt(&self) -> String {
        latchkey_core::dpop::thumbprint(self.public.as_object().unwrap()).unwrap()
    }

    /// A proof with `header` and `claims` as given (nothing added).
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
        let signature = match self.alg {
            "ES256" => ES256.signer_from_jwk(&self.private).unwrap().sign(input.as_bytes()),
            "RS256" => RS256.signer_from_jwk(&self.private).unwrap().sign(input.as_bytes()),
            "PS256" => PS256.signer_from_jwk(&self.private).unwrap().sign(input.as_bytes()),
            "EdDSA" => EdDSA.signer_from_jwk(&self.private).unwrap().sign(input.as_bytes()),
            other => panic!("{other}"),
        };
        format!("{input}.{}", b64(&signature.unwrap()))
    }

    pub fn header(&self) -> Value {
        json!({"typ": "dpop+jwt", "alg": self.alg, "jwk": self.public})
    }

    /// A valid proof for `method` `path` now, with `extra` claims set.
    pub fn proof(&self, app: &TestApp, method: &str, path: &str, extra: Value) -> String {
        let mut claims = json!({
            "jti": latchkey_core::random::token(12),
            "htm": method,
            "htu": format!("{ISSUER}{path}"),
            "iat": app.clock_now(),
        });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.sign(&self.header(), &claims)
    }
}

/// Email configured, to a port nothing listens on: the sender does not run
/// in-process, so tests read what was queued from the outbox.
pub const EMAIL_ENV: [(&str, &str); 2] =
    [("LATCHKEY_EMAIL_SMTP_URL", "smtp://127.0.0.1:9"), ("LATCHKEY_EMAIL_FROM", "Example ID <id@example.com>")];

/// Takes every queued email out of the outbox, oldest first, leaving out
/// the decoys (rows to no one, which the sender drops).
pub async fn sent(app: &TestApp) -> Vec<OutboxEmail> {
    sent_and_decoys(app).await.into_iter().filter(|e| !e.recipient.is_empty()).collect()
}

/// Takes every queued email out of the outbox, decoys included.
pub async fn sent_and_decoys(app: &TestApp) -> Vec<OutboxEmail> {
    let mut out = Vec::new();
    while let Some(e) = app.store().claim_email("test", app.clock_now(), app.clock_now() + 60).await.unwrap() {
        app.store().delete_email(&e.id, "test").await.unwrap();
        out.push(e);
    }
    out
}

/// The token of the link to `path` in an email's text.
pub fn token_in(email: &OutboxEmail, path: &str) -> String {
    let prefix = format!("{ISSUER}{path}?token=");
    let start =
        email.text_body.find(&prefix).unwrap_or_else(|| panic!("no {prefix} in {}", email.text_body)) + prefix.len();
    email.text_body[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').collect()
}

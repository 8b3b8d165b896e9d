//! The shared test suite for store backends. Each function exercises one
//! trait through its public contract and panics on the first violation; a
//! backend's tests call every function on a fresh, migrated store.

use latchkey_core::client::ClientSettings;
use latchkey_core::{AuthMethod, Client, GrantType, Scope, User, UserClaims};

use crate::{ClientStore, KeyState, KeyStore, StoreError, StoredKey, UserStore};

fn sample_client(id: &str) -> Client {
    Client {
        client_id: id.to_string(),
        secret_hash: Some(format!("hmac-sha256:{id}")),
        settings: ClientSettings {
            client_name: format!("Client {id}"),
            redirect_uris: vec!["https://app.example/cb".into(), "com.example.app:/cb".into()],
            post_logout_redirect_uris: vec!["https://app.example/bye".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            response_types: vec!["code".into()],
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            scope: Scope::parse("openid profile offline_access").unwrap(),
            contacts: vec!["ops@app.example".into()],
            client_uri: None,
            logo_uri: Some("https://app.example/logo.png".into()),
            policy_uri: None,
            tos_uri: None,
            software_id: None,
            software_version: None,
            software_statement_issuer: Some("https://issuer.example".into()),
            backchannel_logout_uri: Some("https://app.example/logout".into()),
            backchannel_logout_session_required: true,
            skip_consent: false,
            dynamically_registered: true,
            audiences: vec!["https://api.example".into()],
            introspection: false,
            token_exchange_audiences: vec!["https://api.example".into()],
            token_exchange_subject_clients: vec!["other-client".into()],
            jwks: None,
            jwks_uri: None,
            token_endpoint_auth_signing_alg: None,
            require_pushed_authorization_requests: true,
            require_signed_request_object: true,
            authorization_signed_response_alg: Some("RS256".into()),
            id_token_signed_response_alg: Some("ES256".into()),
            userinfo_signed_response_alg: Some("EdDSA".into()),
            dpop_bound_access_tokens: true,
            fapi2_security_profile: true,
            registration_access_token_hash: None,
            require_mfa: true,
            default_acr_values: vec!["urn:latchkey:acr:mfa".into()],
        },
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

/// `ClientStore`: insert, read back every field, list order, update, conflicts, delete.
pub async fn client_store(store: &dyn ClientStore) {
    assert!(store.list_clients().await.unwrap().is_empty(), "a fresh store has no clients");
    assert_eq!(store.get_client("nope").await.unwrap(), None);

    let a = sample_client("client-a");
    store.insert_client(&a).await.unwrap();
    assert_eq!(store.get_client("client-a").await.unwrap(), Some(a.clone()));
    match store.insert_client(&a).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("duplicate client id must conflict, got {other:?}"),
    }

    let mut b = sample_client("client-b");
    b.secret_hash = None;
    b.settings.token_endpoint_auth_method = AuthMethod::None;
    b.created_at += 10;
    store.insert_client(&b).await.unwrap();
    let ids: Vec<_> = store.list_clients().await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(ids, vec!["client-a", "client-b"]);

    let mut changed = a.clone();
    changed.settings.client_name = "Renamed ✓ 'quotes'".into();
    changed.settings.redirect_uris = vec!["https://other.example/cb".into()];
    changed.secret_hash = Some("hmac-sha256:rotated".into());
    changed.updated_at += 100;
    assert!(store.update_client(&changed).await.unwrap());
    assert_eq!(store.get_client("client-a").await.unwrap(), Some(changed));
    assert!(!store.update_client(&sample_client("ghost")).await.unwrap());

    assert!(store.delete_client("client-a").await.unwrap());
    assert!(!store.delete_client("client-a").await.unwrap());
    assert_eq!(store.get_client("client-a").await.unwrap(), None);
    assert_eq!(store.list_clients().await.unwrap().len(), 1);
}

fn sample_user(id: &str, username: &str) -> User {
    User {
        id: id.into(),
        username: username.into(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
        disabled: false,
        claims: UserClaims {
            email: Some(format!("{username}@example.com")),
            email_verified: true,
            name: Some("Zoë O'Brien".into()),
            given_name: Some("Zoë".into()),
            family_name: Some("O'Brien".into()),
            phone_number: None,
            phone_number_verified: false,
            nickname: Some("Zo".into()),
            zoneinfo: Some("Europe/Dublin".into()),
            address: Some(latchkey_core::Address {
                street_address: Some("1 Sráid Mhór\nApt 2".into()),
                country: Some("IE".into()),
                ..Default::default()
            }),
            groups: vec!["staff".into(), "/org/team-ä".into()],
            ..UserClaims::default()
        },
        created_at: 1_700_000_000,
        updated_at: 1_700_000_000,
    }
}

/// `UserStore`: insert, case-insensitive username uniqueness and look-up, update, delete.
pub async fn user_store(store: &dyn UserStore) {
    assert!(store.list_users().await.unwrap().is_empty());
    let alice = sample_user("u-1", "Alice");
    store.insert_user(&alice).await.unwrap();
    assert_eq!(store.get_user("u-1").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.find_user_by_username("alice").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.find_user_by_username("ALICE").await.unwrap(), Some(alice.clone()));
    assert_eq!(store.find_user_by_username("bob").await.unwrap(), None);

    match store.insert_user(&sample_user("u-2", "aLiCe")).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("usernames differing only in case must conflict, got {other:?}"),
    }
    match store.insert_user(&sample_user("u-1", "carol")).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("duplicate user id must conflict, got {other:?}"),
    }

    let mut bob = sample_user("u-2", "bob");
    bob.created_at += 5;
    bob.password_hash = None;
    store.insert_user(&bob).await.unwrap();
    let names: Vec<_> = store.list_users().await.unwrap().into_iter().map(|u| u.username).collect();
    assert_eq!(names, vec!["Alice", "bob"]);

    let mut renamed = bob.clone();
    renamed.username = "ALICE".into();
    match store.update_user(&renamed).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("renaming onto a taken username must conflict, got {other:?}"),
    }
    let mut disabled = bob.clone();
    disabled.disabled = true;
    disabled.username = "Robert".into();
    disabled.claims.phone_number = Some("+1 555 0100".into());
    disabled.updated_at += 1;
    assert!(store.update_user(&disabled).await.unwrap());
    assert_eq!(store.find_user_by_username("robert").await.unwrap(), Some(disabled));
    assert_eq!(store.find_user_by_username("bob").await.unwrap(), None);
    assert!(!store.update_user(&sample_user("ghost", "ghost")).await.unwrap());

    assert!(store.delete_user("u-2").await.unwrap());
    assert!(!store.delete_user("u-2").await.unwrap());
    assert_eq!(store.list_users().await.unwrap().len(), 1);
}

fn key(kid: &str, state: KeyState, created_at: i64) -> StoredKey {
    StoredKey {
        kid: kid.into(),
        alg: "RS256".into(),
        state,
        private_key: format!("-----BEGIN PRIVATE KEY-----{kid}"),
        public_jwk: format!(r#"{{"kty":"RSA","kid":"{kid}"}}"#),
        created_at,
        activated_at: (state == KeyState::Active).then_some(created_at),
        retired_at: None,
        remove_after: None,
    }
}

/// `KeyStore`: one active and one next at most per algorithm, atomic
/// rotation, retirement, expiry.
pub async fn key_store(store: &dyn KeyStore) {
    assert!(store.list_keys().await.unwrap().is_empty());
    store.insert_key(&key("k1", KeyState::Active, 100)).await.unwrap();
    store.insert_key(&key("k2", KeyState::Next, 200)).await.unwrap();
    for dup in [key("k3", KeyState::Active, 300), key("k3", KeyState::Next, 300), key("k1", KeyState::Retired, 300)] {
        match store.insert_key(&dup).await {
            Err(StoreError::Conflict(_)) => {}
            other => panic!("{dup:?} must conflict, got {other:?}"),
        }
    }
    let kids: Vec<_> = store.list_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec!["k2", "k1"], "newest first");

    // Rotation with the wrong expected next key changes nothing.
    match store.rotate_keys("k1", &key("k3", KeyState::Next, 300), 300, 400).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("rotating from a non-next key must conflict, got {other:?}"),
    }
    assert_eq!(store.list_keys().await.unwrap().len(), 2);

    store.rotate_keys("k2", &key("k3", KeyState::Next, 300), 300, 400).await.unwrap();
    let keys = store.list_keys().await.unwrap();
    let by = |kid: &str| keys.iter().find(|k| k.kid == kid).unwrap().clone();
    assert_eq!(by("k1").state, KeyState::Retired);
    assert_eq!(by("k1").retired_at, Some(300));
    assert_eq!(by("k1").remove_after, Some(400));
    assert_eq!(by("k2").state, KeyState::Active);
    assert_eq!(by("k2").activated_at, Some(300));
    assert_eq!(by("k3").state, KeyState::Next);
    assert_eq!(by("k3").private_key, "-----BEGIN PRIVATE KEY-----k3");

    assert!(!store.retire_next_key("k2", 310, 320).await.unwrap(), "only a next key retires this way");
    assert!(store.retire_next_key("k3", 310, 320).await.unwrap());
    store.insert_key(&key("k4", KeyState::Next, 311)).await.unwrap();

    assert!(store.set_key_remove_after("k1", 350).await.unwrap());
    assert!(!store.set_key_remove_after("k2", 350).await.unwrap());
    assert_eq!(store.delete_expired_keys(319).await.unwrap(), 0);
    assert_eq!(store.delete_expired_keys(320).await.unwrap(), 1, "k3 expires at 320");
    assert_eq!(store.delete_expired_keys(349).await.unwrap(), 0);
    assert_eq!(store.delete_expired_keys(350).await.unwrap(), 1, "k1 expires at 350");
    let kids: Vec<_> = store.list_keys().await.unwrap().into_iter().map(|k| k.kid).collect();
    assert_eq!(kids, vec!["k4", "k2"]);

    // Another algorithm has an active and a next key of its own, and a
    // rotation of RS256's keys leaves them alone.
    let ec = |kid: &str, state: KeyState, at: i64| StoredKey { alg: "ES256".into(), ..key(kid, state, at) };
    store.insert_key(&ec("e1", KeyState::Active, 400)).await.unwrap();
    store.insert_key(&ec("e2", KeyState::Next, 400)).await.unwrap();
    match store.insert_key(&ec("e3", KeyState::Active, 400)).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a second active ES256 key must conflict, got {other:?}"),
    }
    store.rotate_keys("k4", &key("k5", KeyState::Next, 500), 500, 600).await.unwrap();
    let keys = store.list_keys().await.unwrap();
    let state = |kid: &str| keys.iter().find(|k| k.kid == kid).unwrap().state;
    assert_eq!(
        [state("k2"), state("k4"), state("k5"), state("e1"), state("e2")],
        [KeyState::Retired, KeyState::Active, KeyState::Next, KeyState::Active, KeyState::Next]
    );
}

use latchkey_core::claims_request::RequestedClaims;
use latchkey_core::grant::{Authentication, AuthorizationCode, Interaction, InteractionStage, RefreshToken, Session};

use crate::cascade::Revocations;
use crate::{
    CodeLookup, CodeStore, ConsentStore, FailureStore, Failures, InteractionStore, IssuedToken, Maintenance,
    PushedRequestStore, RateLimitStore, Redemption, RevokedCode, Rotation, SessionStore, Store,
};

fn auth(user: &str) -> Authentication {
    Authentication {
        user_id: user.into(),
        auth_time: 1_000,
        amr: vec!["pwd".into()],
        acr: "urn:latchkey:acr:password".into(),
        sid: format!("sid-{user}"),
    }
}

/// `SessionStore`: expiry, client list, idle clock, listing, deletion.
pub async fn session_store(store: &dyn SessionStore) {
    let s = Session {
        id_hash: "h1".into(),
        auth: auth("u1"),
        created_at: 1_000,
        expires_at: 2_000,
        last_seen_at: 1_000,
        client_ids: vec![],
    };
    store.insert_session(&s).await.unwrap();
    assert_eq!(store.get_session("h1", 1_500).await.unwrap(), Some(s.clone()));
    assert_eq!(store.get_session("h1", 2_000).await.unwrap(), None, "expired at expires_at");
    assert_eq!(store.get_session("nope", 1_500).await.unwrap(), None);
    store.add_session_client("h1", "c2").await.unwrap();
    store.add_session_client("h1", "c1").await.unwrap();
    store.add_session_client("h1", "c1").await.unwrap();
    assert_eq!(store.get_session("h1", 1_500).await.unwrap().unwrap().client_ids, vec!["c1", "c2"]);
    store.touch_session("h1", 1_400).await.unwrap();
    store.touch_session("h1", 1_300).await.unwrap();
    assert_eq!(store.get_session("h1", 1_500).await.unwrap().unwrap().last_seen_at, 1_400, "never moves back");
    assert_eq!(store.find_session_by_sid("sid-u1", 1_500).await.unwrap().unwrap().id_hash, "h1");
    let mut other = s.clone();
    other.id_hash = "h2".into();
    other.auth.sid = "sid-u1-b".into();
    other.created_at = 1_100;
    store.insert_session(&other).await.unwrap();
    let listed: Vec<_> = store.list_user_sessions("u1", 1_500).await.unwrap().into_iter().map(|s| s.id_hash).collect();
    assert_eq!(listed, vec!["h2", "h1"], "newest first");
    assert!(store.list_user_sessions("u2", 1_500).await.unwrap().is_empty());
    let deleted = store.delete_session("h1").await.unwrap().expect("deleted");
    assert_eq!(deleted.client_ids, vec!["c1", "c2"], "the deleted session's clients, for back-channel logout");
    assert_eq!(store.delete_session("h1").await.unwrap(), None);
    assert_eq!(store.get_session("h1", 1_500).await.unwrap(), None);
}

/// `ConsentStore`: upsert replaces the scope, keeps the first grant time.
pub async fn consent_store(store: &dyn ConsentStore) {
    assert_eq!(store.get_consent("u1", "c1").await.unwrap(), None);
    store.put_consent("u1", "c1", &Scope::parse("openid email").unwrap(), 100).await.unwrap();
    store.put_consent("u1", "c1", &Scope::parse("openid email profile").unwrap(), 200).await.unwrap();
    let c = store.get_consent("u1", "c1").await.unwrap().unwrap();
    assert_eq!(c.scope.to_string(), "email openid profile");
    assert_eq!((c.granted_at, c.updated_at), (100, 200));
    assert_eq!(store.get_consent("u1", "c2").await.unwrap(), None);
    store.put_consent("u1", "c2", &Scope::parse("openid").unwrap(), 300).await.unwrap();
    store.put_consent("u2", "c1", &Scope::parse("openid").unwrap(), 400).await.unwrap();
    let listed: Vec<_> = store.list_user_consents("u1").await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(listed, ["c2", "c1"], "most recently updated first, this user's only");
    let granted: Vec<_> = store.list_client_consents("c1", 10).await.unwrap().into_iter().map(|c| c.user_id).collect();
    assert_eq!(granted, ["u2", "u1"], "most recently updated first, this client's only");
    assert_eq!(store.list_client_consents("c1", 1).await.unwrap().len(), 1, "at most the limit");
    assert!(store.delete_consent("u1", "c1").await.unwrap());
    assert!(!store.delete_consent("u1", "c1").await.unwrap());
    assert_eq!(store.list_user_consents("u1").await.unwrap().len(), 1);
    assert!(store.list_user_consents("nobody").await.unwrap().is_empty());
}

/// `InteractionStore`: expiry, update, single deletion.
pub async fn interaction_store(store: &dyn InteractionStore) {
    let mut i = Interaction {
        id_hash: "i1".into(),
        csrf: "csrf".into(),
        stage: InteractionStage::Login,
        user_id: None,
        request: r#"{"client_id":"c1"}"#.into(),
        created_at: 100,
        expires_at: 700,
    };
    store.insert_interaction(&i).await.unwrap();
    assert_eq!(store.get_interaction("i1", 200).await.unwrap(), Some(i.clone()));
    assert_eq!(store.get_interaction("i1", 700).await.unwrap(), None);
    i.stage = InteractionStage::Consent;
    i.user_id = Some("u1".into());
    assert!(store.update_interaction(&i).await.unwrap());
    assert_eq!(store.get_interaction("i1", 200).await.unwrap(), Some(i));
    assert!(store.delete_interaction("i1").await.unwrap());
    assert!(!store.delete_interaction("i1").await.unwrap(), "completes at most once");
    // `/account`'s second-factor step: a person, no authorization request.
    let step = Interaction {
        id_hash: "i2".into(),
        csrf: "csrf".into(),
        stage: InteractionStage::SecondFactor,
        user_id: Some("u1".into()),
        request: String::new(),
        created_at: 100,
        expires_at: 700,
    };
    store.insert_interaction(&step).await.unwrap();
    assert_eq!(store.get_interaction("i2", 200).await.unwrap(), Some(step));
}

/// `PushedRequestStore`: taken once, by its client only, before it expires.
pub async fn pushed_request_store(store: &dyn Store) {
    use latchkey_core::grant::PushedRequest;
    let pushed = |hash: &str| PushedRequest {
        uri_hash: hash.into(),
        client_id: "client-a".into(),
        params: "response_type=code&scope=openid".into(),
        created_at: 100,
        expires_at: 160,
    };
    let p = pushed("p1");
    store.insert_pushed_request(&p).await.unwrap();
    assert_eq!(store.take_pushed_request("p1", "client-b", 120).await.unwrap(), None, "another client's");
    assert_eq!(store.take_pushed_request("p-none", "client-a", 120).await.unwrap(), None, "unknown");
    assert_eq!(store.take_pushed_request("p1", "client-a", 120).await.unwrap(), Some(p), "left by the other client");
    assert_eq!(store.take_pushed_request("p1", "client-a", 121).await.unwrap(), None, "taken once");
    store.insert_pushed_request(&pushed("p2")).await.unwrap();
    assert_eq!(store.take_pushed_request("p2", "client-a", 160).await.unwrap(), None, "expired");
}

/// `PushedRequestStore` under concurrency: one of many takers gets the request.
pub async fn pushed_request_store_concurrent<S: PushedRequestStore + Clone>(store: S) {
    use latchkey_core::grant::PushedRequest;
    let p = PushedRequest {
        uri_hash: "race".into(),
        client_id: "client-a".into(),
        params: "scope=openid".into(),
        created_at: 100,
        expires_at: 10_000,
    };
    store.insert_pushed_request(&p).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = store.clone();
        tasks.push(async move { s.take_pushed_request("race", "client-a", 200).await.unwrap() });
    }
    let taken = join_all(tasks).await.into_iter().flatten().count();
    assert_eq!(taken, 1);
}

fn code(hash: &str, client: &str, expires_at: i64) -> AuthorizationCode {
    AuthorizationCode {
        code_hash: hash.into(),
        client_id: client.into(),
        grant_id: format!("grant-{hash}"),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_sent: true,
        scope: Scope::parse("openid offline_access").unwrap(),
        nonce: Some("n-0S6_WzA2Mj".into()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        auth: auth("u1"),
        created_at: 100,
        expires_at,
        device: false,
        // Carried through every store as written.
        claims: RequestedClaims { id_token: vec!["email".into()], userinfo: vec!["phone_number".into()] },
        dpop_jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
    }
}

/// `CodeStore` with `RefreshTokenStore` and `DenylistStore`: single
/// redemption, client binding, expiry, replay revocation reaching the family
/// (the cascade of [`crate::cascade`] over this backend's operations).
pub async fn code_store(store: &dyn Store) {
    let c = code("code-1", "client-a", 160);
    store.insert_code(&c).await.unwrap();
    // Looking a code up never spends it, whoever asks.
    assert_eq!(store.find_code("code-1", 105).await.unwrap(), CodeLookup::Redeemable(c.clone()));
    assert_eq!(store.find_code("code-1", 106).await.unwrap(), CodeLookup::Redeemable(c.clone()));
    assert_eq!(store.find_code("missing", 105).await.unwrap(), CodeLookup::NotFound);
    assert_eq!(store.redeem_code("code-1", "client-b", 110).await.unwrap(), Redemption::WrongClient);
    assert_eq!(store.find_code("code-1", 110).await.unwrap(), CodeLookup::Redeemable(c.clone()), "still unspent");
    assert_eq!(store.redeem_code("missing", "client-a", 110).await.unwrap(), Redemption::NotFound);
    assert_eq!(store.redeem_code("code-1", "client-a", 110).await.unwrap(), Redemption::Redeemed(c.clone()));
    assert_eq!(store.redeem_code("code-1", "client-a", 111).await.unwrap(), Redemption::AlreadyUsed(c.clone()));
    assert_eq!(store.find_code("code-1", 111).await.unwrap(), CodeLookup::Spent(c.clone()));
    // A spent code is still known after it expires, so that a late replay is recognised.
    assert_eq!(store.find_code("code-1", 1_000).await.unwrap(), CodeLookup::Spent(c.clone()));

    assert!(!store.is_code_revoked("code-1").await.unwrap());
    let rt = refresh("rt-1", &c.grant_id, 110);
    assert!(store.record_issued("code-1", "jti-1", 1_000, Some(&rt), 110).await.unwrap());
    assert_eq!(store.get_refresh_token("rt-1").await.unwrap().unwrap().token, rt);
    assert!(!store.is_access_token_denied("jti-1").await.unwrap());
    store.revoke_code_grant("code-1", 120).await.unwrap();
    assert!(store.is_code_revoked("code-1").await.unwrap());
    assert!(store.is_access_token_denied("jti-1").await.unwrap());
    assert_eq!(store.get_refresh_token("rt-1").await.unwrap().unwrap().revoked_at, Some(120));
    // Once revoked, what is issued from it afterwards is born revoked.
    let late = refresh("rt-late", &c.grant_id, 130);
    assert!(!store.record_issued("code-1", "jti-2", 1_000, Some(&late), 130).await.unwrap());
    assert!(store.is_access_token_denied("jti-2").await.unwrap());
    assert!(store.get_refresh_token("rt-late").await.unwrap().is_none(), "no refresh token is kept");
    assert!(!store.record_code_access("code-1", "jti-3", 1_000).await.unwrap(), "a revoked code records nothing");
    assert!(!store.record_code_access("missing", "jti-3", 1_000).await.unwrap());
    assert_eq!(
        store.revoke_code("code-1").await.unwrap(),
        Some(RevokedCode { grant_id: c.grant_id.clone(), access_token: Some(IssuedToken::new("jti-1", 1_000)) }),
        "revoking again finds the grant and the access token first recorded"
    );
    assert_eq!(store.revoke_code("missing").await.unwrap(), None);
    assert!(!store.is_code_revoked("missing").await.unwrap());

    let expired = code("code-2", "client-a", 150);
    store.insert_code(&expired).await.unwrap();
    assert_eq!(store.find_code("code-2", 149).await.unwrap(), CodeLookup::Redeemable(expired.clone()));
    assert_eq!(store.find_code("code-2", 150).await.unwrap(), CodeLookup::NotFound, "expired unspent");
    assert_eq!(store.redeem_code("code-2", "client-a", 150).await.unwrap(), Redemption::NotFound);
}

/// Concurrent redemptions of one code: exactly one wins.
pub async fn code_store_concurrent_redemption<S: CodeStore + Clone>(store: S) {
    store.insert_code(&code("race", "client-a", 10_000)).await.unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let s = store.clone();
        tasks.push(async move { s.redeem_code("race", "client-a", 200).await.unwrap() });
    }
    let results = join_all(tasks).await;
    let won = results.iter().filter(|r| matches!(r, Redemption::Redeemed(_))).count();
    let replays = results.iter().filter(|r| matches!(r, Redemption::AlreadyUsed(_))).count();
    assert_eq!((won, replays), (1, 19), "{results:?}");
}

/// `DeviceCodeStore`: look-up by user code while pending, one decision,
/// polls that slow down (5 s more each time) and report expiry.
pub async fn device_code_store(store: &dyn Store) {
    use latchkey_core::device::{DeviceCode, DevicePoll, DeviceStatus};
    let device = |n: &str| DeviceCode {
        device_code_hash: format!("dc-{n}"),
        user_code_hash: format!("uc-{n}"),
        client_id: "client-a".into(),
        scope: Scope::parse("openid offline_access").unwrap(),
        created_at: 100,
        expires_at: 700,
        interval: 5,
    };
    let d = device("1");
    store.insert_device_code(&d).await.unwrap();
    let taken = DeviceCode { device_code_hash: "dc-other".into(), ..d.clone() };
    assert!(matches!(store.insert_device_code(&taken).await, Err(StoreError::Conflict(_))), "user code in use");
    assert_eq!(store.find_user_code("uc-1", 200).await.unwrap(), Some(d.clone()));
    assert_eq!(store.find_user_code("uc-nope", 200).await.unwrap(), None);
    assert_eq!(store.find_user_code("uc-1", 700).await.unwrap(), None, "expired");

    let poll = |at: i64| store.poll_device_code("dc-1", "client-a", at);
    assert_eq!(poll(200).await.unwrap(), DevicePoll::Polled(DeviceStatus::Pending));
    assert_eq!(poll(205).await.unwrap(), DevicePoll::Polled(DeviceStatus::Pending), "exactly the interval");
    assert_eq!(poll(207).await.unwrap(), DevicePoll::SlowDown(10));
    assert_eq!(poll(215).await.unwrap(), DevicePoll::SlowDown(15), "10 s after a poll: still too soon");
    assert_eq!(poll(230).await.unwrap(), DevicePoll::Polled(DeviceStatus::Pending), "the interval stays 15");
    assert_eq!(poll(240).await.unwrap(), DevicePoll::SlowDown(20));
    assert_eq!(store.poll_device_code("dc-1", "client-b", 300).await.unwrap(), DevicePoll::NotFound);
    assert_eq!(store.poll_device_code("dc-none", "client-a", 300).await.unwrap(), DevicePoll::NotFound);

    assert!(store.decide_device_code("dc-1", DeviceStatus::Approved, 300).await.unwrap());
    assert!(!store.decide_device_code("dc-1", DeviceStatus::Denied, 301).await.unwrap(), "decided once");
    assert_eq!(store.find_user_code("uc-1", 302).await.unwrap(), None, "no longer pending");
    assert_eq!(poll(400).await.unwrap(), DevicePoll::Polled(DeviceStatus::Approved));
    assert_eq!(poll(700).await.unwrap(), DevicePoll::Expired);

    store.insert_device_code(&device("2")).await.unwrap();
    assert!(store.decide_device_code("dc-2", DeviceStatus::Denied, 300).await.unwrap());
    assert_eq!(
        store.poll_device_code("dc-2", "client-a", 300).await.unwrap(),
        DevicePoll::Polled(DeviceStatus::Denied)
    );
    store.insert_device_code(&device("3")).await.unwrap();
    assert!(!store.decide_device_code("dc-3", DeviceStatus::Approved, 700).await.unwrap(), "expired");
}

/// `DenylistStore`: single and batch denial, each denied until its expiry.
pub async fn denylist_store(store: &dyn Store) {
    assert!(!store.is_access_token_denied("d-1").await.unwrap());
    store.deny_access_token("d-1", 10_000).await.unwrap();
    store.deny_access_token("d-1", 10_000).await.unwrap();
    store.deny_access_tokens(&[]).await.unwrap();
    store.deny_access_tokens(&[IssuedToken::new("d-2", 10_000), IssuedToken::new("d-3", 10_000)]).await.unwrap();
    for jti in ["d-1", "d-2", "d-3"] {
        assert!(store.is_access_token_denied(jti).await.unwrap(), "{jti}");
    }
    assert!(!store.is_access_token_denied("d-4").await.unwrap());
}

/// `UnitOfWork`: what a transaction writes it reads back at once; others
/// see it only once it is committed, and never if it is rolled back or
/// dropped halfway (a caller that failed). This is the durable state; in a
/// split store the hot state is not part of a unit of work.
pub async fn unit_of_work(store: &dyn Store) {
    let link = |user: &str| crate::FederatedIdentity {
        issuer: "https://idp.example".into(),
        subject: format!("sub-{user}"),
        user_id: user.into(),
        provider: "corp".into(),
        linked_at: 100,
        provisioned: true,
    };
    let tx = store.begin().await.unwrap();
    tx.insert_user(&sample_user("u-tx1", "committed")).await.unwrap();
    tx.link_identity(&link("u-tx1")).await.unwrap();
    assert!(tx.get_user("u-tx1").await.unwrap().is_some(), "a transaction reads its own writes");
    assert_eq!(store.get_user("u-tx1").await.unwrap(), None, "nobody else sees them before the commit");
    tx.commit().await.unwrap();
    assert!(store.get_user("u-tx1").await.unwrap().is_some(), "committed: visible");
    assert!(store.find_identity("https://idp.example", "sub-u-tx1").await.unwrap().is_some());

    let tx = store.begin().await.unwrap();
    tx.insert_user(&sample_user("u-tx2", "rolled-back")).await.unwrap();
    tx.insert_client(&sample_client("c-tx2")).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(store.get_user("u-tx2").await.unwrap(), None, "rolled back: nothing");
    assert_eq!(store.get_client("c-tx2").await.unwrap(), None);

    {
        let tx = store.begin().await.unwrap();
        tx.insert_user(&sample_user("u-tx3", "dropped")).await.unwrap();
        tx.link_identity(&link("u-tx3")).await.unwrap();
    }
    assert_eq!(store.get_user("u-tx3").await.unwrap(), None, "dropped without a commit: nothing");
    assert_eq!(store.find_identity("https://idp.example", "sub-u-tx3").await.unwrap(), None);

    // A write that conflicts fails inside the unit of work; rolled back,
    // nothing written before it stays (no orphan).
    let tx = store.begin().await.unwrap();
    tx.insert_user(&sample_user("u-tx4", "orphan")).await.unwrap();
    match tx.link_identity(&link("u-tx1")).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a second link of one upstream account must conflict, got {other:?}"),
    }
    tx.rollback().await.unwrap();
    assert_eq!(store.get_user("u-tx4").await.unwrap(), None);

    // A revocation inside a larger unit of work commits with it, or not at all.
    let c = code("code-u", "client-a", 10_000);
    store.insert_code(&c).await.unwrap();
    assert!(matches!(store.redeem_code("code-u", "client-a", 100).await.unwrap(), Redemption::Redeemed(_)));
    assert!(
        store.record_issued("code-u", "jti-u", 2_000, Some(&refresh("rt-u", &c.grant_id, 100)), 100).await.unwrap()
    );
    {
        let tx = store.begin().await.unwrap();
        assert_eq!(crate::cascade::revoke_family_in(&*tx, &c.grant_id, 200).await.unwrap(), 1);
    }
    assert_eq!(store.get_refresh_token("rt-u").await.unwrap().unwrap().revoked_at, None, "dropped: not revoked");
    let tx = store.begin().await.unwrap();
    assert_eq!(crate::cascade::revoke_family_in(&*tx, &c.grant_id, 200).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert_eq!(store.get_refresh_token("rt-u").await.unwrap().unwrap().revoked_at, Some(200));
    assert!(store.is_access_token_denied("jti-u").await.unwrap());
}

/// Single use stays single inside units of work: of concurrent
/// transactions that each rotate one refresh token (or redeem one code),
/// exactly one wins, and only the winner's successor exists.
pub async fn unit_of_work_concurrent(store: std::sync::Arc<dyn Store>) {
    let c = code("code-c", "client-a", 10_000);
    store.insert_code(&c).await.unwrap();
    assert!(matches!(store.redeem_code("code-c", "client-a", 100).await.unwrap(), Redemption::Redeemed(_)));
    assert!(
        store.record_issued("code-c", "jti-c", 2_000, Some(&refresh("rc-0", &c.grant_id, 100)), 100).await.unwrap()
    );
    store.insert_code(&code("code-c2", "client-a", 10_000)).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let grant = c.grant_id.clone();
            async move {
                let successor = refresh(&format!("rc-{}", i + 1), &grant, 200);
                let tx = store.begin().await.unwrap();
                let rotated = tx
                    .rotate_refresh_token(
                        "rc-0",
                        "client-a",
                        200,
                        Rotation { successor: &successor, successor_sealed: "s", access_jti: "j", access_exp: 2_000 },
                    )
                    .await
                    .unwrap();
                let redeemed = tx.redeem_code("code-c2", "client-a", 200).await.unwrap();
                tx.commit().await.unwrap();
                (rotated, matches!(redeemed, Redemption::Redeemed(_)))
            }
        })
        .collect();
    let results = join_all(tasks).await;
    assert_eq!(results.iter().filter(|(rotated, _)| *rotated).count(), 1, "one rotation won: {results:?}");
    assert_eq!(results.iter().filter(|(_, redeemed)| *redeemed).count(), 1, "one redemption won: {results:?}");
    let mut successors = 0;
    for i in 1..=8 {
        successors += usize::from(store.get_refresh_token(&format!("rc-{i}")).await.unwrap().is_some());
    }
    assert_eq!(successors, 1, "only the winner's successor exists");

    // Units of work begun `begin_writing` wait for each other at their first
    // write instead of failing: concurrent token issues and revocations all
    // succeed.
    let mut grants = Vec::new();
    for i in 0..8 {
        let c = code(&format!("code-w{i}"), "client-a", 10_000);
        store.insert_code(&c).await.unwrap();
        assert!(matches!(store.redeem_code(&c.code_hash, "client-a", 100).await.unwrap(), Redemption::Redeemed(_)));
        grants.push((c.code_hash.clone(), c.grant_id.clone()));
    }
    let issues: Vec<_> = grants
        .iter()
        .enumerate()
        .map(|(i, (code_hash, grant))| {
            let store = store.clone();
            async move {
                let rt = refresh(&format!("rw-{i}"), grant, 100);
                store.record_issued(code_hash, &format!("jti-w{i}"), 2_000, Some(&rt), 100).await
            }
        })
        .collect();
    for issued in join_all(issues).await {
        assert!(issued.expect("concurrent write-first units of work all commit"), "each code recorded its tokens");
    }
    let revocations: Vec<_> = grants
        .iter()
        .map(|(_, grant)| {
            let store = store.clone();
            async move { store.revoke_family(grant, 300).await }
        })
        .collect();
    for live in join_all(revocations).await {
        assert_eq!(live.expect("concurrent revocations all commit"), 1);
    }
    for i in 0..8 {
        assert!(store.get_refresh_token(&format!("rw-{i}")).await.unwrap().unwrap().revoked_at.is_some());
        assert!(store.is_access_token_denied(&format!("jti-w{i}")).await.unwrap());
    }
}

/// Polls futures concurrently without an executor dependency.
async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in futures.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => out[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().map(|v| v.expect("every future completed")).collect()
}

fn refresh(hash: &str, grant: &str, now: i64) -> RefreshToken {
    RefreshToken {
        token_hash: hash.into(),
        grant_id: grant.into(),
        client_id: "client-a".into(),
        scope: Scope::parse("openid offline_access").unwrap(),
        auth: auth("u1"),
        offline: true,
        created_at: now,
        expires_at: now + 1_000,
        family_expires_at: now + 5_000,
        claims: RequestedClaims { id_token: Vec::new(), userinfo: vec!["address".into()] },
        dpop_jkt: Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs".into()),
    }
}

/// `RefreshTokenStore`: one winner per rotation, family revocation reaches
/// every token and access token, session-bound revocation spares offline tokens.
pub async fn refresh_token_store(store: &dyn Store) {
    let c = code("code-r", "client-a", 10_000);
    store.insert_code(&c).await.unwrap();
    assert!(matches!(store.redeem_code("code-r", "client-a", 100).await.unwrap(), Redemption::Redeemed(_)));
    let first = refresh("r1", &c.grant_id, 100);
    assert!(store.record_issued("code-r", "jti-code", 2_000, Some(&first), 100).await.unwrap());

    let second = refresh("r2", &c.grant_id, 200);
    assert!(
        !store
            .rotate_refresh_token(
                "r1",
                "client-b",
                200,
                Rotation { successor: &second, successor_sealed: "sealed", access_jti: "jti-2", access_exp: 2_000 }
            )
            .await
            .unwrap()
    );
    assert!(
        store
            .rotate_refresh_token(
                "r1",
                "client-a",
                200,
                Rotation { successor: &second, successor_sealed: "sealed", access_jti: "jti-2", access_exp: 2_000 }
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .rotate_refresh_token(
                "r1",
                "client-a",
                201,
                Rotation {
                    successor: &refresh("r3", &c.grant_id, 201),
                    successor_sealed: "s",
                    access_jti: "jti-3",
                    access_exp: 2_000
                }
            )
            .await
            .unwrap()
    );
    let old = store.get_refresh_token("r1").await.unwrap().unwrap();
    assert_eq!(old.consumed_at, Some(200));
    assert_eq!(old.successor_sealed.as_deref(), Some("sealed"));
    assert!(store.get_refresh_token("r3").await.unwrap().is_none(), "the loser wrote nothing");
    store.add_family_access_token("r1", "jti-grace", 2_000).await.unwrap();

    assert_eq!(store.revoke_family(&c.grant_id, 300).await.unwrap(), 1, "r2 was the live one");
    for jti in ["jti-code", "jti-2", "jti-grace"] {
        assert!(store.is_access_token_denied(jti).await.unwrap(), "{jti} denied with its family");
    }
    assert_eq!(store.get_refresh_token("r2").await.unwrap().unwrap().revoked_at, Some(300));
    assert!(
        !store
            .rotate_refresh_token(
                "r2",
                "client-a",
                301,
                Rotation {
                    successor: &refresh("r4", &c.grant_id, 301),
                    successor_sealed: "s",
                    access_jti: "j4",
                    access_exp: 2_000
                }
            )
            .await
            .unwrap()
    );

    // Session-bound families end with the session; offline ones survive unless asked.
    for (code_hash, offline) in [("code-s1", false), ("code-s2", true)] {
        let mut c = code(code_hash, "client-a", 10_000);
        c.auth.sid = "sid-x".into();
        store.insert_code(&c).await.unwrap();
        store.redeem_code(code_hash, "client-a", 100).await.unwrap();
        let mut rt = refresh(&format!("rt-{code_hash}"), &c.grant_id, 100);
        rt.auth.sid = "sid-x".into();
        rt.offline = offline;
        assert!(store.record_issued(code_hash, &format!("j-{code_hash}"), 2_000, Some(&rt), 100).await.unwrap());
    }
    assert_eq!(store.list_session_families("sid-x", true).await.unwrap().len(), 2);
    assert_eq!(store.list_session_families("sid-x", false).await.unwrap(), ["grant-code-s1"]);
    assert_eq!(store.revoke_session_families("sid-x", false, 400).await.unwrap(), 1);
    assert!(store.get_refresh_token("rt-code-s1").await.unwrap().unwrap().revoked_at.is_some());
    assert!(store.get_refresh_token("rt-code-s2").await.unwrap().unwrap().revoked_at.is_none());
    assert_eq!(store.revoke_session_families("sid-x", true, 401).await.unwrap(), 1);
    assert!(store.get_refresh_token("rt-code-s2").await.unwrap().unwrap().revoked_at.is_some());

    // A person cutting an app off: its families and its code-only access
    // tokens end, for that person and that app only.
    for (code_hash, user, client, with_refresh) in [
        ("code-g1", "u-g", "client-g", true),
        ("code-g2", "u-g", "client-g", false),
        ("code-g3", "u-other", "client-g", true),
        ("code-g4", "u-g", "client-h", true),
    ] {
        let mut c = code(code_hash, client, 10_000);
        c.auth = auth(user);
        store.insert_code(&c).await.unwrap();
        assert!(matches!(store.redeem_code(code_hash, client, 100).await.unwrap(), Redemption::Redeemed(_)));
        let rt = with_refresh.then(|| {
            let mut rt = refresh(&format!("rt-{code_hash}"), &c.grant_id, 100);
            rt.client_id = client.into();
            rt.auth = auth(user);
            rt
        });
        assert!(store.record_issued(code_hash, &format!("j-{code_hash}"), 2_000, rt.as_ref(), 100).await.unwrap());
    }
    assert_eq!(store.list_client_families("u-g", "client-g").await.unwrap(), ["grant-code-g1"]);
    assert_eq!(store.revoke_client_grants("u-g", "client-g", 500).await.unwrap(), 1, "one live family");
    for (jti, denied) in [("j-code-g1", true), ("j-code-g2", true), ("j-code-g3", false), ("j-code-g4", false)] {
        assert_eq!(store.is_access_token_denied(jti).await.unwrap(), denied, "{jti}");
    }
    assert!(store.get_refresh_token("rt-code-g1").await.unwrap().unwrap().revoked_at.is_some());
    assert!(store.get_refresh_token("rt-code-g3").await.unwrap().unwrap().revoked_at.is_none());
    assert!(store.get_refresh_token("rt-code-g4").await.unwrap().unwrap().revoked_at.is_none());
    assert_eq!(store.revoke_client_grants("u-g", "client-g", 501).await.unwrap(), 0, "nothing left");
}

/// `Maintenance`: what the store itself must delete (records a backend
/// expires on its own, like Redis keys with TTLs, are not counted) goes in
/// batches, and every kind of durable record is purged.
pub async fn maintenance(store: &dyn Store, denylist_purged_here: bool) {
    let c = code("code-m", "client-a", 10_000);
    store.insert_code(&c).await.unwrap();
    assert!(matches!(store.redeem_code("code-m", "client-a", 100).await.unwrap(), Redemption::Redeemed(_)));
    assert!(store.record_issued("code-m", "jti-m", 2_000, Some(&refresh("rm", &c.grant_id, 100)), 100).await.unwrap());
    store.deny_access_token("old-jti", 50).await.unwrap();
    let purged = store.purge_expired(100_000, 1).await.unwrap();
    if denylist_purged_here {
        assert_eq!(purged.denylist, 1, "batch of one");
    }
    assert!(purged.refresh_tokens <= 1, "batch of one");
    let mut total = purged.total();
    loop {
        let p = store.purge_expired(100_000, 1_000).await.unwrap();
        if p.total() == 0 {
            break;
        }
        total += p.total();
    }
    assert!(total >= 1, "expired refresh tokens are purged: {total}");
    assert!(store.get_refresh_token("rm").await.unwrap().is_none());
}

/// `RateLimitStore`: hits count per bucket and per window.
pub async fn rate_limit_store(store: &dyn RateLimitStore) {
    assert_eq!(store.hit("login:alice", 60, 1_000).await.unwrap(), 1);
    assert_eq!(store.hit("login:alice", 60, 1_010).await.unwrap(), 2);
    assert_eq!(store.hit("login:bob", 60, 1_010).await.unwrap(), 1, "buckets are separate");
    assert_eq!(store.hit("login:alice", 60, 1_019).await.unwrap(), 3);
    // 1_000 lies in the window [960, 1_020); 1_020 starts the next one.
    assert_eq!(store.hit("login:alice", 60, 1_020).await.unwrap(), 1, "a new window starts from zero");
    assert_eq!(store.hit("login:alice", 60, 1_079).await.unwrap(), 2);
}

/// `FailureStore`: counts start, grow and end with their window; locks only
/// grow and keep their count alive; clearing forgets; keys are separate;
/// concurrent failures are all counted. `purged_here`: ended counts are
/// garbage-collected by `purge_expired` (not where they expire on their own).
pub async fn failure_store<S: FailureStore + Maintenance + Clone>(store: S, purged_here: bool) {
    let f = |count, locked_until, expires_at| Failures { count, locked_until, expires_at };
    assert_eq!(store.get_failures("account:a", 1_000).await.unwrap(), None);
    assert_eq!(store.add_failure("account:a", 1_000, 300).await.unwrap(), f(1, 0, 1_300));
    assert_eq!(store.add_failure("account:a", 1_100, 300).await.unwrap(), f(2, 0, 1_300), "the window stays");
    assert_eq!(store.add_failure("account:b", 1_100, 300).await.unwrap(), f(1, 0, 1_400), "keys are separate");
    assert_eq!(store.get_failures("account:a", 1_299).await.unwrap(), Some(f(2, 0, 1_300)));
    assert_eq!(store.get_failures("account:a", 1_300).await.unwrap(), None, "the count ended");
    assert_eq!(store.add_failure("account:a", 1_300, 300).await.unwrap(), f(1, 0, 1_600), "and starts over");

    // A lock only grows, and keeps its count alive past the window.
    store.lock_failures("account:a", 1_500).await.unwrap();
    assert_eq!(store.get_failures("account:a", 1_400).await.unwrap(), Some(f(1, 1_500, 1_600)));
    assert!(store.get_failures("account:a", 1_400).await.unwrap().unwrap().locked_at(1_499));
    assert!(!store.get_failures("account:a", 1_400).await.unwrap().unwrap().locked_at(1_500));
    store.lock_failures("account:a", 1_450).await.unwrap();
    assert_eq!(store.get_failures("account:a", 1_400).await.unwrap().unwrap().locked_until, 1_500, "not shortened");
    store.lock_failures("account:a", 1_900).await.unwrap();
    assert_eq!(store.add_failure("account:a", 1_700, 300).await.unwrap(), f(2, 1_900, 1_900), "counted while locked");
    assert_eq!(store.get_failures("account:a", 1_900).await.unwrap(), None, "the count ends with its lock");
    store.lock_failures("account:none", 5_000).await.unwrap();
    assert_eq!(store.get_failures("account:none", 1_000).await.unwrap(), None, "no count, no lock");

    // Clearing returns what was live, and forgets it.
    assert_eq!(store.clear_failures("account:b", 1_200).await.unwrap(), Some(f(1, 0, 1_400)));
    assert_eq!(store.get_failures("account:b", 1_200).await.unwrap(), None);
    assert_eq!(store.clear_failures("account:b", 1_200).await.unwrap(), None);
    store.add_failure("account:c", 1_000, 10).await.unwrap();
    assert_eq!(store.clear_failures("account:c", 2_000).await.unwrap(), None, "an ended count is not reported");

    // Concurrent failures are each counted once.
    let tasks = (0..20).map(|_| {
        let s = store.clone();
        async move { s.add_failure("address:203.0.113.7", 3_000, 600).await.unwrap().count }
    });
    let mut counts = join_all(tasks.collect()).await;
    counts.sort();
    assert_eq!(counts, (1..=20).collect::<Vec<u64>>());

    if purged_here {
        store.add_failure("account:old", 1_000, 60).await.unwrap();
        let purged = store.purge_expired(10_000, 1_000).await.unwrap();
        assert!(purged.rate_limits >= 1, "ended counts are purged: {purged:?}");
        assert_eq!(store.add_failure("account:old", 10_000, 60).await.unwrap(), f(1, 0, 10_060));
    }
}

/// `ChangeFeed`: sequence numbers rise by one, readers page through them, and
/// concurrent writers never produce a gap or a duplicate.
pub async fn change_feed<S: crate::ChangeFeed + Maintenance + Clone>(store: S) {
    use crate::ChangeKind;
    assert_eq!(store.latest_change().await.unwrap(), 0, "an empty feed");
    let first = store.record_change(ChangeKind::Client, "client-a", 1_000).await.unwrap();
    let second = store.record_change(ChangeKind::AccessTokens, "", 1_000).await.unwrap();
    assert_eq!(second, first + 1);
    assert_eq!(store.latest_change().await.unwrap(), second);
    let all = store.changes_after(0, 10).await.unwrap();
    assert_eq!(
        all,
        vec![
            crate::Change { seq: first, kind: ChangeKind::Client, subject: "client-a".into() },
            crate::Change { seq: second, kind: ChangeKind::AccessTokens, subject: String::new() },
        ]
    );
    assert_eq!(store.changes_after(first, 10).await.unwrap().len(), 1);
    assert_eq!(store.changes_after(0, 1).await.unwrap().len(), 1, "limit");

    let writers = (0..8)
        .map(|i| {
            let store = store.clone();
            async move { store.record_change(ChangeKind::User, &format!("user-{i}"), 2_000).await.unwrap() }
        })
        .collect();
    let mut seqs = join_all(writers).await;
    seqs.sort_unstable();
    assert_eq!(seqs, ((second + 1)..=(second + 8)).collect::<Vec<_>>(), "no gaps, no duplicates");

    // Entries older than an hour go; the newest sequence number stays known.
    let purged = store.purge_expired(1_000 + 3_601, 100).await.unwrap();
    assert_eq!(purged.changes, 2);
    assert_eq!(store.changes_after(0, 100).await.unwrap().len(), 8);
    assert_eq!(store.latest_change().await.unwrap(), second + 8);
}

/// `ReplayStore`: a key is accepted once until it expires, then again.
pub async fn replay_store(store: &dyn crate::ReplayStore) {
    assert!(store.first_use("client-a:jti-1", 1_060, 1_000).await.unwrap(), "first use");
    assert!(!store.first_use("client-a:jti-1", 1_060, 1_010).await.unwrap(), "replay");
    assert!(!store.first_use("client-a:jti-1", 1_090, 1_059).await.unwrap(), "replay, later expiry");
    assert!(store.first_use("client-b:jti-1", 1_060, 1_010).await.unwrap(), "another key");
    assert!(store.first_use("client-a:jti-1", 2_000, 1_061).await.unwrap(), "after expiry the record is gone");
    assert!(!store.first_use("client-a:jti-1", 2_000, 1_500).await.unwrap(), "and recorded again");
}

/// `AuditStore`: events come back in order, whole, and filtered.
pub async fn audit_store<S: crate::AuditStore + Clone>(store: S) {
    use latchkey_core::audit::AuditEvent;
    let login = AuditEvent::new(1_000, "login.success", "user:u1").subject("u1").client("c1").ip("192.0.2.1");
    let first = store.append_audit(&login).await.unwrap();
    let deleted = AuditEvent::new(1_001, "client.deleted", "cli").subject("c1").detail("reason", "test");
    let second = store.append_audit(&deleted).await.unwrap();
    assert_eq!(second, first + 1);
    let all = store.list_audit(&crate::AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(all, vec![(first, login.clone()), (second, deleted.clone())]);
    let after = store.list_audit(&crate::AuditQuery { after: first, limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(after, vec![(second, deleted.clone())]);
    let by_kind = crate::AuditQuery { limit: 10, kind: Some("login.success".into()), ..Default::default() };
    assert_eq!(store.list_audit(&by_kind).await.unwrap(), vec![(first, login.clone())]);
    let by_subject = crate::AuditQuery { limit: 10, subject: Some("c1".into()), ..Default::default() };
    assert_eq!(store.list_audit(&by_subject).await.unwrap(), vec![(second, deleted.clone())]);
    let one = crate::AuditQuery { limit: 1, ..Default::default() };
    assert_eq!(store.list_audit(&one).await.unwrap().len(), 1);
    let by_actor = crate::AuditQuery { limit: 10, actor: Some("cli".into()), ..Default::default() };
    assert_eq!(store.list_audit(&by_actor).await.unwrap(), vec![(second, deleted.clone())]);
    let by_client = crate::AuditQuery { limit: 10, client_id: Some("c1".into()), ..Default::default() };
    assert_eq!(store.list_audit(&by_client).await.unwrap(), vec![(first, login.clone())]);
    let in_time = crate::AuditQuery { limit: 10, since: Some(1_001), until: Some(1_002), ..Default::default() };
    assert_eq!(store.list_audit(&in_time).await.unwrap(), vec![(second, deleted.clone())]);
    let newest = crate::AuditQuery { limit: 1, newest_first: true, ..Default::default() };
    assert_eq!(store.list_audit(&newest).await.unwrap(), vec![(second, deleted.clone())]);
    let older = crate::AuditQuery { limit: 5, newest_first: true, before: Some(second), ..Default::default() };
    assert_eq!(store.list_audit(&older).await.unwrap(), vec![(first, login)]);

    let writers =
        (0..8)
            .map(|i| {
                let store = store.clone();
                async move {
                    store.append_audit(&AuditEvent::new(2_000, "login.failure", format!("user:{i}"))).await.unwrap()
                }
            })
            .collect();
    let mut ids = join_all(writers).await;
    ids.sort_unstable();
    assert_eq!(ids, ((second + 1)..=(second + 8)).collect::<Vec<_>>(), "no gaps, no duplicates");

    // Retention: older than 1_500 are the first two; a batch of one takes one.
    assert_eq!(store.delete_audit_before(1_500, 1).await.unwrap(), 1);
    assert_eq!(store.delete_audit_before(1_500, 100).await.unwrap(), 1);
    assert_eq!(store.delete_audit_before(1_500, 100).await.unwrap(), 0);
    let left = store.list_audit(&crate::AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(left.first().map(|e| e.0), Some(second + 1), "the oldest went first");
    // Even past retention, the newest stays: ids never start over.
    assert_eq!(store.delete_audit_before(10_000, 100).await.unwrap(), 7);
    let last = store.list_audit(&crate::AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    assert_eq!(last.len(), 1);
    let next = store.append_audit(&AuditEvent::new(3_000, "login.failure", "anonymous")).await.unwrap();
    assert_eq!(next, second + 9);
}

/// `AdminStore`: tokens found by hash only, listed, touched, revoked; client
/// and user listings paged by `(created_at, id)` with no row lost or repeated.
pub async fn admin_store<S: crate::AdminStore + ClientStore + UserStore>(store: &S) {
    use crate::AdminToken;
    assert!(store.list_admin_tokens().await.unwrap().is_empty());
    let token = AdminToken {
        id: "t-1".into(),
        name: "deploy bot".into(),
        token_hash: "hash-1".into(),
        scopes: vec!["clients:read".into(), "clients:write".into()],
        created_at: 1_000,
        expires_at: Some(2_000),
        last_used_at: None,
    };
    store.insert_admin_token(&token).await.unwrap();
    let forever = AdminToken { id: "t-2".into(), token_hash: "hash-2".into(), expires_at: None, ..token.clone() };
    store.insert_admin_token(&forever).await.unwrap();
    assert_eq!(store.find_admin_token("hash-1").await.unwrap(), Some(token.clone()));
    assert_eq!(store.find_admin_token("t-1").await.unwrap(), None, "found by hash, not by id");
    match store.insert_admin_token(&AdminToken { id: "t-3".into(), ..token.clone() }).await {
        Err(StoreError::Conflict(_)) => {}
        other => panic!("a duplicate hash must conflict, got {other:?}"),
    }
    store.touch_admin_token("t-1", 1_500).await.unwrap();
    assert_eq!(store.find_admin_token("hash-1").await.unwrap().unwrap().last_used_at, Some(1_500));
    let ids: Vec<_> = store.list_admin_tokens().await.unwrap().into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["t-1", "t-2"]);
    assert!(store.delete_admin_token("t-1").await.unwrap());
    assert!(!store.delete_admin_token("t-1").await.unwrap());
    assert_eq!(store.find_admin_token("hash-1").await.unwrap(), None);
    assert_eq!(store.find_admin_token("hash-2").await.unwrap(), Some(forever));

    // Five clients, two sharing a creation time: pages of two walk all five in order.
    let mut expected = Vec::new();
    for (i, at) in [(1, 10), (2, 20), (3, 20), (4, 30), (5, 40)] {
        let mut c = sample_client(&format!("c-{i}"));
        c.created_at = at;
        store.insert_client(&c).await.unwrap();
        expected.push(c.client_id.clone());
        let mut u = sample_user(&format!("u-{i}"), &format!("user{i}"));
        u.created_at = at;
        store.insert_user(&u).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = store.list_clients_page(after.as_ref().map(|(t, id)| (*t, id.as_str())), 2).await.unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|c| c.client_id.clone()));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some((last.created_at, last.client_id.clone())),
            _ => break,
        }
    }
    assert_eq!(seen, expected);
    let mut users = Vec::new();
    let mut after: Option<(i64, String)> = None;
    loop {
        let page = store.list_users_page(after.as_ref().map(|(t, id)| (*t, id.as_str())), 3).await.unwrap();
        users.extend(page.iter().map(|u| u.id.clone()));
        match page.last() {
            Some(last) if page.len() == 3 => after = Some((last.created_at, last.id.clone())),
            _ => break,
        }
    }
    assert_eq!(users, ["u-1", "u-2", "u-3", "u-4", "u-5"]);
}

/// `FederatedIdentityStore`: one link per upstream account, listed per user.
pub async fn federated_identity_store(store: &dyn crate::FederatedIdentityStore) {
    use crate::{FederatedIdentity, StoreError};
    let link = |issuer: &str, subject: &str, user: &str, at: i64| FederatedIdentity {
        issuer: issuer.into(),
        subject: subject.into(),
        user_id: user.into(),
        provider: "corp".into(),
        linked_at: at,
        provisioned: at == 100,
    };
    assert_eq!(store.find_identity("https://idp.example", "s1").await.unwrap(), None);
    store.link_identity(&link("https://idp.example", "s1", "u1", 100)).await.unwrap();
    store.link_identity(&link("https://other.example", "s1", "u1", 200)).await.unwrap();
    store.link_identity(&link("https://idp.example", "s2", "u2", 300)).await.unwrap();
    assert!(
        matches!(
            store.link_identity(&link("https://idp.example", "s1", "u2", 400)).await,
            Err(StoreError::Conflict(_))
        ),
        "an upstream account links to one local account"
    );
    let found = store.find_identity("https://idp.example", "s1").await.unwrap().unwrap();
    assert_eq!(found, link("https://idp.example", "s1", "u1", 100));
    assert!(found.provisioned);
    assert!(!store.find_identity("https://other.example", "s1").await.unwrap().unwrap().provisioned);
    let issuers: Vec<_> = store.list_user_identities("u1").await.unwrap().into_iter().map(|l| l.issuer).collect();
    assert_eq!(issuers, ["https://idp.example", "https://other.example"]);
    assert!(!store.unlink_identity("u2", "https://idp.example", "s1").await.unwrap(), "not u2's link");
    assert!(store.unlink_identity("u1", "https://idp.example", "s1").await.unwrap());
    assert_eq!(store.find_identity("https://idp.example", "s1").await.unwrap(), None);
    assert_eq!(store.list_user_identities("u1").await.unwrap().len(), 1);
}

/// `FactorStore`: a pending TOTP factor until confirmed (and never replacing
/// an active one), each time step used once even under concurrency, later
/// steps only; recovery codes replaced as a set and spent once each.
pub async fn factor_store(store: &dyn crate::FactorStore) {
    assert_eq!(store.get_totp("u1").await.unwrap(), None);
    assert!(!store.use_totp_step("u1", 10, 300).await.unwrap(), "no factor");
    assert!(store.put_pending_totp("u1", "secret-a", 100).await.unwrap());
    assert!(!store.use_totp_step("u1", 10, 300).await.unwrap(), "a pending factor accepts no code");
    assert!(store.put_pending_totp("u1", "secret-b", 200).await.unwrap(), "a pending factor is replaced");
    assert!(!store.confirm_totp("u1", "secret-a", 6, 210).await.unwrap(), "enrollment was restarted");
    let pending = store.get_totp("u1").await.unwrap().unwrap();
    assert_eq!((pending.secret.as_str(), pending.created_at, pending.confirmed_at), ("secret-b", 200, None));
    assert!(store.confirm_totp("u1", "secret-b", 7, 215).await.unwrap());
    assert!(!store.confirm_totp("u1", "secret-b", 7, 215).await.unwrap(), "confirmed once");
    let active = store.get_totp("u1").await.unwrap().unwrap();
    assert_eq!(
        active,
        crate::TotpFactor {
            user_id: "u1".into(),
            secret: "secret-b".into(),
            created_at: 200,
            confirmed_at: Some(215),
            last_step: Some(7),
            last_used_at: Some(215),
        }
    );
    assert!(!store.put_pending_totp("u1", "secret-c", 220).await.unwrap(), "an active factor stays");
    assert_eq!(store.get_totp("u1").await.unwrap().unwrap().secret, "secret-b");

    assert!(!store.use_totp_step("u1", 7, 230).await.unwrap(), "the confirming code's step is used");
    assert!(!store.use_totp_step("u1", 6, 230).await.unwrap(), "an earlier step");
    let racers = (0..8).map(|_| store.use_totp_step("u1", 8, 240)).collect();
    let won = join_all(racers).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1, "one winner for one step");
    let after = store.get_totp("u1").await.unwrap().unwrap();
    assert_eq!((after.last_step, after.last_used_at), (Some(8), Some(240)));
    assert!(!store.use_totp_step("u2", 9, 240).await.unwrap(), "another person has none");

    assert!(store.delete_totp("u1").await.unwrap());
    assert!(!store.delete_totp("u1").await.unwrap());
    assert_eq!(store.get_totp("u1").await.unwrap(), None);
    assert!(store.put_pending_totp("u1", "secret-d", 300).await.unwrap(), "enrolls again after removal");
    assert_eq!(store.get_totp("u1").await.unwrap().unwrap().last_step, None);

    assert_eq!(store.get_recovery_codes_left("u1").await.unwrap(), 0);
    let first: Vec<String> = (0..10).map(|i| format!("hash-{i}")).collect();
    store.replace_recovery_codes("u1", &first, 100).await.unwrap();
    store.replace_recovery_codes("u2", &["hash-0".to_string()], 100).await.unwrap();
    assert_eq!(store.get_recovery_codes_left("u1").await.unwrap(), 10);
    let racers = (0..8).map(|_| store.use_recovery_code("u1", "hash-3")).collect();
    let won = join_all(racers).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1, "a recovery code is spent once");
    assert!(!store.use_recovery_code("u1", "hash-x").await.unwrap());
    assert!(!store.use_recovery_code("u2", "hash-1").await.unwrap(), "not u2's code");
    assert_eq!(store.get_recovery_codes_left("u1").await.unwrap(), 9);
    let second: Vec<String> = (0..10).map(|i| format!("new-{i}")).collect();
    store.replace_recovery_codes("u1", &second, 200).await.unwrap();
    assert_eq!(store.get_recovery_codes_left("u1").await.unwrap(), 10);
    assert!(!store.use_recovery_code("u1", "hash-4").await.unwrap(), "old codes are gone");
    assert!(store.use_recovery_code("u1", "new-4").await.unwrap());
    assert_eq!(store.delete_recovery_codes("u1").await.unwrap(), 9);
    assert_eq!(store.get_recovery_codes_left("u1").await.unwrap(), 0);
    assert_eq!(store.get_recovery_codes_left("u2").await.unwrap(), 1, "u2 untouched");
}

/// `FactorStore`'s passkeys: any number per person, listed oldest first,
/// each credential id registered once; a use recorded only when the counter
/// rises (or stays 0 on an authenticator without one), once under races;
/// ceremonies taken once and not after they expire.
pub async fn passkey_store(store: &dyn crate::FactorStore) {
    let key = |id: &str, user: &str, created_at: i64| crate::StoredPasskey {
        credential_id: id.into(),
        user_id: user.into(),
        name: format!("key {id}"),
        data: format!("data-{id}"),
        sign_count: 0,
        created_at,
        last_used_at: None,
    };
    assert!(store.list_passkeys("u1").await.unwrap().is_empty());
    store.add_passkey(&key("c2", "u1", 200)).await.unwrap();
    store.add_passkey(&key("c1", "u1", 100)).await.unwrap();
    store.add_passkey(&key("c3", "u2", 100)).await.unwrap();
    assert!(
        matches!(store.add_passkey(&key("c1", "u2", 300)).await, Err(StoreError::Conflict(_))),
        "a credential belongs to one person"
    );
    let ids: Vec<_> = store.list_passkeys("u1").await.unwrap().into_iter().map(|p| p.credential_id).collect();
    assert_eq!(ids, ["c1", "c2"]);
    assert_eq!(store.get_passkey("c1").await.unwrap(), Some(key("c1", "u1", 100)));
    assert_eq!(store.get_passkey("cx").await.unwrap(), None);

    // An authenticator without a counter: 0 each time.
    assert!(store.use_passkey("c1", "data-c1-b", 0, 150).await.unwrap());
    let used = store.get_passkey("c1").await.unwrap().unwrap();
    assert_eq!((used.data.as_str(), used.sign_count, used.last_used_at), ("data-c1-b", 0, Some(150)));
    // One that counts: only a rising counter, and one winner per value.
    let racers = (0..8).map(|_| store.use_passkey("c2", "data-c2-b", 5, 250)).collect();
    let won = join_all(racers).await.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(won, 1, "one winner for one counter value");
    assert!(!store.use_passkey("c2", "data-c2-c", 5, 260).await.unwrap(), "a counter that did not rise");
    assert!(!store.use_passkey("c2", "data-c2-c", 0, 260).await.unwrap(), "a counter gone back to 0");
    assert!(store.use_passkey("c2", "data-c2-c", 6, 270).await.unwrap());
    assert_eq!(store.get_passkey("c2").await.unwrap().unwrap().sign_count, 6);
    assert!(!store.use_passkey("cx", "data", 1, 270).await.unwrap(), "no such passkey");

    assert!(!store.delete_passkey("u2", "c1").await.unwrap(), "not u2's passkey");
    assert!(store.delete_passkey("u1", "c1").await.unwrap());
    assert!(!store.delete_passkey("u1", "c1").await.unwrap());
    store.add_passkey(&key("c4", "u1", 300)).await.unwrap();
    assert_eq!(store.delete_passkeys("u1").await.unwrap(), 2);
    assert!(store.list_passkeys("u1").await.unwrap().is_empty());
    assert_eq!(store.list_passkeys("u2").await.unwrap().len(), 1, "u2 untouched");

    let ceremony = |id: &str, expires_at: i64| crate::PasskeyCeremony {
        id_hash: id.into(),
        binding: format!("login:{id}"),
        state: "{}".into(),
        expires_at,
    };
    store.put_passkey_ceremony(&ceremony("h1", 500)).await.unwrap();
    store.put_passkey_ceremony(&ceremony("h2", 500)).await.unwrap();
    let racers = (0..8).map(|_| store.take_passkey_ceremony("h1", 400)).collect();
    let taken: Vec<_> = join_all(racers).await.into_iter().filter_map(|r| r.unwrap()).collect();
    assert_eq!(taken, [ceremony("h1", 500)], "taken once");
    assert_eq!(store.take_passkey_ceremony("h2", 500).await.unwrap(), None, "expired");
    assert_eq!(store.take_passkey_ceremony("h2", 400).await.unwrap(), None, "an expired one is gone");
}

/// The outbox: due order, claims with a lease (one claimer per row, even
/// under concurrency), only the lease holder deletes or reschedules.
pub async fn outbox_store<S: crate::OutboxStore + Clone>(store: S) {
    use crate::OutboxEmail;
    let email = |id: &str, due: i64| OutboxEmail {
        id: id.into(),
        recipient: "ann@example.com".into(),
        subject: format!("Subject {id}"),
        text_body: "text".into(),
        html_body: "<p>html</p>".into(),
        attempts: 0,
        next_attempt_at: due,
        lease: String::new(),
        last_error: String::new(),
        created_at: 100,
    };
    assert_eq!(store.claim_email("l0", 100, 200).await.unwrap(), None, "empty outbox");
    store.enqueue_email(&email("b", 120)).await.unwrap();
    store.enqueue_email(&email("a", 110)).await.unwrap();
    store.enqueue_email(&email("later", 10_000)).await.unwrap();
    assert_eq!(store.count_outbox().await.unwrap(), 3);
    assert_eq!(store.claim_email("l1", 105, 300).await.unwrap(), None, "nothing due yet");
    let first = store.claim_email("l1", 130, 300).await.unwrap().expect("a is due");
    assert_eq!((first.id.as_str(), first.attempts, first.lease.as_str()), ("a", 1, "l1"));
    assert_eq!(first.subject, "Subject a");
    let second = store.claim_email("l2", 130, 300).await.unwrap().expect("b is due");
    assert_eq!(second.id, "b");
    assert_eq!(store.claim_email("l3", 130, 300).await.unwrap(), None, "both are leased");
    assert!(!store.delete_email("a", "l2").await.unwrap(), "another lease");
    assert!(!store.reschedule_email("a", "l2", 500, "x").await.unwrap(), "another lease");
    assert!(store.delete_email("a", "l1").await.unwrap());
    assert!(store.reschedule_email("b", "l2", 400, "connection refused").await.unwrap());
    assert_eq!(store.claim_email("l4", 350, 600).await.unwrap(), None, "b waits until 400");
    let again = store.claim_email("l4", 400, 600).await.unwrap().expect("b is due again");
    assert_eq!((again.attempts, again.last_error.as_str()), (2, "connection refused"));
    // A lease that ran out (its sender died) lets another sender take it.
    let taken = store.claim_email("l5", 600, 900).await.unwrap().expect("the lease ended");
    assert_eq!((taken.id.as_str(), taken.attempts), ("b", 3));
    assert!(!store.delete_email("b", "l4").await.unwrap(), "the old lease no longer holds");
    assert!(store.delete_email("b", "l5").await.unwrap());

    // Of concurrent senders, one claims the row.
    store.enqueue_email(&email("race", 100)).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let s = store.clone();
        tasks.push(async move { s.claim_email(&format!("race-{i}"), 200, 900).await.unwrap() });
    }
    let claimed: Vec<_> = join_all(tasks).await.into_iter().flatten().collect();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    assert_eq!(claimed[0].id, "race");
    assert_eq!(store.count_outbox().await.unwrap(), 2);
}

/// Email links: one per person and purpose, looked at without spending,
/// spent once, never after expiry.
pub async fn email_token_store<S: crate::EmailTokenStore + Clone>(store: S) {
    use crate::EmailToken;
    let token = |hash: &str, purpose: &str, expires_at: i64| EmailToken {
        token_hash: hash.into(),
        purpose: purpose.into(),
        user_id: "u1".into(),
        email: "ann@example.com".into(),
        created_at: 100,
        expires_at,
    };
    store.put_email_token(&token("h1", "reset", 1_000)).await.unwrap();
    store.put_email_token(&token("v1", "verify", 1_000)).await.unwrap();
    assert_eq!(store.get_email_token("h1", "reset", 200).await.unwrap(), Some(token("h1", "reset", 1_000)));
    assert_eq!(store.get_email_token("h1", "verify", 200).await.unwrap(), None, "another purpose");
    assert_eq!(store.get_email_token("h1", "reset", 1_000).await.unwrap(), None, "expired");
    // A new link replaces the person's previous one of that purpose only.
    store.put_email_token(&token("h2", "reset", 2_000)).await.unwrap();
    assert_eq!(store.take_email_token("h1", "reset", 200).await.unwrap(), None, "replaced");
    assert!(store.get_email_token("v1", "verify", 200).await.unwrap().is_some(), "the other purpose stays");
    assert_eq!(store.take_email_token("h2", "reset", 2_000).await.unwrap(), None, "expired");
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let s = store.clone();
        tasks.push(async move { s.take_email_token("h2", "reset", 300).await.unwrap() });
    }
    let taken: Vec<_> = join_all(tasks).await.into_iter().flatten().collect();
    assert_eq!(taken.len(), 1, "spent once");
    assert_eq!(store.take_email_token("h2", "reset", 300).await.unwrap(), None, "already spent");
}

/// Invitations are listed, found by their token's hash while good, spent
/// once however many race, revoked by id, and purged a while after they
/// expire; the sign-up mark comes and goes.
pub async fn signup_store<S: crate::SignupStore + Maintenance + Clone>(store: S) {
    use crate::Invitation;
    let invitation = |id: &str, hash: &str, expires_at: i64| Invitation {
        id: id.into(),
        token_hash: hash.into(),
        email: format!("{id}@example.com"),
        groups: vec!["staff".into(), "beta".into()],
        created_by: "cli".into(),
        created_at: 100,
        expires_at,
        // A chosen language comes back as stored.
        locale: if id == "i1" { "de".into() } else { String::new() },
    };
    store.insert_invitation(&invitation("i1", "h1", 1_000)).await.unwrap();
    store.insert_invitation(&invitation("i2", "h2", 1_000)).await.unwrap();
    store.insert_invitation(&invitation("i3", "h3", 150)).await.unwrap();
    let listed = store.list_invitations().await.unwrap();
    assert_eq!(listed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["i1", "i2", "i3"], "expired ones listed too");
    assert_eq!(store.get_invitation("h1", 200).await.unwrap(), Some(invitation("i1", "h1", 1_000)));
    assert_eq!(store.get_invitation("h3", 200).await.unwrap(), None, "expired");
    assert_eq!(store.take_invitation("h3", 200).await.unwrap(), None, "expired");
    assert_eq!(store.get_invitation("nope", 200).await.unwrap(), None);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let s = store.clone();
        tasks.push(async move { s.take_invitation("h1", 300).await.unwrap() });
    }
    let taken: Vec<_> = join_all(tasks).await.into_iter().flatten().collect();
    assert_eq!(taken, vec![invitation("i1", "h1", 1_000)], "spent once");
    assert_eq!(store.get_invitation("h1", 300).await.unwrap(), None, "spent");
    assert!(store.delete_invitation("i2").await.unwrap());
    assert!(!store.delete_invitation("i2").await.unwrap(), "already revoked");
    assert_eq!(store.take_invitation("h2", 300).await.unwrap(), None, "revoked");
    assert!(store.delete_invitation("i3").await.unwrap());
    assert!(store.list_invitations().await.unwrap().is_empty());

    // An expired invitation stays listed for a while, then is purged; a good one stays.
    store.insert_invitation(&invitation("i4", "h4", 1_000)).await.unwrap();
    store.insert_invitation(&invitation("i5", "h5", 9_000_000)).await.unwrap();
    let kept = 1_000 + crate::EXPIRED_INVITATIONS_KEPT_SECONDS;
    assert_eq!(store.purge_expired(kept - 1, 100).await.unwrap().invitations, 0);
    assert_eq!(store.list_invitations().await.unwrap().len(), 2, "listed as expired");
    assert_eq!(store.purge_expired(kept + 1, 100).await.unwrap().invitations, 1);
    let listed = store.list_invitations().await.unwrap();
    assert_eq!(listed.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["i5"]);
    assert!(store.delete_invitation("i5").await.unwrap());

    assert!(!store.is_unverified_signup("u1").await.unwrap());
    store.mark_unverified_signup("u1", 100).await.unwrap();
    store.mark_unverified_signup("u1", 200).await.unwrap();
    assert!(store.is_unverified_signup("u1").await.unwrap());
    assert!(!store.is_unverified_signup("u2").await.unwrap());
    assert!(store.clear_unverified_signup("u1").await.unwrap());
    assert!(!store.clear_unverified_signup("u1").await.unwrap());
    assert!(!store.is_unverified_signup("u1").await.unwrap());
}

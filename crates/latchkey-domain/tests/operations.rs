//! The domain operations on a real store (SQLite in a temporary directory):
//! what each one leaves behind.

use std::sync::Arc;
use std::time::Duration;

use latchkey_core::grant::{Authentication, AuthorizationCode, RefreshToken, Session};
use latchkey_core::{Scope, SystemClock};
use latchkey_domain::consents::revoke_consent;
use latchkey_domain::{BackchannelNotifier, EndRevokes, end_session};
use latchkey_keys::{KeyRing, KeySet};
use latchkey_store::cascade::Revocations;
use latchkey_store::{Redemption, Store};
use latchkey_store_sql::SqlStore;

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = SqlStore::connect(&url, 4, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), dir)
}

fn notifier(store: &Arc<dyn Store>) -> BackchannelNotifier {
    BackchannelNotifier::new(
        "https://id.example".into(),
        store.clone(),
        Arc::new(KeyRing::new(KeySet::empty())),
        Arc::new(SystemClock),
    )
}

fn auth(user: &str, sid: &str) -> Authentication {
    Authentication {
        user_id: user.into(),
        auth_time: 1_000,
        amr: vec!["pwd".into()],
        acr: "urn:latchkey:acr:password".into(),
        sid: sid.into(),
    }
}

fn session(id_hash: &str, sid: &str) -> Session {
    Session {
        id_hash: id_hash.into(),
        auth: auth("u1", sid),
        created_at: 1_000,
        expires_at: 100_000,
        last_seen_at: 1_000,
        client_ids: vec![],
    }
}

/// Redeems a code `client` received for `user` in session `sid`, and
/// records an access token (`j-{code_hash}`) and, if `offline` is given, a
/// refresh token (`rt-{code_hash}`) for it.
async fn issue(store: &dyn Store, code_hash: &str, user: &str, client: &str, sid: &str, offline: Option<bool>) {
    let code = AuthorizationCode {
        code_hash: code_hash.into(),
        client_id: client.into(),
        grant_id: format!("grant-{code_hash}"),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_sent: true,
        scope: Scope::parse("openid offline_access").unwrap(),
        nonce: None,
        code_challenge: None,
        auth: auth(user, sid),
        created_at: 1_000,
        expires_at: 1_600,
        device: false,
        claims: Default::default(),
        dpop_jkt: None,
    };
    store.insert_code(&code).await.unwrap();
    assert!(matches!(store.redeem_code(code_hash, client, 1_100).await.unwrap(), Redemption::Redeemed(_)));
    let refresh = offline.map(|offline| RefreshToken {
        token_hash: format!("rt-{code_hash}"),
        grant_id: code.grant_id.clone(),
        client_id: client.into(),
        scope: code.scope.clone(),
        auth: code.auth.clone(),
        dpop_jkt: None,
        offline,
        created_at: 1_100,
        expires_at: 50_000,
        family_expires_at: 90_000,
        claims: Default::default(),
    });
    let jti = format!("j-{code_hash}");
    assert!(store.record_issued(code_hash, &jti, 5_000, refresh.as_ref(), 1_100).await.unwrap());
}

async fn revoked(store: &dyn Store, token_hash: &str) -> bool {
    store.get_refresh_token(token_hash).await.unwrap().expect("stored").revoked_at.is_some()
}

#[tokio::test]
async fn ending_a_session_revokes_what_end_revokes_says() {
    let (store, _dir) = store().await;
    let notifier = notifier(&store);
    for (n, end_revokes, bound_revoked, offline_revoked) in [
        (1, EndRevokes::Nothing, false, false),
        (2, EndRevokes::SessionBound, true, false),
        (3, EndRevokes::All, true, true),
    ] {
        let (id_hash, sid) = (format!("h{n}"), format!("sid-{n}"));
        store.insert_session(&session(&id_hash, &sid)).await.unwrap();
        issue(&*store, &format!("bound-{n}"), "u1", "app", &sid, Some(false)).await;
        issue(&*store, &format!("offline-{n}"), "u1", "app", &sid, Some(true)).await;

        let ended = end_session(&*store, &notifier, end_revokes, &id_hash, 2_000).await.unwrap().expect("ended");
        assert_eq!(ended.session.auth.sid, sid);
        ended.delivery.await.unwrap();
        assert_eq!(store.get_session(&id_hash, 2_000).await.unwrap(), None, "{end_revokes:?}: the session is gone");
        assert_eq!(revoked(&*store, &format!("rt-bound-{n}")).await, bound_revoked, "{end_revokes:?}");
        assert_eq!(revoked(&*store, &format!("rt-offline-{n}")).await, offline_revoked, "{end_revokes:?}");
        assert_eq!(store.is_access_token_denied(&format!("j-bound-{n}")).await.unwrap(), bound_revoked);
        assert!(
            end_session(&*store, &notifier, end_revokes, &id_hash, 2_001).await.unwrap().is_none(),
            "a session ends once"
        );
    }
}

#[tokio::test]
async fn revoking_consent_takes_the_apps_grants_for_that_person_only() {
    let (store, _dir) = store().await;
    let scope = Scope::parse("openid").unwrap();
    store.put_consent("u1", "app", &scope, 1_000).await.unwrap();
    store.put_consent("u1", "other-app", &scope, 1_000).await.unwrap();
    issue(&*store, "c1", "u1", "app", "sid-a", Some(true)).await;
    issue(&*store, "c2", "u1", "app", "sid-a", None).await;
    issue(&*store, "c3", "u2", "app", "sid-b", Some(true)).await;
    issue(&*store, "c4", "u1", "other-app", "sid-a", Some(true)).await;

    let found = revoke_consent(&*store, "u1", "app", 2_000).await.unwrap();
    assert!(found.had_consent);
    assert_eq!(found.families, 1);
    assert!(found.found_anything());
    assert_eq!(store.get_consent("u1", "app").await.unwrap(), None);
    assert!(store.get_consent("u1", "other-app").await.unwrap().is_some());
    assert!(revoked(&*store, "rt-c1").await);
    assert!(store.is_access_token_denied("j-c1").await.unwrap());
    assert!(store.is_access_token_denied("j-c2").await.unwrap(), "a code's access token without refresh goes too");
    assert!(!revoked(&*store, "rt-c3").await, "another person's grant stays");
    assert!(!revoked(&*store, "rt-c4").await, "another app's grant stays");

    let again = revoke_consent(&*store, "u1", "app", 2_001).await.unwrap();
    assert!(!again.found_anything(), "nothing left to revoke: {again:?}");
}

fn user(id: &str, username: &str) -> latchkey_core::User {
    latchkey_core::User {
        id: id.into(),
        username: username.into(),
        password_hash: None,
        disabled: false,
        claims: Default::default(),
        created_at: 1_000,
        updated_at: 1_000,
    }
}

fn identity(subject: &str, user_id: &str) -> latchkey_store::FederatedIdentity {
    latchkey_store::FederatedIdentity {
        issuer: "https://upstream.example".into(),
        subject: subject.into(),
        user_id: user_id.into(),
        provider: "upstream".into(),
        linked_at: 1_000,
        provisioned: true,
    }
}

#[tokio::test]
async fn provisioning_creates_and_links_together_or_not_at_all() {
    use latchkey_domain::accounts::{ProvisionError, Provisioned, provision};
    let (store, _dir) = store().await;

    let created = provision(&*store, user("u-ann", "ann"), &identity("sub-ann", "u-ann")).await.unwrap();
    assert!(matches!(created, Provisioned::Created(ref u) if u.id == "u-ann"), "{created:?}");
    assert_eq!(store.find_identity("https://upstream.example", "sub-ann").await.unwrap().unwrap().user_id, "u-ann");

    // The upstream account was linked meanwhile (a concurrent first
    // sign-in): its account is used, and the new one is not left behind.
    let winner = provision(&*store, user("u-ann-2", "ann2"), &identity("sub-ann", "u-ann-2")).await.unwrap();
    assert!(matches!(winner, Provisioned::Existing(ref u) if u.id == "u-ann"), "{winner:?}");
    assert_eq!(store.get_user("u-ann-2").await.unwrap(), None, "no orphan account");
    assert_eq!(store.find_user_by_username("ann2").await.unwrap(), None, "no orphan account");

    // A username another account has: nothing is created or linked.
    let taken = provision(&*store, user("u-bob", "ann"), &identity("sub-bob", "u-bob")).await;
    assert!(matches!(taken, Err(ProvisionError::UsernameTaken)), "{taken:?}");
    assert_eq!(store.get_user("u-bob").await.unwrap(), None);
    assert_eq!(store.find_identity("https://upstream.example", "sub-bob").await.unwrap(), None);
}

#[tokio::test]
async fn linking_refuses_an_upstream_account_linked_elsewhere() {
    use latchkey_domain::accounts::{Linked, link};
    let (store, _dir) = store().await;
    store.insert_user(&user("u1", "ann")).await.unwrap();
    store.insert_user(&user("u2", "bob")).await.unwrap();
    assert_eq!(link(&*store, &identity("sub-1", "u1")).await.unwrap(), Linked::Linked);
    assert_eq!(link(&*store, &identity("sub-1", "u1")).await.unwrap(), Linked::AlreadyLinked);
    assert_eq!(link(&*store, &identity("sub-1", "u2")).await.unwrap(), Linked::LinkedElsewhere);
    assert_eq!(store.list_user_identities("u2").await.unwrap(), vec![]);
}

#[tokio::test]
async fn a_password_sign_in_is_checked_within_the_limits() {
    use latchkey_core::lockout::LockPolicy;
    use latchkey_core::{Clock, MockClock};
    use latchkey_domain::limits::Limit;
    use latchkey_domain::sign_in::{PasswordCheck, SignIn, check_password};
    let (store, _dir) = store().await;
    let mut ann = user("u-ann", "ann");
    ann.password_hash = Some(latchkey_core::password::hash("correct horse battery").unwrap());
    store.insert_user(&ann).await.unwrap();
    let clock = MockClock::new(10_000);
    let limits = LockPolicy {
        max_failures: 2,
        max_failures_per_address: 0,
        window_seconds: 600,
        lock_seconds: 60,
        max_lock_seconds: 600,
    };
    let sign_in = SignIn { users: &*store, failures: &*store, factors: &*store, audit: &*store, clock: &clock, limits };
    let ip = "192.0.2.7".parse().unwrap();

    let ok = check_password(&sign_in, "ann", "correct horse battery", Some("app"), ip).await.unwrap();
    assert!(matches!(ok, PasswordCheck::Accepted(ref u, _) if u.id == "u-ann"));
    for _ in 0..2 {
        let wrong = check_password(&sign_in, "ann", "wrong", Some("app"), ip).await.unwrap();
        assert!(matches!(wrong, PasswordCheck::Refused));
    }
    // Locked: even the right password is refused without a check, until the lock ends.
    match check_password(&sign_in, "ann", "correct horse battery", Some("app"), ip).await.unwrap() {
        PasswordCheck::Throttled(refusal) => {
            assert_eq!(refusal.limit, Limit::Account);
            assert!(refusal.retry_after(clock.now()) >= 60);
        }
        _ => panic!("a locked account is refused"),
    }
    let failures = store.list_audit(&latchkey_store::AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    assert!(failures.iter().any(|(_, e)| e.kind == "login.failure"), "failures reach the audit log");
    assert!(failures.iter().any(|(_, e)| e.kind == "login.locked"), "the lock reaches the audit log");
}

#[tokio::test]
async fn a_consent_grows_with_each_grant() {
    use latchkey_domain::consents::grant_consent;
    let (store, _dir) = store().await;
    let first = grant_consent(&*store, "u1", "app", &Scope::parse("openid email").unwrap(), 1_000).await.unwrap();
    assert_eq!(first.to_string(), Scope::parse("openid email").unwrap().to_string());
    let second = grant_consent(&*store, "u1", "app", &Scope::parse("openid profile").unwrap(), 2_000).await.unwrap();
    assert_eq!(second.to_string(), Scope::parse("openid email profile").unwrap().to_string());
    let stored = store.get_consent("u1", "app").await.unwrap().expect("granted");
    assert_eq!(stored.scope.to_string(), second.to_string());
    assert_eq!((stored.granted_at, stored.updated_at), (1_000, 2_000));
}

#[tokio::test]
async fn creating_saving_and_deleting_a_user() {
    use latchkey_core::{UserClaims, password};
    use latchkey_domain::accounts::{Linked, link};
    use latchkey_domain::users::{NewUser, UserError, create_user, delete_user, save_user, set_disabled, set_password};
    let (store, _dir) = store().await;
    let new = |username: &str, password: Option<&str>| NewUser {
        username: username.into(),
        password: password.map(str::to_string),
        disabled: false,
        claims: UserClaims { email: Some("ann@example.com".into()), ..UserClaims::default() },
    };

    // Created with a fresh subject and the password hashed, never kept in clear.
    let mut ann = create_user(&*store, new("ann", Some("correct horse battery")), 1_000).await.unwrap();
    let stored = store.get_user(&ann.id).await.unwrap().expect("stored");
    assert_eq!(stored, ann);
    let hash = stored.password_hash.clone().expect("a password");
    assert_ne!(hash, "correct horse battery");
    assert!(password::verify("correct horse battery", &hash));
    assert_eq!((stored.created_at, stored.updated_at), (1_000, 1_000));

    // A username taken (in any case) or a password the policy refuses: nothing is created.
    assert!(matches!(create_user(&*store, new("ANN", None), 1_001).await, Err(UserError::Taken(u)) if u == "ANN"));
    assert!(matches!(create_user(&*store, new("bob", Some("short")), 1_001).await, Err(UserError::Policy(_))));
    assert_eq!(store.find_user_by_username("bob").await.unwrap(), None);
    let mut bob = create_user(&*store, new("bob", None), 1_002).await.unwrap();
    assert_eq!(bob.password_hash, None);

    // Saving: stamped, a taken username refused; passwords and the disabled flag kept.
    set_password(&*store, &mut bob, "another fine password".into(), 1_010).await.unwrap();
    set_disabled(&*store, &mut bob, true, 1_011).await.unwrap();
    let stored = store.get_user(&bob.id).await.unwrap().unwrap();
    assert!(stored.disabled);
    assert_eq!(stored.updated_at, 1_011);
    assert!(password::verify("another fine password", stored.password_hash.as_deref().unwrap()));
    assert!(matches!(set_password(&*store, &mut bob, "short".into(), 1_012).await, Err(UserError::Policy(_))));
    bob.username = "ann".into();
    assert!(matches!(save_user(&*store, &mut bob, 1_013).await, Err(UserError::Taken(_))));
    assert_eq!(store.get_user(&bob.id).await.unwrap().unwrap().username, "bob");

    // Deleting takes the account's upstream links with it; a gone user is not found.
    assert_eq!(link(&*store, &identity("sub-ann", &ann.id)).await.unwrap(), Linked::Linked);
    assert!(delete_user(&*store, &ann.id).await.unwrap());
    assert!(!delete_user(&*store, &ann.id).await.unwrap(), "deleted once");
    assert_eq!(store.get_user(&ann.id).await.unwrap(), None);
    assert_eq!(store.find_identity("https://upstream.example", "sub-ann").await.unwrap(), None);
    assert!(matches!(save_user(&*store, &mut ann, 1_020).await, Err(UserError::NotFound(u)) if u == "ann"));
}

#[tokio::test]
async fn a_replayed_code_a_rotation_and_a_revoked_family() {
    use latchkey_domain::tokens::{redeem_code, revoke_family, revoke_replayed_code, rotate_refresh_token};
    use latchkey_store::Rotation;
    let (store, _dir) = store().await;

    // A code redeemed once comes back: it is refused, and what it got is revoked.
    issue(&*store, "c1", "u1", "app", "sid-1", Some(true)).await;
    assert!(matches!(redeem_code(&*store, "c1", "app", 1_200).await.unwrap(), Redemption::AlreadyUsed(_)));
    revoke_replayed_code(&*store, "c1", 1_200).await.unwrap();
    assert!(revoked(&*store, "rt-c1").await, "the family of a replayed code is revoked");
    assert!(store.is_access_token_denied("j-c1").await.unwrap(), "its access token is denied");

    // A rotation is won once; revoking the family takes the successor and its access token.
    issue(&*store, "c2", "u1", "app", "sid-1", Some(true)).await;
    let old = store.get_refresh_token("rt-c2").await.unwrap().expect("stored").token;
    let successor = RefreshToken { token_hash: "rt-c2-next".into(), created_at: 1_300, ..old.clone() };
    let rotation =
        Rotation { successor: &successor, successor_sealed: "sealed", access_jti: "j-c2-next", access_exp: 5_000 };
    assert!(rotate_refresh_token(&*store, "rt-c2", "app", 1_300, rotation).await.unwrap());
    assert!(!rotate_refresh_token(&*store, "rt-c2", "app", 1_301, rotation).await.unwrap(), "rotated once");
    assert!(!revoked(&*store, "rt-c2-next").await);
    assert_eq!(revoke_family(&*store, &old.grant_id, 1_400).await.unwrap(), 1, "one live refresh token");
    assert!(revoked(&*store, "rt-c2-next").await);
    assert!(store.is_access_token_denied("j-c2-next").await.unwrap());
    assert!(store.is_access_token_denied("j-c2").await.unwrap());
}

#[tokio::test]
async fn registering_replacing_and_deleting_a_client() {
    use latchkey_core::{AuthMethod, ClientMetadata, RegistrationPolicy};
    use latchkey_domain::clients::{Replaced, create_client, delete_client, replace_client};
    let (store, _dir) = store().await;
    let policy = RegistrationPolicy::default();
    let settings = |method: &str| {
        let metadata: ClientMetadata = serde_json::from_value(serde_json::json!({
            "client_name": "App",
            "redirect_uris": ["https://app.example/cb"],
            "token_endpoint_auth_method": method,
        }))
        .unwrap();
        metadata.validate(&policy).unwrap()
    };

    // A confidential client gets a secret once; only its hash is stored.
    let (mut client, secret) = create_client(&*store, settings("client_secret_basic"), 1_000, None).await.unwrap();
    let secret = secret.expect("a secret");
    let stored = store.get_client(&client.client_id).await.unwrap().expect("stored");
    assert_eq!(stored, client);
    assert_ne!(stored.secret_hash.as_deref(), Some(secret.as_str()));
    assert!(stored.verify_secret(&secret, None));

    // Same kind of secret: kept. Public: dropped. Back to a secret: a new one.
    let same = replace_client(&*store, &mut client, settings("client_secret_post"), 1_100, None).await.unwrap();
    assert_eq!(same, Some(Replaced { new_secret: None }));
    assert!(store.get_client(&client.client_id).await.unwrap().unwrap().verify_secret(&secret, None));
    let public = replace_client(&*store, &mut client, settings("none"), 1_200, None).await.unwrap();
    assert_eq!(public, Some(Replaced { new_secret: None }));
    let stored = store.get_client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(
        (stored.settings.token_endpoint_auth_method, stored.secret_hash, stored.updated_at),
        (AuthMethod::None, None, 1_200)
    );
    let again = replace_client(&*store, &mut client, settings("client_secret_basic"), 1_300, None).await.unwrap();
    let new_secret = again.and_then(|r| r.new_secret).expect("a fresh secret");
    assert!(store.get_client(&client.client_id).await.unwrap().unwrap().verify_secret(&new_secret, None));

    // Deleting takes the client's consents and refresh tokens with it.
    store.put_consent("u1", &client.client_id, &Scope::parse("openid").unwrap(), 1_400).await.unwrap();
    issue(&*store, "c1", "u1", &client.client_id, "sid-1", Some(true)).await;
    assert!(delete_client(&*store, &client.client_id).await.unwrap());
    assert!(!delete_client(&*store, &client.client_id).await.unwrap(), "deleted once");
    assert_eq!(store.get_client(&client.client_id).await.unwrap(), None);
    assert_eq!(store.get_consent("u1", &client.client_id).await.unwrap(), None);
    assert!(store.get_refresh_token("rt-c1").await.unwrap().is_none());
    let gone = replace_client(&*store, &mut client, settings("none"), 1_500, None).await.unwrap();
    assert_eq!(gone, None, "a deleted client is not saved again");
}

#[tokio::test]
async fn unlinking_never_removes_the_last_way_to_sign_in() {
    use latchkey_domain::accounts::{UnlinkError, unlink};
    let (store, _dir) = store().await;
    let ann = user("u1", "ann");
    assert_eq!(ann.password_hash, None, "no password: links are the only way in");
    store.insert_user(&ann).await.unwrap();
    store.link_identity(&identity("sub-1", "u1")).await.unwrap();
    store.link_identity(&identity("sub-2", "u1")).await.unwrap();

    assert!(matches!(unlink(&*store, &ann, "https://upstream.example", "sub-9").await, Err(UnlinkError::NotLinked)));
    unlink(&*store, &ann, "https://upstream.example", "sub-1").await.unwrap();
    assert_eq!(store.find_identity("https://upstream.example", "sub-1").await.unwrap(), None);
    let last = unlink(&*store, &ann, "https://upstream.example", "sub-2").await;
    assert!(matches!(last, Err(UnlinkError::LastSignInMethod)), "{last:?}");
    assert!(store.find_identity("https://upstream.example", "sub-2").await.unwrap().is_some(), "kept");
}

#[tokio::test]
async fn starting_a_session_ends_the_browsers_previous_one() {
    use latchkey_core::secret::hash_token;
    use latchkey_domain::sessions::{NewSession, start_session};
    let (store, _dir) = store().await;
    let notifier = notifier(&store);
    let new = || NewSession {
        user_id: "u1".into(),
        amr: vec!["pwd".into()],
        acr: "urn:latchkey:acr:password".into(),
        ttl_seconds: 3_600,
    };
    let first = start_session(&*store, &notifier, EndRevokes::SessionBound, None, new(), 1_000).await.unwrap();
    assert_eq!(first.session.id_hash, hash_token(&first.session_id), "stored only hashed");
    assert_eq!((first.session.auth.auth_time, first.session.expires_at), (1_000, 4_600));
    assert_eq!(store.get_session(&first.session.id_hash, 1_001).await.unwrap(), Some(first.session.clone()));
    issue(&*store, "c1", "u1", "app", &first.session.auth.sid, Some(false)).await;

    // Signing in again in the same browser: a fresh id and sid; the old session ends as ending does.
    let previous = Some(first.session.id_hash.as_str());
    let second = start_session(&*store, &notifier, EndRevokes::SessionBound, previous, new(), 2_000).await.unwrap();
    assert_ne!(second.session.id_hash, first.session.id_hash);
    assert_ne!(second.session.auth.sid, first.session.auth.sid);
    assert_eq!(store.get_session(&first.session.id_hash, 2_000).await.unwrap(), None);
    assert!(revoked(&*store, "rt-c1").await, "its session-bound refresh tokens go with it");
    assert!(store.get_session(&second.session.id_hash, 2_000).await.unwrap().is_some());
}

#[tokio::test]
async fn an_operators_client_body_names_the_member_at_fault() {
    use latchkey_core::RegistrationPolicy;
    use latchkey_domain::clients::settings_from_json;
    let policy = RegistrationPolicy::default();
    let body = |v: serde_json::Value| v.as_object().unwrap().clone();
    let ok = settings_from_json(
        &policy,
        body(serde_json::json!({
            "client_name": "App", "redirect_uris": ["https://app.example/cb"],
            "skip_consent": true, "audiences": ["https://api.example"],
        })),
    )
    .unwrap();
    assert!(ok.skip_consent && !ok.introspection);
    assert_eq!(ok.audiences, ["https://api.example"]);
    let refused = |v: serde_json::Value| settings_from_json(&policy, body(v)).unwrap_err();
    let e = refused(serde_json::json!({"client_name": "App", "redirect_uris": ["not a uri"]}));
    assert_eq!(e.member(), Some("redirect_uris"), "{e}");
    let e = refused(serde_json::json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"],
        "post_logout_redirect_uris": ["https://app.example/bye#frag"]}));
    assert_eq!(e.member(), Some("post_logout_redirect_uris"), "{e}");
    let e = refused(serde_json::json!({"client_name": " ", "redirect_uris": ["https://app.example/cb"]}));
    assert_eq!((e.member(), e.to_string().as_str()), (Some("client_name"), "client_name is required"));
    let e = refused(
        serde_json::json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"], "audiences": ["x#y"]}),
    );
    assert_eq!(e.member(), Some("audiences"), "{e}");
    let e = refused(
        serde_json::json!({"client_name": "App", "redirect_uris": ["https://app.example/cb"], "skip_consent": "yes"}),
    );
    assert_eq!((e.member(), e.to_string().as_str()), (Some("skip_consent"), "skip_consent must be a boolean"));
    let e = refused(serde_json::json!({"client_name": "App", "colour": "blue"}));
    assert_eq!((e.member(), e.to_string().as_str()), (None, "unknown member \"colour\""));
}

#[tokio::test]
async fn an_operators_edit_keeps_what_only_registration_sets() {
    use latchkey_core::{ClientMetadata, RegistrationPolicy};
    use latchkey_domain::clients::{create_client, operator_replace};
    let (store, _dir) = store().await;
    let policy = RegistrationPolicy::default();
    let settings = |name: &str| {
        let metadata: ClientMetadata = serde_json::from_value(serde_json::json!({
            "client_name": name, "redirect_uris": ["https://app.example/cb"],
        }))
        .unwrap();
        metadata.validate(&policy).unwrap()
    };
    let mut registered = settings("Self-registered");
    registered.dynamically_registered = true;
    registered.registration_access_token_hash = Some("rat-hash".into());
    registered.software_statement_issuer = Some("https://vouch.example".into());
    let (mut client, _) = create_client(&*store, registered, 1_000, None).await.unwrap();
    operator_replace(&*store, &mut client, settings("Renamed"), 1_100, None).await.unwrap().expect("saved");
    let stored = store.get_client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(stored.settings.client_name, "Renamed");
    assert!(stored.settings.dynamically_registered);
    assert_eq!(stored.settings.registration_access_token_hash.as_deref(), Some("rat-hash"));
    assert_eq!(stored.settings.software_statement_issuer.as_deref(), Some("https://vouch.example"));
}

#[tokio::test]
async fn searching_accounts_and_clients_pages_through_the_matches() {
    use latchkey_domain::{clients, users};
    let (store, _dir) = store().await;
    for (i, name) in ["alice", "bob", "alicia", "carol"].iter().enumerate() {
        let mut u = user(&format!("id-{i}"), name);
        u.created_at = 1_000 + i as i64;
        u.claims.email = Some(format!("{name}@example.com"));
        store.insert_user(&u).await.unwrap();
    }
    let names = |found: &[latchkey_core::User]| found.iter().map(|u| u.username.clone()).collect::<Vec<_>>();
    let (found, more) = users::search(&*store, "ALI", 0, 1).await.unwrap();
    assert_eq!((names(&found), more), (vec!["alice".to_string()], true));
    let (found, more) = users::search(&*store, "ali", 1, 1).await.unwrap();
    assert_eq!((names(&found), more), (vec!["alicia".to_string()], false));
    let (found, _) = users::search(&*store, "carol@example", 0, 10).await.unwrap();
    assert_eq!(names(&found), ["carol"], "by email");
    let (found, more) = users::search(&*store, "", 0, 10).await.unwrap();
    assert_eq!((found.len(), more), (4, false), "an empty query lists everyone");
    assert!(users::search(&*store, "nobody", 0, 10).await.unwrap().0.is_empty());

    let metadata: latchkey_core::ClientMetadata = serde_json::from_value(serde_json::json!({
        "client_name": "Payroll", "redirect_uris": ["https://payroll.example/cb"],
    }))
    .unwrap();
    let settings = metadata.validate(&latchkey_core::RegistrationPolicy::default()).unwrap();
    let (client, _) = clients::create_client(&*store, settings, 1_000, None).await.unwrap();
    let (found, _) = clients::search(&*store, "payr", 0, 10).await.unwrap();
    assert_eq!(found.len(), 1);
    let (found, _) = clients::search(&*store, &client.client_id, 0, 10).await.unwrap();
    assert_eq!(found[0].client_id, client.client_id, "by id");
    assert!(clients::search(&*store, "crm", 0, 10).await.unwrap().0.is_empty());
}

#[tokio::test]
async fn unlocking_forgets_the_failures_and_says_what_there_was() {
    use latchkey_core::lockout::account_key;
    use latchkey_domain::users::{SignInLock, sign_in_lock, unlock};
    let (store, _dir) = store().await;
    let alice = user("u-alice", "Alice");
    assert_eq!(sign_in_lock(&*store, &alice, 1_000).await.unwrap(), SignInLock::default());
    // Counted under the username in any case.
    store.add_failure(&account_key("alice"), 1_000, 900).await.unwrap();
    store.add_failure(&account_key("ALICE"), 1_001, 900).await.unwrap();
    store.lock_failures(&account_key("alice"), 1_600).await.unwrap();
    let lock = sign_in_lock(&*store, &alice, 1_100).await.unwrap();
    assert_eq!(lock, SignInLock { locked_until: Some(1_600), failures: 2 });
    assert!(lock.locked());
    assert_eq!(unlock(&*store, &alice, 1_100).await.unwrap(), lock, "what there was");
    assert_eq!(sign_in_lock(&*store, &alice, 1_100).await.unwrap(), SignInLock::default());
    assert_eq!(unlock(&*store, &alice, 1_100).await.unwrap(), SignInLock::default(), "nothing left");
}

#[tokio::test]
async fn an_operator_sends_a_reset_link_as_if_the_person_asked() {
    use latchkey_domain::self_service::{Mail, SendResetError, Sent, send_reset_link};
    let (store, _dir) = store().await;
    let clock = Arc::new(latchkey_core::clock::MockClock::new(10_000));
    let outbox = latchkey_email::Outbox::new(store.clone(), clock.clone());
    let settings = latchkey_config::Email::default();
    let mail = Mail {
        store: &*store,
        outbox: &outbox,
        clock: &*clock,
        settings: &settings,
        issuer: "https://id.example",
        product: "Latchkey",
        lang: latchkey_email::messages::Language::En,
        overrides: None,
    };
    let mut alice = user("u-alice", "alice");
    alice.claims.email = Some("alice@example.com".into());
    store.insert_user(&alice).await.unwrap();
    assert_eq!(send_reset_link(&mail, &alice, "console:u-admin").await.unwrap(), Sent::Sent);
    assert_eq!(store.count_outbox().await.unwrap(), 1, "one email queued");
    let query = latchkey_store::AuditQuery { limit: 100, ..Default::default() };
    let events = store.list_audit(&query).await.unwrap();
    let (_, event) = events.iter().find(|(_, e)| e.kind == "password.reset_requested").expect("audited");
    assert_eq!((event.actor.as_str(), event.subject.as_deref()), ("console:u-admin", Some("u-alice")));

    let bob = user("u-bob", "bob");
    assert_eq!(send_reset_link(&mail, &bob, "console:u-admin").await.unwrap(), Sent::NoAddress);
    alice.disabled = true;
    assert!(matches!(send_reset_link(&mail, &alice, "console:u-admin").await, Err(SendResetError::Disabled)));
    assert_eq!(store.count_outbox().await.unwrap(), 1, "nothing more queued");
}

/// The console's client: registered once however often (and however many
/// replicas at once) the server starts, brought up to date when its URL
/// changes, and refused by every door that deletes clients.
#[tokio::test]
async fn the_console_client_is_ensured_idempotently_and_never_deleted() {
    use latchkey_domain::clients::{CONSOLE_CLIENT_ID, DeleteClientError, delete_client, ensure_console_client};
    let (store, _dir) = store().await;
    let cb = "https://id.example.com/admin/callback";
    // Two replicas starting together: one inserts, the other finds it.
    let (a, b) = tokio::join!(ensure_console_client(&*store, cb, 1_000), ensure_console_client(&*store, cb, 1_000));
    assert!(a.unwrap() ^ b.unwrap(), "exactly one of two concurrent starts writes");
    assert!(!ensure_console_client(&*store, cb, 1_100).await.unwrap(), "a restart writes nothing");
    let client = store.get_client(CONSOLE_CLIENT_ID).await.unwrap().expect("registered");
    assert_eq!(client.settings.redirect_uris, [cb]);
    assert!(client.settings.skip_consent && client.secret_hash.is_some());
    // A new console URL replaces the redirect URI; other settings stay.
    let mut tuned = client.clone();
    tuned.settings.require_mfa = true;
    store.update_client(&tuned).await.unwrap();
    let moved = "https://admin.example.com/admin/callback";
    assert!(ensure_console_client(&*store, moved, 1_200).await.unwrap());
    let client = store.get_client(CONSOLE_CLIENT_ID).await.unwrap().unwrap();
    assert_eq!(
        (client.settings.redirect_uris.as_slice(), client.settings.require_mfa),
        ([moved.to_string()].as_slice(), true)
    );
    let refused = delete_client(&*store, CONSOLE_CLIENT_ID).await;
    assert!(matches!(refused, Err(DeleteClientError::Protected(_))), "{refused:?}");
    assert!(store.get_client(CONSOLE_CLIENT_ID).await.unwrap().is_some(), "still there");
}

//! Second factors on a real store (SQLite in a temporary directory):
//! enrollment, codes at sign-in (TOTP and recovery, each once, within the
//! sign-in limits), regeneration and removal, and what reaches the audit log.
//! Expected codes come from a second TOTP implementation written here from
//! RFC 4226 / RFC 6238, not from `latchkey_core::totp`.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use latchkey_core::lockout::LockPolicy;
use latchkey_core::{Clock, MockClock, User};
use latchkey_domain::limits::Limit;
use latchkey_domain::mfa::{
    BeginError, CodeCheck, ConfirmError, Factors, RegenerateError, Removed, begin_enrollment, confirm_enrollment,
    regenerate_recovery_codes, remove_factors, status, verify_code,
};
use latchkey_domain::sign_in::SignIn;
use latchkey_keys::EncryptionKey;
use latchkey_store::{AuditQuery, Store};
use latchkey_store_sql::SqlStore;

const START: i64 = 1_700_000_010;

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = SqlStore::connect(&url, 4, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), dir)
}

fn ann() -> User {
    User {
        id: "u-ann".into(),
        username: "ann@example.com".into(),
        password_hash: None,
        disabled: false,
        claims: Default::default(),
        created_at: 1_000,
        updated_at: 1_000,
    }
}

/// RFC 6238 with HMAC-SHA-1, 6 digits, 30 s: the code at Unix time `at`.
fn code_at(secret_base32: &str, at: i64) -> String {
    let key = data_encoding::BASE32_NOPAD.decode(secret_base32.as_bytes()).unwrap();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&((at / 30) as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0xf) as usize;
    let n = (u32::from(h[o]) & 0x7f) << 24 | u32::from(h[o + 1]) << 16 | u32::from(h[o + 2]) << 8 | u32::from(h[o + 3]);
    format!("{:06}", n % 1_000_000)
}

/// A well-formed code that is valid for none of the steps around `at`.
fn wrong_code(secret_base32: &str, at: i64) -> String {
    let valid: Vec<String> = (-1..=1).map(|s| code_at(secret_base32, at + 30 * s)).collect();
    (0..).map(|n| format!("{n:06}")).find(|c| !valid.contains(c)).unwrap()
}

fn limits(max_failures: u64) -> LockPolicy {
    LockPolicy {
        max_failures,
        max_failures_per_address: 0,
        window_seconds: 600,
        lock_seconds: 60,
        max_lock_seconds: 600,
    }
}

fn ip() -> IpAddr {
    "192.0.2.9".parse().unwrap()
}

async fn kinds(store: &dyn Store) -> Vec<String> {
    let events = store.list_audit(&AuditQuery { limit: 1000, ..Default::default() }).await.unwrap();
    events.into_iter().map(|(_, e)| e.kind).collect()
}

/// Enrolls ann at `START` and returns the secret and her recovery codes.
async fn enroll(ctx: &Factors<'_>) -> (String, Vec<String>) {
    let enrollment = begin_enrollment(ctx, &ann(), "user:u-ann").await.unwrap();
    let codes = confirm_enrollment(ctx, "u-ann", &code_at(&enrollment.secret, START), "user:u-ann").await.unwrap();
    (enrollment.secret, codes)
}

#[tokio::test]
async fn enrollment_is_pending_until_a_valid_code_confirms_it() {
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let ctx = Factors { store: &*store, clock: &clock, encryption_key: None, issuer_name: "Acme ID" };

    assert!(matches!(confirm_enrollment(&ctx, "u-ann", "123456", "user:u-ann").await, Err(ConfirmError::NotStarted)));
    let first = begin_enrollment(&ctx, &ann(), "user:u-ann").await.unwrap();
    assert_eq!(first.secret.len(), 32);
    assert_eq!(
        first.uri,
        format!(
            "otpauth://totp/Acme%20ID:ann%40example.com?secret={}&issuer=Acme%20ID&algorithm=SHA1&digits=6&period=30",
            first.secret
        )
    );
    assert!(first.qr_svg.contains("<svg"));
    assert_eq!(status(&ctx, "u-ann").await.unwrap().totp, None, "a pending factor is not a factor");
    assert!(!status(&ctx, "u-ann").await.unwrap().has_second_factor());

    // Restarted in another tab: the first QR code's codes no longer confirm.
    let second = begin_enrollment(&ctx, &ann(), "user:u-ann").await.unwrap();
    assert_ne!(first.secret, second.secret);
    let stale = confirm_enrollment(&ctx, "u-ann", &code_at(&first.secret, START), "user:u-ann").await;
    assert!(matches!(stale, Err(ConfirmError::WrongCode)), "{stale:?}");
    let two_steps_late = code_at(&second.secret, START - 60);
    let late = confirm_enrollment(&ctx, "u-ann", &two_steps_late, "user:u-ann").await;
    assert!(matches!(late, Err(ConfirmError::WrongCode)), "{late:?}");

    let one_step_late = code_at(&second.secret, START - 30);
    let codes = confirm_enrollment(&ctx, "u-ann", &one_step_late, "user:u-ann").await.unwrap();
    assert_eq!(codes.len(), 10);
    let now = status(&ctx, "u-ann").await.unwrap();
    assert!(now.has_second_factor());
    assert_eq!(now.totp.unwrap().confirmed_at, START);
    assert_eq!(now.recovery_codes_left, 10);

    let again = confirm_enrollment(&ctx, "u-ann", &code_at(&second.secret, START), "user:u-ann").await;
    assert!(matches!(again, Err(ConfirmError::NotStarted)), "{again:?}");
    assert!(matches!(begin_enrollment(&ctx, &ann(), "user:u-ann").await, Err(BeginError::AlreadyEnrolled)));

    let kinds = kinds(&*store).await;
    assert_eq!(kinds.iter().filter(|k| *k == "mfa.enrollment_started").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "mfa.enrolled").count(), 1);
}

#[tokio::test]
async fn each_totp_code_works_once_within_one_step_of_skew() {
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let ctx = Factors { store: &*store, clock: &clock, encryption_key: None, issuer_name: "Latchkey" };
    let sign_in = SignIn {
        users: &*store,
        failures: &*store,
        factors: &*store,
        audit: &*store,
        clock: &clock,
        limits: limits(10),
    };
    let (secret, _) = enroll(&ctx).await;
    let check = |code: String| {
        let (ctx, sign_in) = (ctx, sign_in);
        async move { verify_code(&ctx, &sign_in, &ann(), &code, ip(), Some("app")).await.unwrap() }
    };

    assert_eq!(check(code_at(&secret, START)).await, CodeCheck::Refused, "the confirming code is used");
    clock.advance(30);
    let now = clock.now();
    assert_eq!(check(code_at(&secret, now)).await, CodeCheck::Totp);
    assert_eq!(check(code_at(&secret, now)).await, CodeCheck::Refused, "a replay");
    assert_eq!(check(code_at(&secret, now + 30)).await, CodeCheck::Totp, "a phone one step ahead");
    clock.advance(120);
    let now = clock.now();
    assert_eq!(check(code_at(&secret, now - 60)).await, CodeCheck::Refused, "two steps behind");
    assert_eq!(check(code_at(&secret, now + 60)).await, CodeCheck::Refused, "two steps ahead");
    assert_eq!(check(code_at(&secret, now - 30)).await, CodeCheck::Totp, "a phone one step behind");
    assert_eq!(check(code_at(&secret, now)).await, CodeCheck::Totp, "a later step after a skewed one");
    assert_eq!(check(code_at(&secret, now - 30)).await, CodeCheck::Refused, "an earlier step than the last");
    let spaced = code_at(&secret, now + 30);
    assert_eq!(check(format!("{} {}", &spaced[..3], &spaced[3..])).await, CodeCheck::Totp, "as apps show it");

    let factor = store.get_totp("u-ann").await.unwrap().unwrap();
    assert_eq!(factor.last_used_at, Some(now));
    assert!(!factor.secret.is_empty());
    let kinds = kinds(&*store).await;
    assert_eq!(kinds.iter().filter(|k| *k == "mfa.failure").count(), 5, "{kinds:?}");
}

#[tokio::test]
async fn recovery_codes_are_single_use_and_regenerable() {
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let ctx = Factors { store: &*store, clock: &clock, encryption_key: None, issuer_name: "Latchkey" };
    let sign_in = SignIn {
        users: &*store,
        failures: &*store,
        factors: &*store,
        audit: &*store,
        clock: &clock,
        limits: limits(10),
    };
    assert!(matches!(regenerate_recovery_codes(&ctx, "u-ann", "user:u-ann").await, Err(RegenerateError::NotEnrolled)));
    let (_, codes) = enroll(&ctx).await;
    let check = |code: String| {
        let (ctx, sign_in) = (ctx, sign_in);
        async move { verify_code(&ctx, &sign_in, &ann(), &code, ip(), None).await.unwrap() }
    };

    assert_eq!(check(codes[0].clone()).await, CodeCheck::Recovery { left: 9 });
    assert_eq!(check(codes[0].clone()).await, CodeCheck::Refused, "used once");
    assert_eq!(check(codes[1].to_uppercase().replace('-', " ")).await, CodeCheck::Recovery { left: 8 }, "as typed");
    assert_eq!(check("not-a-code".into()).await, CodeCheck::Refused);

    let fresh = regenerate_recovery_codes(&ctx, "u-ann", "user:u-ann").await.unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|c| !codes.contains(c)));
    assert_eq!(check(codes[2].clone()).await, CodeCheck::Refused, "the old codes stop working");
    assert_eq!(check(fresh[9].clone()).await, CodeCheck::Recovery { left: 9 });

    let events = store.list_audit(&AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    let used: Vec<_> = events.iter().filter(|(_, e)| e.kind == "mfa.recovery_code_used").collect();
    assert_eq!(used.len(), 3);
    assert_eq!(used[0].1.details["left"], 9);
    assert_eq!(used[0].1.subject.as_deref(), Some("u-ann"));
    assert!(events.iter().any(|(_, e)| e.kind == "mfa.recovery_codes_generated"));
    let text = serde_json::to_string(&events.iter().map(|(_, e)| e).collect::<Vec<_>>()).unwrap();
    assert!(codes.iter().chain(&fresh).all(|c| !text.contains(c.as_str())), "no code in the audit log");
}

#[tokio::test]
async fn wrong_codes_count_like_wrong_passwords() {
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let ctx = Factors { store: &*store, clock: &clock, encryption_key: None, issuer_name: "Latchkey" };
    let sign_in = SignIn {
        users: &*store,
        failures: &*store,
        factors: &*store,
        audit: &*store,
        clock: &clock,
        limits: limits(3),
    };
    let (secret, _) = enroll(&ctx).await;
    clock.advance(30);
    let check = |code: String| {
        let (ctx, sign_in) = (ctx, sign_in);
        async move { verify_code(&ctx, &sign_in, &ann(), &code, ip(), Some("app")).await.unwrap() }
    };
    // The rightful user's typo does not lock them out.
    assert_eq!(check(wrong_code(&secret, clock.now())).await, CodeCheck::Refused);
    assert_eq!(check(code_at(&secret, clock.now())).await, CodeCheck::Totp);
    // A guesser is locked out after three, and then even a right code waits.
    for _ in 0..3 {
        assert_eq!(check(wrong_code(&secret, clock.now())).await, CodeCheck::Refused);
    }
    clock.advance(30);
    match check(code_at(&secret, clock.now())).await {
        CodeCheck::Throttled(refusal) => assert_eq!(refusal.limit, Limit::Account),
        other => panic!("a locked account is refused: {other:?}"),
    }
    clock.advance(600);
    assert_eq!(check(code_at(&secret, clock.now())).await, CodeCheck::Totp, "after the lock");
    let kinds = kinds(&*store).await;
    assert!(kinds.contains(&"login.locked".to_string()) && kinds.contains(&"login.throttled".to_string()), "{kinds:?}");
}

#[tokio::test]
async fn secrets_are_sealed_with_the_encryption_key() {
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let key = EncryptionKey::from_bytes([7; 32]);
    let ctx = Factors { store: &*store, clock: &clock, encryption_key: Some(&key), issuer_name: "Latchkey" };
    let sign_in = SignIn {
        users: &*store,
        failures: &*store,
        factors: &*store,
        audit: &*store,
        clock: &clock,
        limits: limits(10),
    };
    let (secret, _) = enroll(&ctx).await;
    let stored = store.get_totp("u-ann").await.unwrap().unwrap().secret;
    assert!(stored.starts_with("enc:v1:") && !stored.contains(&secret), "sealed at rest");
    clock.advance(30);
    let code = code_at(&secret, clock.now());
    assert_eq!(verify_code(&ctx, &sign_in, &ann(), &code, ip(), None).await.unwrap(), CodeCheck::Totp);

    // A sealed secret copied to another person's row does not open, and
    // another key opens nothing: refused, never an error page.
    let mut bob = ann();
    bob.id = "u-bob".into();
    bob.username = "bob".into();
    assert!(store.put_pending_totp("u-bob", &stored, START).await.unwrap());
    let forged = confirm_enrollment(&ctx, "u-bob", &code_at(&secret, clock.now()), "user:u-bob").await;
    assert!(matches!(forged, Err(ConfirmError::Open(_))), "{forged:?}");
    let other = EncryptionKey::from_bytes([8; 32]);
    let wrong_key = Factors { encryption_key: Some(&other), ..ctx };
    clock.advance(30);
    let code = code_at(&secret, clock.now());
    assert_eq!(verify_code(&wrong_key, &sign_in, &ann(), &code, ip(), None).await.unwrap(), CodeCheck::Refused);

    // Without a key the secret is stored as the base32 apps show.
    let plain = Factors { encryption_key: None, ..ctx };
    remove_factors(&plain, "u-bob", "cli").await.unwrap();
    let enrollment = begin_enrollment(&plain, &bob, "user:u-bob").await.unwrap();
    assert_eq!(store.get_totp("u-bob").await.unwrap().unwrap().secret, enrollment.secret);
}

#[tokio::test]
async fn removing_factors_takes_both_and_is_audited() {
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let ctx = Factors { store: &*store, clock: &clock, encryption_key: None, issuer_name: "Latchkey" };
    let sign_in = SignIn {
        users: &*store,
        failures: &*store,
        factors: &*store,
        audit: &*store,
        clock: &clock,
        limits: limits(10),
    };
    let (secret, codes) = enroll(&ctx).await;

    assert_eq!(
        remove_factors(&ctx, "u-ann", "cli").await.unwrap(),
        Removed { totp: true, recovery_codes: 10, passkeys: 0 }
    );
    assert_eq!(
        remove_factors(&ctx, "u-ann", "cli").await.unwrap(),
        Removed { totp: false, recovery_codes: 0, passkeys: 0 }
    );
    let now = status(&ctx, "u-ann").await.unwrap();
    assert!(!now.has_second_factor());
    assert_eq!(now.recovery_codes_left, 0);
    clock.advance(30);
    let code = code_at(&secret, clock.now());
    assert_eq!(verify_code(&ctx, &sign_in, &ann(), &code, ip(), None).await.unwrap(), CodeCheck::Refused);
    assert_eq!(verify_code(&ctx, &sign_in, &ann(), &codes[0], ip(), None).await.unwrap(), CodeCheck::Refused);

    let events = store.list_audit(&AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
    let removed: Vec<_> = events.iter().filter(|(_, e)| e.kind == "mfa.removed").collect();
    assert_eq!(removed.len(), 1, "a removal that found nothing is not recorded");
    assert_eq!(removed[0].1.actor, "cli");
    assert_eq!(removed[0].1.details["recovery_codes"], 10);

    // Enrolling again starts from nothing.
    let (_, again) = enroll(&ctx).await;
    assert_eq!(status(&ctx, "u-ann").await.unwrap().recovery_codes_left, 10);
    assert!(again.iter().all(|c| !codes.contains(c)));
}

#[tokio::test]
async fn knowing_the_password_does_not_reset_guessed_codes() {
    use latchkey_domain::sign_in::{PasswordCheck, check_password};
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let ctx = Factors { store: &*store, clock: &clock, encryption_key: None, issuer_name: "Latchkey" };
    let sign_in = SignIn {
        users: &*store,
        failures: &*store,
        factors: &*store,
        audit: &*store,
        clock: &clock,
        limits: limits(3),
    };
    let mut user = ann();
    user.password_hash = Some(latchkey_core::password::hash("correct horse battery").unwrap());
    store.insert_user(&user).await.unwrap();
    let (secret, _) = enroll(&ctx).await;
    clock.advance(30);
    let password = || check_password(&sign_in, "ann@example.com", "correct horse battery", None, ip());
    for _ in 0..2 {
        assert!(matches!(password().await.unwrap(), PasswordCheck::Accepted(..)));
        let wrong = wrong_code(&secret, clock.now());
        assert_eq!(verify_code(&ctx, &sign_in, &user, &wrong, ip(), None).await.unwrap(), CodeCheck::Refused);
    }
    // The third wrong code after a third correct password locks the account.
    assert!(matches!(password().await.unwrap(), PasswordCheck::Accepted(..)));
    let wrong = wrong_code(&secret, clock.now());
    assert_eq!(verify_code(&ctx, &sign_in, &user, &wrong, ip(), None).await.unwrap(), CodeCheck::Refused);
    assert!(matches!(password().await.unwrap(), PasswordCheck::Throttled(_)), "locked");

    // Once the lock (doubled to 120 s by the refused attempt) ends, within
    // the count's window, a correct code clears the count: one more typo
    // then does not lock.
    clock.advance(121);
    assert!(matches!(password().await.unwrap(), PasswordCheck::Accepted(..)));
    let right = code_at(&secret, clock.now());
    assert_eq!(verify_code(&ctx, &sign_in, &user, &right, ip(), None).await.unwrap(), CodeCheck::Totp);
    let wrong = wrong_code(&secret, clock.now());
    assert_eq!(verify_code(&ctx, &sign_in, &user, &wrong, ip(), None).await.unwrap(), CodeCheck::Refused);
    assert!(matches!(password().await.unwrap(), PasswordCheck::Accepted(..)));
}

//! Passkeys on a real store (SQLite in a temporary directory) against a
//! software authenticator written here (P-256 keys from OpenSSL, the CBOR
//! and WebAuthn byte layouts by hand from the WebAuthn spec, not from
//! `webauthn-rs`): registration, sign-in as the second factor and
//! passwordless, single-use ceremonies bound to what began them, the
//! signature counter, user verification, the sign-in limits, removal, and
//! the audit log.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use data_encoding::BASE64URL_NOPAD as B64;
use latchkey_core::lockout::LockPolicy;
use latchkey_core::{MockClock, User};
use latchkey_domain::passkeys::{
    self, PasskeyCheck, PasskeyError, PasskeyUse, Passkeys, begin_registration, begin_sign_in, finish_registration,
    finish_sign_in, relying_party,
};
use latchkey_domain::sign_in::SignIn;
use latchkey_store::{AuditQuery, Store};
use latchkey_store_sql::SqlStore;
use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcKey, PointConversionForm};
use openssl::nid::Nid;
use openssl::pkey::Private;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ISSUER: &str = "https://id.example.com:8443/tenant";
const ORIGIN: &str = "https://id.example.com:8443";
const START: i64 = 1_700_000_000;

async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/store.db", dir.path().display());
    let store = SqlStore::connect(&url, 4, Duration::from_secs(5)).await.unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), dir)
}

fn person(id: &str, username: &str) -> User {
    User {
        id: id.into(),
        username: username.into(),
        password_hash: None,
        disabled: false,
        claims: Default::default(),
        created_at: 1_000,
        updated_at: 1_000,
    }
}

fn ip() -> IpAddr {
    "192.0.2.9".parse().unwrap()
}

/// A software authenticator holding one P-256 credential.
struct Authenticator {
    key: EcKey<Private>,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
    /// Whether it reports the credential backup-eligible (a synced passkey).
    backup_eligible: bool,
    user_verified: bool,
}

// CBOR (RFC 8949), just what attestation objects and COSE keys need.
fn cbor_head(major: u8, n: usize, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        _ => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
    }
}
fn cbor_int(v: i64, out: &mut Vec<u8>) {
    if v >= 0 { cbor_head(0, v as usize, out) } else { cbor_head(1, (-1 - v) as usize, out) }
}
fn cbor_bytes(b: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, b.len(), out);
    out.extend_from_slice(b);
}
fn cbor_text(t: &str, out: &mut Vec<u8>) {
    cbor_head(3, t.len(), out);
    out.extend_from_slice(t.as_bytes());
}

impl Authenticator {
    fn new(backup_eligible: bool) -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        Self {
            key: EcKey::generate(&group).unwrap(),
            credential_id: rand::random::<[u8; 32]>().to_vec(),
            user_handle: Vec::new(),
            counter: 0,
            backup_eligible,
            user_verified: true,
        }
    }

    fn id(&self) -> String {
        B64.encode(&self.credential_id)
    }

    fn flags(&self, attested: bool) -> u8 {
        let mut flags = 0x01; // UP
        if self.user_verified {
            flags |= 0x04;
        }
        if self.backup_eligible {
            flags |= 0x08;
        }
        if attested {
            flags |= 0x40;
        }
        flags
    }

    fn cose_key(&self) -> Vec<u8> {
        let group = self.key.group();
        let mut ctx = BigNumContext::new().unwrap();
        let point = self.key.public_key().to_bytes(group, PointConversionForm::UNCOMPRESSED, &mut ctx).unwrap();
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut out = Vec::new();
        cbor_head(5, 5, &mut out);
        cbor_int(1, &mut out);
        cbor_int(2, &mut out); // kty: EC2
        cbor_int(3, &mut out);
        cbor_int(-7, &mut out); // alg: ES256
        cbor_int(-1, &mut out);
        cbor_int(1, &mut out); // crv: P-256
        cbor_int(-2, &mut out);
        cbor_bytes(x, &mut out);
        cbor_int(-3, &mut out);
        cbor_bytes(y, &mut out);
        out
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> Vec<u8> {
        json!({"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false}).to_string().into_bytes()
    }

    /// `navigator.credentials.create` for these options, as `passkey.js` sends it.
    fn create(&mut self, options: &Value, origin: &str) -> String {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().unwrap();
        self.user_handle = B64.decode(pk["user"]["id"].as_str().unwrap().as_bytes()).unwrap();
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(true));
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]); // AAGUID
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        cbor_head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        let client_data = Self::client_data("webauthn.create", pk["challenge"].as_str().unwrap(), origin);
        json!({
            "id": self.id(), "rawId": self.id(), "type": "public-key",
            "response": {"attestationObject": B64.encode(&attestation), "clientDataJSON": B64.encode(&client_data)},
            "extensions": {},
        })
        .to_string()
    }

    /// `navigator.credentials.get`: signs the challenge, the counter one up.
    fn get(&mut self, options: &Value, origin: &str) -> String {
        let pk = &options["publicKey"];
        let rp_id = pk["rpId"].as_str().unwrap();
        self.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags(false));
        auth_data.extend(self.counter.to_be_bytes());
        let client_data = Self::client_data("webauthn.get", pk["challenge"].as_str().unwrap(), origin);
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let pkey = openssl::pkey::PKey::from_ec_key(self.key.clone()).unwrap();
        let mut signer = openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        let signature = signer.sign_oneshot_to_vec(&signed).unwrap();
        json!({
            "id": self.id(), "rawId": self.id(), "type": "public-key",
            "response": {
                "authenticatorData": B64.encode(&auth_data),
                "clientDataJSON": B64.encode(&client_data),
                "signature": B64.encode(&signature),
                "userHandle": B64.encode(&self.user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }
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

async fn kinds(store: &dyn Store) -> Vec<String> {
    let events = store.list_audit(&AuditQuery { limit: 1000, ..Default::default() }).await.unwrap();
    events.into_iter().map(|(_, e)| e.kind).collect()
}

#[test]
fn the_relying_party_is_the_issuers_host_and_never_an_ip_address() {
    assert!(relying_party(ISSUER, "Latchkey").is_some());
    assert!(relying_party("http://localhost:8080", "Latchkey").is_some());
    assert!(relying_party("http://127.0.0.1:8080", "Latchkey").is_none(), "browsers refuse IP origins");
    assert!(relying_party("http://[::1]:8080", "Latchkey").is_none());
}

#[tokio::test]
async fn register_then_sign_in_as_second_factor_and_passwordless() {
    let (store, _dir) = store().await;
    let clock = MockClock::new(START);
    let webauthn = relying_party(ISSUER, "Latchkey").unwrap();
    let ctx = Passkeys { store: &*store, clock: &clock, webauthn: &webauthn };
    let sign_in = SignIn {
        users: &*store,
        failures: &*store,
        factors: &*store,
        audit: &*store,
        clock: &clock,
        limits: limits(3),
    };
    let dana = person("u-dana", "dana");
    store.insert_user(&dana).await.unwrap();

    // Registration: a discoverable credential with user verification, asked for.
    let challenge = begin_registration(&ctx, &dana, "register:s1").await.unwrap();
    let selection = &challenge.options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{selection}");
    assert_eq!(selection["userVerification"], "required", "{selection}");
    assert_eq!(challenge.options["publicKey"]["rp"]["id"], "id.example.com");
    let mut key = Authenticator::new(false);
    let answer = key.create(&challenge.options, ORIGIN);
    // Bound to the session that began it, and single use.
    let other = finish_registration(&ctx, &dana, "register:s2", &challenge.ceremony, &answer, "Laptop", "user:u-dana");
    assert!(matches!(other.await, Err(PasskeyError::Expired)));
    let again = finish_registration(&ctx, &dana, "register:s1", &challenge.ceremony, &answer, "Laptop", "user:u-dana");
    assert!(matches!(again.await, Err(PasskeyError::Expired)), "a ceremony named by the wrong request is spent");
    let challenge = begin_registration(&ctx, &dana, "register:s1").await.unwrap();
    let answer = key.create(&challenge.options, ORIGIN);
    let bad_name = finish_registration(&ctx, &dana, "register:s1", &challenge.ceremony, &answer, " ", "user:u-dana");
    assert!(matches!(bad_name.await, Err(PasskeyError::BadName)));
    // A wrong origin does not verify.
    let challenge = begin_registration(&ctx, &dana, "register:s1").await.unwrap();
    let phished = key.create(&challenge.options, "https://id.example.com.evil.example");
    let refused =
        finish_registration(&ctx, &dana, "register:s1", &challenge.ceremony, &phished, "Laptop", "user:u-dana");
    assert!(matches!(refused.await, Err(PasskeyError::Invalid)));
    let challenge = begin_registration(&ctx, &dana, "register:s1").await.unwrap();
    let answer = key.create(&challenge.options, ORIGIN);
    let stored =
        finish_registration(&ctx, &dana, "register:s1", &challenge.ceremony, &answer, " Laptop ", "user:u-dana")
            .await
            .unwrap();
    assert_eq!((stored.credential_id.as_str(), stored.name.as_str()), (key.id().as_str(), "Laptop"));
    let listed = passkeys::list(&*store, "u-dana").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].created_at, listed[0].last_used_at), (START, None));
    assert!(
        latchkey_domain::mfa::has_second_factor(
            &latchkey_domain::mfa::Factors { store: &*store, clock: &clock, encryption_key: None, issuer_name: "L" },
            "u-dana"
        )
        .await
        .unwrap()
    );
    // The next registration excludes it.
    let next = begin_registration(&ctx, &dana, "register:s1").await.unwrap();
    assert_eq!(next.options["publicKey"]["excludeCredentials"][0]["id"], key.id().as_str());

    // As the second factor after the password.
    clock.advance(60);
    let challenge = begin_sign_in(&ctx, Some(&dana), "interaction:i1").await.unwrap();
    assert_eq!(challenge.options["publicKey"]["allowCredentials"][0]["id"], key.id().as_str());
    assert_eq!(challenge.options["publicKey"]["userVerification"], "required");
    let answer = key.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, Some(&dana), "interaction:i1", &challenge.ceremony, &answer, ip(), None)
        .await
        .unwrap();
    let PasskeyCheck::Accepted(user, used) = check else { panic!("refused: {check:?}") };
    assert_eq!(user.id, "u-dana");
    assert_eq!(used, PasskeyUse { hardware: true, user_verified: true });
    assert_eq!(used.amr(), ["hwk", "user"]);
    assert_eq!(passkeys::list(&*store, "u-dana").await.unwrap()[0].last_used_at, Some(START + 60));
    // The same answer again: the ceremony is spent.
    let replay =
        finish_sign_in(&ctx, &sign_in, Some(&dana), "interaction:i1", &challenge.ceremony, &answer, ip(), None);
    assert!(matches!(replay.await.unwrap(), PasskeyCheck::Refused));

    // Passwordless: no allowCredentials; the credential names the person.
    let challenge = begin_sign_in(&ctx, None, "interaction:i2").await.unwrap();
    assert_eq!(challenge.options["publicKey"]["allowCredentials"], json!([]), "{}", challenge.options);
    assert_eq!(challenge.options["publicKey"]["userVerification"], "required");
    assert!(challenge.options.get("mediation").is_none(), "started by a button, not autofill");
    let answer = key.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, None, "interaction:i2", &challenge.ceremony, &answer, ip(), Some("app"))
        .await
        .unwrap();
    assert!(matches!(check, PasskeyCheck::Accepted(ref u, _) if u.id == "u-dana"), "{check:?}");

    // A cloned authenticator (its counter behind the stored one) is refused.
    let challenge = begin_sign_in(&ctx, None, "interaction:i3").await.unwrap();
    key.counter -= 2;
    let answer = key.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, None, "interaction:i3", &challenge.ceremony, &answer, ip(), None);
    assert!(matches!(check.await.unwrap(), PasskeyCheck::Refused));
    key.counter += 5;

    // Without user verification: refused.
    key.user_verified = false;
    let challenge = begin_sign_in(&ctx, None, "interaction:i4").await.unwrap();
    let answer = key.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, None, "interaction:i4", &challenge.ceremony, &answer, ip(), None);
    assert!(matches!(check.await.unwrap(), PasskeyCheck::Refused));
    key.user_verified = true;

    // Another person's passkey is no second factor for dana.
    let erin = person("u-erin", "erin");
    store.insert_user(&erin).await.unwrap();
    let mut erins = Authenticator::new(true);
    let challenge = begin_registration(&ctx, &erin, "register:e").await.unwrap();
    let answer = erins.create(&challenge.options, ORIGIN);
    finish_registration(&ctx, &erin, "register:e", &challenge.ceremony, &answer, "Phone", "user:u-erin").await.unwrap();
    let challenge = begin_sign_in(&ctx, Some(&dana), "interaction:i5").await.unwrap();
    let answer = erins.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, Some(&dana), "interaction:i5", &challenge.ceremony, &answer, ip(), None);
    assert!(matches!(check.await.unwrap(), PasskeyCheck::Refused));
    // Erin's is synced (backup-eligible): swk.
    let challenge = begin_sign_in(&ctx, None, "interaction:i6").await.unwrap();
    let answer = erins.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, None, "interaction:i6", &challenge.ceremony, &answer, ip(), None);
    let PasskeyCheck::Accepted(user, used) = check.await.unwrap() else { panic!("erin refused") };
    assert_eq!((user.id.as_str(), used.amr()), ("u-erin", vec!["swk".to_string(), "user".to_string()]));

    // Dana's failures since her last success (clone, no UV, erin's key) reached the
    // limit of 3: her account is locked, even for her right passkey.
    let challenge = begin_sign_in(&ctx, None, "interaction:i7").await.unwrap();
    let answer = key.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, None, "interaction:i7", &challenge.ceremony, &answer, ip(), None);
    let check = check.await.unwrap();
    assert!(matches!(check, PasskeyCheck::Throttled(_)), "{check:?}");
    clock.advance(600);

    // Removed: refused; a disabled account's passkey too.
    assert!(!passkeys::remove(&*store, &clock, "u-erin", &key.id(), "user:u-erin").await.unwrap(), "not hers");
    assert!(passkeys::remove(&*store, &clock, "u-dana", &key.id(), "user:u-dana").await.unwrap());
    let challenge = begin_sign_in(&ctx, None, "interaction:i8").await.unwrap();
    let answer = key.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, None, "interaction:i8", &challenge.ceremony, &answer, ip(), None);
    assert!(matches!(check.await.unwrap(), PasskeyCheck::Refused));
    assert!(matches!(begin_sign_in(&ctx, Some(&dana), "interaction:i9").await, Err(PasskeyError::NoPasskeys)));
    let mut disabled = erin.clone();
    disabled.disabled = true;
    store.update_user(&disabled).await.unwrap();
    let challenge = begin_sign_in(&ctx, None, "interaction:i10").await.unwrap();
    let answer = erins.get(&challenge.options, ORIGIN);
    let check = finish_sign_in(&ctx, &sign_in, None, "interaction:i10", &challenge.ceremony, &answer, ip(), None);
    assert!(matches!(check.await.unwrap(), PasskeyCheck::Refused));
    assert_eq!(passkeys::remove_all(&*store, &clock, "u-erin", "cli").await.unwrap(), 1);

    let kinds = kinds(&*store).await;
    for kind in ["mfa.passkey_registered", "mfa.passkey_used", "mfa.failure", "mfa.passkey_removed"] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "mfa.passkey_registered").count(), 2);
    assert_eq!(kinds.iter().filter(|k| *k == "mfa.passkey_removed").count(), 2);
}

//! Password hashing with Argon2id (RFC 9106 defaults of the `argon2` crate:
//! m = 19 MiB, t = 2, p = 1), stored as PHC strings.
//!
//! Every check needs 19 MiB of working memory. Checks reuse it while more
//! checks are wanted (see [`demand`]) and free it a few seconds after the
//! last: allocating and faulting in a fresh block costs ~10 ms of CPU per
//! check (a third of the check), while memory kept after a burst of sign-ins
//! is memory the process does not give back.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, PasswordHasher, Version};

/// The shortest password allowed by default (NIST SP 800-63B §3.1.1.2).
pub const MIN_LEN: usize = 8;
/// The longest accepted, in bytes: far above any passphrase (NIST asks for
/// at least 64 characters), low enough to bound the hashing work.
pub const MAX_LEN: usize = 1024;

/// The rules every new password meets (NIST SP 800-63B §3.1.1.2): a
/// minimum length and not a commonly used password. No composition rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// In characters.
    pub min_length: usize,
    /// Refuse the passwords of [`is_common`]'s list.
    pub refuse_common: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self { min_length: MIN_LEN, refuse_common: true }
    }
}

/// Why the policy refuses a password. Displayed, it ends an English
/// sentence ("The password is not accepted: {refusal}."), as the CLI and
/// the admin API say it; pages say it in the reader's language (the
/// `password-too-short`, `password-too-long` and `password-common` messages).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyRefusal {
    /// Shorter than this many characters.
    #[error("the password must be at least {0} characters long")]
    TooShort(usize),
    /// Longer than [`MAX_LEN`] bytes.
    #[error("the password must be at most {MAX_LEN} bytes long")]
    TooLong,
    /// On the list of common passwords.
    #[error(
        "this password is one of the most commonly used ones, which are guessed first; \
         choose another (a few unrelated words make a good one)"
    )]
    Common,
}

impl Policy {
    /// Checks a new password.
    pub fn check(&self, password: &str) -> Result<(), PolicyRefusal> {
        let n = password.chars().count();
        if n < self.min_length {
            return Err(PolicyRefusal::TooShort(self.min_length));
        }
        if password.len() > MAX_LEN {
            return Err(PolicyRefusal::TooLong);
        }
        if self.refuse_common && is_common(password) {
            return Err(PolicyRefusal::Common);
        }
        Ok(())
    }
}

/// The policy of this process: set once at start-up from the configuration
/// (`password.*`), read wherever a password is set (pages, CLI, admin API).
static POLICY: std::sync::RwLock<Policy> = std::sync::RwLock::new(Policy { min_length: MIN_LEN, refuse_common: true });

/// Sets the policy of this process (the server and the CLI at start-up).
pub fn set_policy(policy: Policy) {
    *POLICY.write().unwrap_or_else(|e| e.into_inner()) = policy;
}

/// The policy of this process.
pub fn policy() -> Policy {
    *POLICY.read().unwrap_or_else(|e| e.into_inner())
}

/// Checks a new password against the policy of this process.
pub fn check_policy(password: &str) -> Result<(), PolicyRefusal> {
    policy().check(password)
}

/// Whether `password` (ignoring case) is on the list of 20,000 common
/// passwords shipped in the binary (`data/common-passwords.txt`, Royce
/// Williams's list as Django ships it: lower-cased, deduplicated). Looked
/// up in a hash set built on first use.
pub fn is_common(password: &str) -> bool {
    static LIST: &str = include_str!("../data/common-passwords.txt");
    static SET: std::sync::LazyLock<std::collections::HashSet<&'static str>> =
        std::sync::LazyLock::new(|| LIST.lines().map(str::trim).filter(|l| !l.is_empty()).collect());
    // No entry is longer than this: longer passwords skip the lower-casing.
    if password.len() > 80 {
        return false;
    }
    SET.contains(password.to_lowercase().as_str())
}

pub fn hash(password: &str) -> Result<String, String> {
    let mut bytes = [0u8; 16];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut bytes).map_err(|e| e.to_string())?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

/// A hash of a random password, verified against when the user does not
/// exist so that the answer takes as long either way (no user enumeration
/// by timing).
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash(&crate::random::token(24)).expect("hashing a random password"));
    &DUMMY
}

/// Whether `password` matches the PHC string `phc` (any Argon2 variant and
/// parameters), in constant time. Runs with pooled working memory.
pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(h) = PasswordHash::new(phc) else { return false };
    let (Some(salt), Some(expected)) = (h.salt, h.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(h.algorithm), Params::try_from(&h)) else { return false };
    let version = match h.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let hashed = with_memory(argon2.params().block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
    });
    hashed.is_ok() && crate::secret::constant_time_eq(&out, expected.as_bytes())
}

/// How long working memory outlives the last wanted check: long enough for
/// one person after another to find it, short enough that a burst leaves
/// nothing behind for long.
#[cfg(not(test))]
const LINGER: Duration = Duration::from_secs(5);
#[cfg(test)]
const LINGER: Duration = Duration::from_millis(100);

/// Working memory of finished checks, at most one block per core (sign-ins
/// run at most one check per core).
struct Kept {
    blocks: Vec<Vec<Block>>,
    /// When the last wanted check was done (`None` while checks are wanted).
    idle_since: Option<Instant>,
    /// Whether a thread is waiting to free `blocks` once idle for `LINGER`.
    reaper: bool,
}

static KEPT: Mutex<Kept> = Mutex::new(Kept { blocks: Vec::new(), idle_since: None, reaper: false });
/// Checks wanted: announced with [`demand`], queued or running.
static WANTED: AtomicUsize = AtomicUsize::new(0);

fn kept() -> std::sync::MutexGuard<'static, Kept> {
    KEPT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Announces a check that is about to run (or to queue for its turn): while
/// the returned guard lives, and for `LINGER` after the last one is dropped,
/// finished checks keep their working memory for the next. A burst of
/// sign-ins reuses a few blocks and gives them back seconds after it ends.
pub fn demand() -> Demand {
    let mut kept = kept();
    WANTED.fetch_add(1, Ordering::SeqCst);
    kept.idle_since = None;
    Demand(())
}

/// See [`demand`].
#[must_use = "the memory is kept only while the guard lives"]
pub struct Demand(());

impl Drop for Demand {
    fn drop(&mut self) {
        let mut kept = kept();
        if WANTED.fetch_sub(1, Ordering::SeqCst) != 1 {
            return;
        }
        kept.idle_since = Some(Instant::now());
        if kept.blocks.is_empty() || kept.reaper {
            return;
        }
        kept.reaper = std::thread::Builder::new().name("argon2-memory".into()).spawn(free_when_idle).is_ok();
        if !kept.reaper {
            kept.blocks = Vec::new();
        }
    }
}

/// Frees the kept blocks once no check has been wanted for `LINGER`.
fn free_when_idle() {
    let mut wait = LINGER;
    loop {
        std::thread::sleep(wait);
        let mut kept = kept();
        match kept.idle_since.map(|t| t.elapsed()) {
            Some(idle) if idle >= LINGER => {
                kept.blocks = Vec::new();
                kept.reaper = false;
                return;
            }
            Some(idle) => wait = LINGER - idle,
            None => wait = LINGER,
        }
    }
}

/// Runs `f` with `count` Argon2 blocks: a kept block if one fits, else a
/// fresh one; kept afterwards if a check is wanted.
fn with_memory<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let reused = {
        let mut kept = kept();
        kept.blocks.iter().position(|b| b.len() == count).map(|i| kept.blocks.swap_remove(i))
    };
    let mut blocks = reused.unwrap_or_else(|| vec![Block::default(); count]);
    let result = f(&mut blocks);
    let mut kept = kept();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    // Under the lock the last `Demand` takes: a block is never left behind
    // without a reaper.
    if WANTED.load(Ordering::SeqCst) > 0 && kept.blocks.len() < cores {
        kept.blocks.push(blocks);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_and_common_passwords_and_takes_passphrases() {
        let p = Policy::default();
        assert!(p.check("correct horse battery staple").is_ok());
        assert!(p.check("Tr0ub4dor&3-but-longer").is_ok());
        for common in ["password1", "123456789", "PASSWORD1", "qwertyuiop", "iloveyou"] {
            let e = p.check(common).unwrap_err();
            assert_eq!(e, PolicyRefusal::Common, "{common}");
            assert!(e.to_string().contains("commonly used"), "{common}: {e}");
        }
        assert_eq!(p.check("short").unwrap_err().to_string(), "the password must be at least 8 characters long");
        assert_eq!(p.check(&"x".repeat(MAX_LEN + 1)), Err(PolicyRefusal::TooLong));
        // Long passphrases are welcome (NIST: at least 64 characters allowed).
        assert!(p.check(&"a long passphrase of many words ".repeat(8)).is_ok());
        let lax = Policy { min_length: 12, refuse_common: false };
        assert_eq!(lax.check("password1"), Err(PolicyRefusal::TooShort(12)));
        assert!(lax.check("passwordpassword").is_ok());
        assert!(is_common("password1") && !is_common("correct horse battery staple"));
    }

    /// The kept memory is per process: tests that check passwords take turns.
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn argon2id_round_trip() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("x", "not a hash"));
        assert!(!super::verify("correct horse", h.rsplit_once('$').unwrap().0), "no hash part");
        assert!(super::check_policy("short").is_err());
        assert!(super::check_policy("long enough").is_ok());
    }

    #[test]
    fn verifies_hashes_of_other_argon2_variants_and_parameters() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        use argon2::password_hash::{PasswordHasher, SaltString};
        use argon2::{Algorithm, Argon2, Params, Version};
        let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
        for (alg, version, m, t) in
            [(Algorithm::Argon2id, Version::V0x13, 8192, 3), (Algorithm::Argon2i, Version::V0x10, 4096, 1)]
        {
            let params = Params::new(m, t, 1, Some(24)).unwrap();
            let phc = Argon2::new(alg, version, params).hash_password(b"pa55word", &salt).unwrap().to_string();
            assert!(super::verify("pa55word", &phc), "{phc}");
            assert!(!super::verify("pa55wore", &phc), "{phc}");
        }
    }

    #[test]
    fn memory_is_kept_while_checks_are_wanted_and_freed_after() {
        let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let h = super::hash("correct horse").unwrap();
        let blocks = || super::kept().blocks.len();
        let wanted = super::demand();
        assert!(super::verify("correct horse", &h));
        assert!(super::verify("correct horse", &h), "with the kept block");
        assert!(!super::verify("wrong horse", &h), "with the kept block");
        assert_eq!(blocks(), 1, "one block, kept for the next check");
        drop(wanted);
        assert_eq!(blocks(), 1, "kept a moment after the last check");
        let again = super::demand();
        std::thread::sleep(super::LINGER * 3);
        assert_eq!(blocks(), 1, "kept while a check is wanted");
        drop(again);
        let deadline = std::time::Instant::now() + super::LINGER * 20;
        while blocks() > 0 {
            assert!(std::time::Instant::now() < deadline, "freed once nothing was wanted for a while");
            std::thread::sleep(super::LINGER / 4);
        }
        assert!(super::verify("correct horse", &h), "without a demand");
        assert_eq!(blocks(), 0, "nothing kept without a demand");
    }
}

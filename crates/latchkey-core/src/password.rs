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

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 1024;

/// Checks the length rules of a new password.
pub fn check_policy(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(format!("the password must be at least {MIN_LEN} characters long"));
    }
    if password.len() > MAX_LEN {
        return Err(format!("the password must be at most {MAX_LEN} bytes long"));
    }
    Ok(())
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

//! Verifying a password against an arbitrary stored hash (`Argon2id::verify`, which reads every
//! format a database may hold, and `LuciaScrypt::verify`).
//!
//! Input: the password, a newline, the stored hash.
//!
//! Invariants, with a counting allocator measuring the peak memory of each call: no panic;
//! bcrypt is `Outdated`; an Argon2 hash asking for more than 4 GiB or more than 1024 passes ×
//! lanes is refused (`Ok(false)`) without hashing; one that does not parse, and anything that
//! is not an Argon2 PHC string or a Lucia scrypt hash whose key is 128 lowercase hex digits,
//! is answered without hashing (under 1 MiB); otherwise the memory used is what the stored
//! parameters ask for. Argon2 hashes within the bounds but costly are skipped to keep the run
//! fast (their parameters are the hash's, verified by the unit tests).
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use libfuzzer_sys::fuzz_target;
use lucia::{Argon2id, LuciaScrypt, PasswordHashError, PasswordHasher};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            let now = CURRENT.fetch_add(new_size, Ordering::Relaxed) + new_size;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;
/// Below this, a call did not hash.
const CHEAP: usize = MIB;
/// scrypt N = 2^14, r = 16: 32 MiB, plus slack.
const SCRYPT: usize = 34 * MIB;
/// Argon2 hashes costing more (KiB × passes) are not run here.
const ARGON2_BUDGET: u64 = 64 * 1024;

/// The result of `verify` and the peak memory above what was allocated before it.
fn measure(f: impl FnOnce() -> Result<bool, PasswordHashError>) -> (Result<bool, PasswordHashError>, usize) {
    let before = CURRENT.load(Ordering::Relaxed);
    PEAK.store(before, Ordering::Relaxed);
    let result = f();
    (result, PEAK.load(Ordering::Relaxed).saturating_sub(before))
}

/// Whether `hash` is a Lucia scrypt hash that can match: `[s2:]salt:<128 lowercase hex>`.
fn scrypt_shaped(hash: &str) -> bool {
    let parts: Vec<&str> = hash.split(':').collect();
    let stored = match parts[..] {
        [_, stored] | ["s2", _, stored] => stored,
        _ => return false,
    };
    stored.len() == 128 && stored.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

enum Argon2Hash {
    Malformed,
    Refused,
    Costly,
    Cheap { m_cost_kib: u32 },
}

fn classify_argon2(hash: &str) -> Argon2Hash {
    let Ok(parsed) = argon2::PasswordHash::new(hash) else { return Argon2Hash::Malformed };
    let Ok(params) = argon2::Params::try_from(&parsed) else { return Argon2Hash::Malformed };
    if params.m_cost() > 4 * 1024 * 1024 || u64::from(params.t_cost()) * u64::from(params.p_cost()) > 1024 {
        return Argon2Hash::Refused;
    }
    if u64::from(params.m_cost()) * u64::from(params.t_cost()) > ARGON2_BUDGET {
        return Argon2Hash::Costly;
    }
    Argon2Hash::Cheap { m_cost_kib: params.m_cost() }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Some((password, hash)) = text.split_once('\n') else { return };
    if password.len() > lucia::MAX_PASSWORD_BYTES {
        return;
    }

    // lucia's default hasher, which verifies every format.
    let argon2id = Argon2id::default();
    if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
        let (result, used) = measure(|| argon2id.verify(password, hash));
        assert!(matches!(result, Err(PasswordHashError::Outdated)), "{result:?}");
        assert!(used < CHEAP);
    } else if hash.starts_with("$argon2") {
        match classify_argon2(hash) {
            Argon2Hash::Costly => {}
            Argon2Hash::Malformed | Argon2Hash::Refused => {
                let (result, used) = measure(|| argon2id.verify(password, hash));
                assert!(matches!(result, Ok(false)), "{result:?}");
                assert!(used < CHEAP, "{used} bytes for a hash that is refused");
            }
            Argon2Hash::Cheap { m_cost_kib } => {
                let (result, used) = measure(|| argon2id.verify(password, hash));
                assert!(result.is_ok(), "{result:?}");
                assert!(used < m_cost_kib as usize * 1024 + CHEAP, "{used} bytes for m = {m_cost_kib} KiB");
            }
        }
    } else {
        let (result, used) = measure(|| argon2id.verify(password, hash));
        check_scrypt(hash, result, used);
    }

    // Lucia v2's hasher on its own.
    if hash.starts_with("$2a") {
        assert!(matches!(LuciaScrypt.verify(password, hash), Err(PasswordHashError::Outdated)));
    } else {
        let (result, used) = measure(|| LuciaScrypt.verify(password, hash));
        check_scrypt(hash, result, used);
    }
});

fn check_scrypt(hash: &str, result: Result<bool, PasswordHashError>, used: usize) {
    if hash.starts_with("$2a") {
        // lucia@2's test, which `LuciaScrypt` (and so `Argon2id` for non-PHC strings) keeps.
        assert!(matches!(result, Err(PasswordHashError::Outdated)), "{result:?}");
        assert!(used < CHEAP);
    } else if scrypt_shaped(hash) {
        assert!(result.is_ok(), "{result:?}");
        assert!(used < SCRYPT, "{used} bytes for scrypt");
    } else {
        assert!(matches!(result, Ok(false)), "{result:?}");
        assert!(used < CHEAP, "{used} bytes for a hash that cannot match: {hash:?}");
    }
}

//! Password hashing: the [`PasswordHasher`] trait, [`Argon2id`] (the default), Lucia v2's
//! scrypt format, and the bounded pool of background threads that keeps hashing off the async
//! runtime's worker threads and out of the way of requests.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};

use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore, oneshot};
use unicode_normalization::UnicodeNormalization;

use crate::{Error, HashingCgroup, PasswordPolicy};

/// The longest password [`Lucia`](crate::Lucia) hashes, in bytes (UTF-8).
///
/// A longer password is refused before any hashing: [`Lucia::use_key`](crate::Lucia::use_key)
/// and [`Lucia::sign_in`](crate::Lucia::sign_in) answer [`Error::InvalidPassword`] (no such
/// password can have been stored), and a new password is
/// [`Error::PasswordRejected`] with [`PasswordRejection::TooLong`](crate::PasswordRejection::TooLong).
/// A [`PasswordPolicy`]'s maximum is never above it.
///
/// ```
/// assert_eq!(lucia::MAX_PASSWORD_BYTES, 1024);
/// ```
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// Why a [`PasswordHasher`] could not give a yes/no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordHashError {
    /// The stored hash is in a format that can no longer be verified (bcrypt, as in Lucia's
    /// beta); the user must reset the password.
    #[error("outdated password hash")]
    Outdated,
    /// The hasher failed (bad parameters, out of memory, ...).
    #[error("{0}")]
    Failed(String),
}

/// Hashes and verifies passwords.
///
/// Both methods are CPU- and memory-heavy and blocking; [`Lucia`](crate::Lucia) calls them on
/// a blocking thread, never on an async worker. Implement this to plug in another algorithm:
///
/// ```
/// use lucia::{PasswordHasher, PasswordHashError};
///
/// /// Accepts and produces Lucia v2 hashes, but rejects the legacy two-part format.
/// struct StrictLucia;
///
/// impl PasswordHasher for StrictLucia {
///     fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
///         lucia::LuciaScrypt.hash(password)
///     }
///     fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
///         Ok(hash.starts_with("s2:") && lucia::LuciaScrypt.verify(password, hash)?)
///     }
/// }
/// ```
pub trait PasswordHasher: Send + Sync + 'static {
    /// Returns the string to store for `password`.
    fn hash(&self, password: &str) -> Result<String, PasswordHashError>;

    /// Checks `password` against a stored `hash`. A wrong password or a hash this hasher
    /// does not understand is `Ok(false)`.
    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError>;

    /// Whether a hash that just verified should be replaced by a fresh [`hash`](Self::hash)
    /// (for example an old algorithm or weaker parameters). When it returns `true`,
    /// [`Lucia::use_key`](crate::Lucia::use_key) stores the new hash. Defaults to `false`.
    fn needs_rehash(&self, hash: &str) -> bool {
        let _ = hash;
        false
    }
}

/// Lucia v2's default hash: `s2:<salt>:<hex>`, scrypt with N = 16384, r = 16, p = 1 and a
/// 64-byte output over the NFKC-normalised password, byte-compatible with `lucia@2`.
///
/// Verification also accepts the legacy `<salt>:<hex>` format (r = 8) and reports Lucia's
/// beta bcrypt hashes (`$2a...`) as [`PasswordHashError::Outdated`], as `lucia@2` does.
///
/// # Speed
///
/// A check takes 32 MiB of memory and one core for about 70–110 ms (on the machines in
/// BENCHMARKS.md). Two things outside this crate decide part of that (runs 9 and 10 there):
///
/// - The `scrypt` crate's Salsa20/8 is SSE2 code in a build for baseline x86-64. Built for
///   the servers' CPU (`RUSTFLAGS="-C target-cpu=..."`), it ran 1.3x as fast on an AVX-512
///   CPU (28 checks/s on two cores instead of 21).
/// - glibc gives each check's 32 MiB back to the kernel when it is freed, so the next check
///   faults it in again (13–16 ms of 93 ms). Run with
///   `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1073741824`, a
///   process keeps the memory it frees for its next allocations instead (24 checks/s
///   instead of 21), at the cost of resident memory that no longer shrinks after a peak.
///
/// Argon2id, the default for new applications, needs neither: lucia-rs signs in with it at
/// three to six times `s2`'s rate.
///
/// ```
/// use lucia::{LuciaScrypt, PasswordHasher};
///
/// let stored = "s2:yhi1foxffz41bqs5:24c4d2ea0806a16f6112a3da27394ab8d0b8f2c2499f45e76cd7877d191835a1ae31943ec2ff46b27c8f52f9f32482d5b2bc13208e06557177ea0877f233944f";
/// assert!(LuciaScrypt.verify("hunter2", stored).unwrap());
/// assert!(!LuciaScrypt.verify("hunter3", stored).unwrap());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct LuciaScrypt;

const SALT_LENGTH: usize = 16;
const KEY_LENGTH: usize = 64;

impl LuciaScrypt {
    /// Hashes `password` with a given salt. [`PasswordHasher::hash`] uses a random 16-character
    /// salt; this exists for reproducing known hashes.
    pub fn hash_with_salt(&self, password: &str, salt: &str) -> Result<String, PasswordHashError> {
        let key = derive_key(password, salt, 16)?;
        Ok(format!("s2:{salt}:{key}"))
    }
}

impl PasswordHasher for LuciaScrypt {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        self.hash_with_salt(password, &crate::generate_random_string(SALT_LENGTH))
    }

    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        if hash.starts_with("$2a") {
            return Err(PasswordHashError::Outdated);
        }
        let parts: Vec<&str> = hash.split(':').collect();
        let (salt, stored, r) = match parts[..] {
            [salt, stored] => (salt, stored, 8),
            ["s2", salt, stored] => (salt, stored, 16),
            _ => return Ok(false),
        };
        // Only 128 lowercase hex digits can equal the derived key (compared as text, as lucia
        // does: an uppercase stored hash fails); anything else skips the 32 MiB derivation.
        if !could_be_key(stored) {
            return Ok(false);
        }
        let computed = derive_key(password, salt, r)?;
        // Compared as lowercase hex text, as lucia does: an uppercase stored hash fails.
        Ok(bool::from(computed.as_bytes().ct_eq(stored.as_bytes())))
    }
}

/// Whether a stored key can equal one [`derive_key`] makes: 128 lowercase hex digits.
fn could_be_key(stored: &str) -> bool {
    stored.len() == KEY_LENGTH * 2 && stored.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Lowercase hex of scrypt(NFKC(password), salt, N = 2^14, r, p = 1, 64 bytes).
fn derive_key(password: &str, salt: &str, r: u32) -> Result<String, PasswordHashError> {
    let normalized: String = password.nfkc().collect();
    let params = scrypt::Params::new(14, r, 1).map_err(|e| PasswordHashError::Failed(e.to_string()))?;
    let mut key = [0u8; KEY_LENGTH];
    scrypt::scrypt(normalized.as_bytes(), salt.as_bytes(), &params, &mut key)
        .map_err(|e| PasswordHashError::Failed(e.to_string()))?;
    Ok(crate::token::hex(&key))
}

/// Argon2id in the PHC string format (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`): the
/// default hasher for new passwords. [`Argon2id::default`] uses OWASP's parameters (19 MiB of
/// memory, 2 passes, 1 lane); [`Argon2id::new`] takes others. The password is NFKC-normalised
/// first, as [`LuciaScrypt`] does, so the same characters typed differently verify.
///
/// [`verify`](PasswordHasher::verify) accepts every hash a database may hold: Argon2 PHC
/// strings (with their own parameters, also `argon2i` and `argon2d`), Lucia v2's `s2:` scrypt
/// and its legacy two-part format (through [`LuciaScrypt`]). bcrypt hashes (`$2a$`, `$2b$`,
/// `$2y$`) are [`PasswordHashError::Outdated`]; anything else is `Ok(false)`.
/// [`needs_rehash`](PasswordHasher::needs_rehash) is `true` for every hash that is not
/// Argon2id with at least the configured memory, passes and lanes, so that
/// [`Lucia::use_key`](crate::Lucia::use_key) upgrades older hashes on sign-in.
///
/// ```
/// use lucia::{Argon2id, LuciaScrypt, PasswordHasher};
///
/// let hasher = Argon2id::default();
/// let hash = hasher.hash("correct horse battery staple").unwrap();
/// assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
/// assert!(hasher.verify("correct horse battery staple", &hash).unwrap());
/// assert!(!hasher.verify("wrong", &hash).unwrap());
/// assert!(!hasher.needs_rehash(&hash));
///
/// // Lucia v2's hashes still verify, and are due for an upgrade.
/// let old = LuciaScrypt.hash("hunter22").unwrap();
/// assert!(hasher.verify("hunter22", &old).unwrap());
/// assert!(hasher.needs_rehash(&old));
///
/// // Stronger parameters than the stored hash's: upgraded on the next sign-in too.
/// let stronger = Argon2id::new(65536, 3, 1).unwrap();
/// assert!(stronger.needs_rehash(&hash));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2id {
    m_cost: u32,
    t_cost: u32,
    p_cost: u32,
}

impl Argon2id {
    /// OWASP's recommended parameters: m = 19456 KiB, t = 2, p = 1.
    pub const OWASP: Self = Self { m_cost: 19 * 1024, t_cost: 2, p_cost: 1 };

    /// Argon2id with `m_cost` KiB of memory, `t_cost` passes and `p_cost` lanes. Parameters
    /// the `argon2` crate refuses (zero passes, less than 8 KiB per lane, ...) are
    /// [`PasswordHashError::Failed`].
    pub fn new(m_cost: u32, t_cost: u32, p_cost: u32) -> Result<Self, PasswordHashError> {
        argon2::Params::new(m_cost, t_cost, p_cost, None).map_err(|e| PasswordHashError::Failed(e.to_string()))?;
        Ok(Self { m_cost, t_cost, p_cost })
    }

    /// Memory per hash, in KiB.
    pub fn m_cost(&self) -> u32 {
        self.m_cost
    }

    /// Number of passes.
    pub fn t_cost(&self) -> u32 {
        self.t_cost
    }

    /// Number of lanes.
    pub fn p_cost(&self) -> u32 {
        self.p_cost
    }

    fn context(&self) -> Result<argon2::Argon2<'static>, PasswordHashError> {
        let params = argon2::Params::new(self.m_cost, self.t_cost, self.p_cost, None)
            .map_err(|e| PasswordHashError::Failed(e.to_string()))?;
        Ok(argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params))
    }
}

impl Default for Argon2id {
    fn default() -> Self {
        Self::OWASP
    }
}

std::thread_local! {
    /// The Argon2 memory of a hashing thread, kept from one hash to the next: `None` on
    /// other threads. Fresh memory for each hash (19 MiB) costs the kernel thousands of page
    /// faults, which took 10-20% of each hash's time on a 2-core VM.
    static ARGON2_MEMORY: std::cell::RefCell<Option<Vec<argon2::Block>>> = const { std::cell::RefCell::new(None) };
}

/// Makes the calling thread keep its Argon2 memory between hashes (a [`HashingPool`] thread:
/// the pool bounds how many there are, so the memory kept is the memory the pool allows).
fn keep_argon2_memory() {
    ARGON2_MEMORY.set(Some(Vec::new()));
}

/// Hashes `password` with `context` into `output`, in the thread's kept memory if it keeps
/// some and the hash needs at most `keep` blocks (a stored hash that asks for more than the
/// hasher's own parameters gets memory of its own, freed after), else in a new allocation.
/// Argon2 writes each block before reading it, so kept memory needs no clearing.
fn argon2_hash_into(
    context: &argon2::Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    output: &mut [u8],
    keep: usize,
) -> Result<(), argon2::Error> {
    let blocks = context.params().block_count();
    ARGON2_MEMORY.with_borrow_mut(|kept| match kept {
        Some(memory) if blocks <= keep => {
            if memory.len() < blocks {
                memory.try_reserve_exact(blocks - memory.len()).map_err(|_| argon2::Error::OutOfMemory)?;
                memory.resize(blocks, argon2::Block::default());
            }
            context.hash_password_into_with_memory(password, salt, output, &mut memory[..blocks])
        }
        _ => context.hash_password_into(password, salt, output),
    })
}

/// The most memory a stored Argon2 hash may ask for (4 GiB, in KiB): a corrupt or hostile row
/// is a wrong password, not an allocation the process cannot survive.
const MAX_VERIFY_M_COST: u32 = 4 * 1024 * 1024;
/// The most passes times lanes a stored Argon2 hash may ask for, for the same reason.
const MAX_VERIFY_WORK: u64 = 1024;

fn is_bcrypt(hash: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|prefix| hash.starts_with(prefix))
}

impl PasswordHasher for Argon2id {
    fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
        use argon2::password_hash::phc::{Output, ParamsString, Salt};
        let failed = |e: &dyn std::fmt::Display| PasswordHashError::Failed(e.to_string());
        let normalized: String = password.nfkc().collect();
        let context = self.context()?;
        let params = context.params();
        let salt = Salt::generate();
        let mut output = [0; argon2::Params::DEFAULT_OUTPUT_LEN];
        argon2_hash_into(&context, normalized.as_bytes(), &salt, &mut output, params.block_count())
            .map_err(|e| failed(&e))?;
        let hash = argon2::PasswordHash {
            algorithm: argon2::Algorithm::Argon2id.ident(),
            version: Some(argon2::Version::V0x13.into()),
            params: ParamsString::try_from(params).map_err(|e| failed(&e))?,
            salt: Some(salt),
            hash: Some(Output::new(&output).map_err(|e| failed(&e))?),
        };
        Ok(hash.to_string())
    }

    fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
        if is_bcrypt(hash) {
            return Err(PasswordHashError::Outdated);
        }
        if !hash.starts_with("$argon2") {
            // `s2:`, the legacy two-part format, or nothing Lucia ever wrote (`Ok(false)`).
            return LuciaScrypt.verify(password, hash);
        }
        let Ok(parsed) = argon2::PasswordHash::new(hash) else { return Ok(false) };
        let Ok(params) = argon2::Params::try_from(&parsed) else { return Ok(false) };
        let work = u64::from(params.t_cost()) * u64::from(params.p_cost());
        // The bounds never refuse a hash this hasher's own parameters make.
        let own_work = u64::from(self.t_cost) * u64::from(self.p_cost);
        if params.m_cost() > MAX_VERIFY_M_COST.max(self.m_cost) || work > MAX_VERIFY_WORK.max(own_work) {
            return Ok(false);
        }
        // The algorithm, version and parameters are the stored hash's.
        let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else { return Ok(false) };
        let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm.as_str()) else { return Ok(false) };
        let Ok(version) = parsed.version.map_or(Ok(argon2::Version::default()), argon2::Version::try_from) else {
            return Ok(false);
        };
        let normalized: String = password.nfkc().collect();
        let mut output = vec![0; expected.len()];
        let own_blocks = self.context()?.params().block_count();
        let context = argon2::Argon2::new(algorithm, version, params);
        let hashed = argon2_hash_into(&context, normalized.as_bytes(), salt, &mut output, own_blocks);
        Ok(hashed.is_ok() && bool::from(output.ct_eq(expected.as_bytes())))
    }

    fn needs_rehash(&self, hash: &str) -> bool {
        let Ok(parsed) = argon2::PasswordHash::new(hash) else { return true };
        if parsed.algorithm != argon2::ARGON2ID_IDENT || parsed.version != Some(argon2::Version::V0x13.into()) {
            return true;
        }
        let Ok(params) = argon2::Params::try_from(&parsed) else { return true };
        params.m_cost() < self.m_cost || params.t_cost() < self.t_cost || params.p_cost() < self.p_cost
    }
}

/// How the threads that hash passwords are scheduled against the rest of the process.
///
/// A password hash is tens of milliseconds of memory-hard work on purpose. At the same priority
/// as the async runtime, a few sign-ins take every core and each request that arrives meanwhile
/// waits for a time slice: on 2 cores, four sign-ins raised `validate_session`'s p99 16-fold.
/// In the background the scheduler runs a request as soon as it is ready and gives the hashes
/// every cycle left over, so sign-ins lose nothing on a server that is not saturated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HashingPriority {
    /// Below everything else (the default): on Linux the hashing threads run under
    /// `SCHED_IDLE`, elsewhere at the lowest priority the OS gives an ordinary thread. On a
    /// server whose CPUs are saturated, requests are served first and sign-ins wait. On Linux
    /// this ranks the hashes below the other threads of the process, and below other
    /// processes only if they share its scheduler group; for the rest (a Redis server on the
    /// same cores, where autogroups or cgroups part them) see
    /// [`HashingCgroup`](crate::HashingCgroup).
    #[default]
    Background,
    /// The same priority as every other thread: sign-ins keep their share of a saturated
    /// server, and requests wait behind them.
    Normal,
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs a [`PasswordHasher`] on threads of its own, at most `threads` hashes at a time, at
/// [`HashingPriority`], with at most `queue` callers waiting for a thread.
///
/// Each hash takes tens of MiB; the bound keeps a burst of sign-ins to `threads` hashes in
/// memory at once, the next `queue` waiting (asynchronously) for a slot, and the rest refused
/// at once with [`Error::Busy`]. Each thread keeps its Argon2 memory between hashes
/// ([`keep_argon2_memory`]). The threads start with the first hash and stop when the last
/// clone of the pool is dropped. Waiting for the result needs no particular async runtime.
#[derive(Clone)]
pub(crate) struct HashingPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    hasher: Arc<dyn PasswordHasher>,
    policy: Arc<PasswordPolicy>,
    permits: Arc<Semaphore>,
    threads: usize,
    /// How many callers may wait for a permit.
    queue_limit: usize,
    /// How many callers wait for a permit now.
    waiting: AtomicUsize,
    priority: HashingPriority,
    /// The idle cgroup each hashing thread moves into, if any.
    cgroup: Option<HashingCgroup>,
    queue: OnceLock<mpsc::Sender<Job>>,
    /// A hash of a random password by the configured hasher, verified for unknown keys.
    dummy: OnceCell<String>,
}

/// The default number of callers that may wait for each hashing thread
/// ([`LuciaBuilder::hashing_queue`](crate::LuciaBuilder::hashing_queue)).
pub(crate) const QUEUE_PER_THREAD: usize = 16;

/// Counts a caller waiting for a permit until it has one or gives up (cancellation included).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl HashingPool {
    pub(crate) fn new(
        hasher: Arc<dyn PasswordHasher>,
        policy: Arc<PasswordPolicy>,
        threads: usize,
        queue_limit: usize,
        priority: HashingPriority,
        cgroup: Option<HashingCgroup>,
    ) -> Self {
        let threads = threads.max(1);
        let inner = PoolInner {
            hasher,
            policy,
            permits: Arc::new(Semaphore::new(threads)),
            threads,
            queue_limit,
            waiting: AtomicUsize::new(0),
            priority,
            cgroup,
            queue: OnceLock::new(),
            dummy: OnceCell::new(),
        };
        Self { inner: Arc::new(inner) }
    }

    /// The password policy new passwords must pass.
    pub(crate) fn policy(&self) -> &PasswordPolicy {
        &self.inner.policy
    }

    /// The queue the hashing threads take jobs from, starting them on first use.
    fn queue(&self) -> &mpsc::Sender<Job> {
        self.inner.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for _ in 0..self.inner.threads {
                let (receiver, priority) = (Arc::clone(&receiver), self.inner.priority);
                let cgroup = self.inner.cgroup.clone();
                let started = std::thread::Builder::new().name("lucia-hashing".into()).spawn(move || {
                    schedule_current_thread(priority, cgroup.as_ref());
                    keep_argon2_memory();
                    loop {
                        // The lock is released before the job runs (a `while let` would hold
                        // it through the body); `recv` fails once the pool is dropped.
                        let next = receiver.lock().unwrap_or_else(PoisonError::into_inner).recv();
                        match next {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => break,
                        }
                    }
                });
                if let Err(e) = started {
                    // Fewer threads than asked hash more slowly; with none, every call fails
                    // (the queue has no receiver left) rather than hangs.
                    tracing::error!(error = %e, "lucia: could not start a password hashing thread");
                }
            }
            sender
        })
    }

    /// A hashing permit: at once if a thread is free, after waiting if fewer than
    /// `queue_limit` callers wait already, or [`Error::Busy`].
    async fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, Error> {
        let closed = || Error::PasswordHash("the hashing pool is closed".into());
        match Arc::clone(&self.inner.permits).try_acquire_owned() {
            Ok(permit) => return Ok(permit),
            Err(tokio::sync::TryAcquireError::Closed) => return Err(closed()),
            Err(tokio::sync::TryAcquireError::NoPermits) => {}
        }
        let waiting = &self.inner.waiting;
        if waiting.fetch_add(1, Ordering::SeqCst) >= self.inner.queue_limit {
            waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::Busy);
        }
        let _waiting = Waiting(waiting);
        Arc::clone(&self.inner.permits).acquire_owned().await.map_err(|_| closed())
    }

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&dyn PasswordHasher, &PasswordPolicy) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let permit = self.permit().await?;
        let (hasher, policy) = (Arc::clone(&self.inner.hasher), Arc::clone(&self.inner.policy));
        let (outcome_sender, outcome) = oneshot::channel();
        // The permit moves into the job and is released when the hash is done, not when the
        // caller stops waiting: a cancelled sign-in cannot free its slot while its hash runs.
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(hasher.as_ref(), policy.as_ref())));
            // The caller releases the permit: releasing wakes the next sign-in under the
            // semaphore's lock, which a background thread must not hold (preempted, it would
            // stall the async workers waiting for that lock). If the caller has gone, the
            // permit is released here.
            let _ = outcome_sender.send((outcome, permit));
        });
        self.queue().send(job).map_err(|_| Error::PasswordHash("no password hashing thread is running".into()))?;
        let (outcome, permit) =
            outcome.await.map_err(|_| Error::PasswordHash("the password hashing thread stopped".into()))?;
        drop(permit);
        outcome.map_err(|_| Error::PasswordHash("the password hasher panicked".into()))?
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String, Error> {
        let password = password.to_owned();
        self.run(move |hasher, _| hasher.hash(&password).map_err(hash_error)).await
    }

    /// Checks a new password against the policy, then hashes it, both on a hashing thread
    /// (a strength estimate takes milliseconds). `user_inputs` are words the password must
    /// not be built from (the key's provider user id).
    pub(crate) async fn hash_new(&self, password: &str, user_inputs: Vec<String>) -> Result<String, Error> {
        // The cheap checks first, so that a too short or too long password is told so even
        // when the pool is busy.
        self.inner.policy.check_length(password).map_err(Error::PasswordRejected)?;
        if !self.inner.policy.has_content_checks() {
            return self.hash(password).await;
        }
        let password = password.to_owned();
        self.run(move |hasher, policy| {
            let inputs: Vec<&str> = user_inputs.iter().map(String::as_str).collect();
            policy.check_content(&password, &inputs).map_err(Error::PasswordRejected)?;
            hasher.hash(&password).map_err(hash_error)
        })
        .await
    }

    /// Returns whether the password matched and, if so, whether the hash should be renewed.
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> Result<(bool, bool), Error> {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move |hasher, _| {
            let valid = hasher.verify(&password, &hash).map_err(hash_error)?;
            Ok((valid, valid && hasher.needs_rehash(&hash)))
        })
        .await
    }

    /// Verifies `password` against a hash of a random password made by the configured hasher
    /// (made once, on first use): what rejecting an unknown key costs, the same as a known key
    /// with a wrong password.
    pub(crate) async fn verify_dummy(&self, password: &str) -> Result<(), Error> {
        let dummy = self
            .inner
            .dummy
            .get_or_try_init(|| async {
                let random = crate::generate_random_string(SALT_LENGTH * 2);
                self.hash(&random).await
            })
            .await?;
        self.verify(password, dummy).await.map(drop)
    }
}

fn hash_error(error: PasswordHashError) -> Error {
    match error {
        PasswordHashError::Outdated => Error::OutdatedPassword,
        PasswordHashError::Failed(message) => Error::PasswordHash(message),
    }
}

/// Puts the calling (hashing) thread at `priority`, in `cgroup` if any. A refusal (a sandbox
/// that forbids it) is logged and the thread hashes where it is: slower requests, not failed
/// sign-ins.
fn schedule_current_thread(priority: HashingPriority, cgroup: Option<&HashingCgroup>) {
    use thread_priority::ThreadPriority;
    if let Some(Err(e)) = cgroup.map(HashingCgroup::join) {
        tracing::warn!(error = %e, "lucia: could not move a password hashing thread into its cgroup");
    }
    if priority == HashingPriority::Normal {
        return;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let lowered = {
        use thread_priority::{NormalThreadSchedulePolicy, ThreadSchedulePolicy};
        thread_priority::set_thread_priority_and_policy(
            thread_priority::thread_native_id(),
            ThreadPriority::Min,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle),
        )
    };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let lowered = thread_priority::set_current_thread_priority(ThreadPriority::Min);
    if let Err(e) = lowered {
        tracing::warn!(error = ?e, "lucia: could not lower the priority of a password hashing thread");
    }
}

impl std::fmt::Debug for HashingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HashingPool")
            .field("threads", &self.inner.threads)
            .field("priority", &self.inner.priority)
            .field("cgroup", &self.inner.cgroup)
            .field("queue", &self.inner.queue_limit)
            .field("available", &self.inner.permits.available_permits())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_has_lucias_shape_and_verifies() {
        let hash = LuciaScrypt.hash("pässwörd").unwrap();
        assert_eq!(hash.len(), 148);
        let parts: Vec<&str> = hash.split(':').collect();
        assert_eq!(parts[0], "s2");
        assert_eq!(parts[1].len(), 16);
        assert!(parts[2].bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert!(LuciaScrypt.verify("pässwörd", &hash).unwrap());
        assert!(!LuciaScrypt.verify("passwörd", &hash).unwrap());
    }

    #[test]
    fn malformed_hashes_are_wrong_passwords_not_errors() {
        for hash in ["", ":", "s2::", "s2:salt:zz", "s3:abc:def", "a:b:c:d", "$2b$10$abc", "$2y$x"] {
            assert!(!LuciaScrypt.verify("x", hash).unwrap(), "{hash}");
        }
        assert!(matches!(LuciaScrypt.verify("x", "$2a$10$abc"), Err(PasswordHashError::Outdated)));
    }

    /// Polls a future to completion on this thread, with no async runtime at all.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut context = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
            std::thread::park();
        }
    }

    #[test]
    fn the_pool_needs_no_tokio_runtime() {
        let pool = HashingPool::new(Arc::new(LuciaScrypt), Arc::default(), 1, 64, HashingPriority::Background, None);
        let hash = block_on(pool.hash("pässwörd")).unwrap();
        assert_eq!(block_on(pool.verify("pässwörd", &hash)).unwrap(), (true, false));
        assert_eq!(block_on(pool.verify("wrong", &hash)).unwrap(), (false, false));
        assert!(matches!(block_on(pool.verify("x", "$2a$10$abc")), Err(Error::OutdatedPassword)));
    }

    /// Reports the thread each call runs on, whether it keeps Argon2 memory, and how it is
    /// scheduled.
    struct WhereAmI;

    impl PasswordHasher for WhereAmI {
        fn hash(&self, _: &str) -> Result<String, PasswordHashError> {
            let policy =
                thread_priority::thread_schedule_policy().map_err(|e| PasswordHashError::Failed(format!("{e:?}")))?;
            let memory = if ARGON2_MEMORY.with_borrow(Option::is_some) { "keeps memory" } else { "" };
            Ok(format!("{}|{memory}|{policy:?}", std::thread::current().name().unwrap_or("")))
        }
        fn verify(&self, _: &str, _: &str) -> Result<bool, PasswordHashError> {
            Ok(false)
        }
    }

    #[tokio::test]
    async fn the_pool_hashes_on_its_own_threads_in_the_background() {
        let pool = HashingPool::new(Arc::new(WhereAmI), Arc::default(), 2, 64, HashingPriority::Background, None);
        let (a, b, c) = tokio::join!(pool.hash("a"), pool.hash("b"), pool.hash("c"));
        for outcome in [a, b, c] {
            let outcome = outcome.unwrap();
            assert!(outcome.starts_with("lucia-hashing|keeps memory|"), "{outcome}");
            if cfg!(target_os = "linux") {
                assert!(outcome.ends_with("Normal(Idle)"), "{outcome}");
            }
        }
        let normal = HashingPool::new(Arc::new(WhereAmI), Arc::default(), 1, 64, HashingPriority::Normal, None);
        let outcome = normal.hash("a").await.unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(outcome, "lucia-hashing|keeps memory|Normal(Other)");
        }
    }

    #[test]
    fn kept_argon2_memory_gives_the_same_hashes_and_stays_bounded() {
        let small = Argon2id::new(64, 1, 1).unwrap();
        let other = small.hash("other").unwrap();
        assert!(ARGON2_MEMORY.with_borrow(Option::is_none), "a thread outside the pool keeps nothing");
        let larger = Argon2id::new(128, 1, 1).unwrap().hash("larger").unwrap();
        let smaller = Argon2id::new(32, 1, 1).unwrap().hash("smaller").unwrap();
        std::thread::spawn(move || {
            keep_argon2_memory();
            let hash = small.hash("password").unwrap();
            assert!(small.verify("password", &hash).unwrap());
            assert!(!small.verify("wrong", &hash).unwrap());
            assert!(small.verify("other", &other).unwrap());
            // Less memory than kept: the first blocks of the kept memory.
            assert!(small.verify("smaller", &smaller).unwrap());
            assert!(!small.verify("wrong", &smaller).unwrap());
            // More memory than the hasher's own: verified in memory of its own, not kept.
            assert!(small.verify("larger", &larger).unwrap());
            assert_eq!(ARGON2_MEMORY.with_borrow(|kept| kept.as_ref().map(Vec::len)), Some(64));
            // Memory left by other passwords gives the hash fresh memory gives.
            let context = small.context().unwrap();
            let (mut kept, mut fresh) = ([0; 32], [0; 32]);
            argon2_hash_into(&context, b"password", b"saltsalt", &mut kept, 64).unwrap();
            context.hash_password_into(b"password", b"saltsalt", &mut fresh).unwrap();
            assert_eq!(kept, fresh);
        })
        .join()
        .unwrap();
    }

    #[tokio::test]
    async fn each_hashing_thread_moves_into_the_cgroup() {
        let dir = crate::hashing_cgroup::tests::fake_cgroup("pool", Some("1"));
        let cgroup = HashingCgroup::open(&dir).unwrap();
        let pool =
            HashingPool::new(Arc::new(WhereAmI), Arc::default(), 1, 64, HashingPriority::Background, Some(cgroup));
        pool.hash("a").await.unwrap();
        // The thread wrote `0` (itself) into the cgroup's threads file before its first hash.
        assert_eq!(std::fs::read_to_string(dir.join("tasks")).unwrap(), "0");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_thread_that_cannot_join_the_cgroup_still_hashes() {
        let dir = crate::hashing_cgroup::tests::fake_cgroup("unjoinable", Some("1"));
        let cgroup = HashingCgroup::open(&dir).unwrap();
        // The threads file turns into a directory: the thread's write fails.
        std::fs::remove_file(dir.join("tasks")).unwrap();
        std::fs::create_dir(dir.join("tasks")).unwrap();
        let pool =
            HashingPool::new(Arc::new(WhereAmI), Arc::default(), 1, 64, HashingPriority::Background, Some(cgroup));
        assert!(pool.hash("a").await.unwrap().starts_with("lucia-hashing|"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_pool_hashes_with_lucias_scrypt() {
        let pool = HashingPool::new(Arc::new(LuciaScrypt), Arc::default(), 2, 64, HashingPriority::Background, None);
        let hashes = tokio::join!(pool.hash("a"), pool.hash("b"), pool.hash("c"));
        for (password, hash) in [("a", hashes.0), ("b", hashes.1), ("c", hashes.2)] {
            assert!(LuciaScrypt.verify(password, &hash.unwrap()).unwrap());
        }
    }

    /// Takes `delay` per call and records how many calls ran at once.
    #[derive(Default)]
    struct Counting {
        delay: std::time::Duration,
        running: std::sync::atomic::AtomicUsize,
        most: std::sync::atomic::AtomicUsize,
        calls: std::sync::atomic::AtomicUsize,
        panics: bool,
    }

    impl PasswordHasher for Counting {
        fn hash(&self, password: &str) -> Result<String, PasswordHashError> {
            use std::sync::atomic::Ordering::SeqCst;
            self.calls.fetch_add(1, SeqCst);
            let now = self.running.fetch_add(1, SeqCst) + 1;
            self.most.fetch_max(now, SeqCst);
            std::thread::sleep(self.delay);
            self.running.fetch_sub(1, SeqCst);
            if self.panics {
                panic!("hasher bug");
            }
            Ok(format!("counted:{password}"))
        }
        fn verify(&self, password: &str, hash: &str) -> Result<bool, PasswordHashError> {
            Ok(self.hash(password)? == hash)
        }
    }

    fn counting(delay_ms: u64) -> Arc<Counting> {
        Arc::new(Counting { delay: std::time::Duration::from_millis(delay_ms), ..Counting::default() })
    }

    /// Issue 7: the permit belongs to the hashing job, so hashes whose callers gave up (a
    /// timeout, a dropped future) still count against the bound until they finish.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancelled_hashes_keep_their_permits() {
        use std::sync::atomic::Ordering::SeqCst;
        let hasher = counting(100);
        let pool = HashingPool::new(hasher.clone(), Arc::default(), 2, 64, HashingPriority::Background, None);
        let requests: Vec<_> = (0..20)
            .map(|i| {
                let pool = pool.clone();
                tokio::spawn(async move {
                    if i % 2 == 0 { pool.hash("pw").await.map(drop) } else { pool.verify("pw", "x").await.map(drop) }
                })
            })
            .collect();
        // Cancel every caller (a timeout, a dropped request) while two hashes run.
        let started = async {
            while hasher.running.load(SeqCst) < 2 {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(std::time::Duration::from_secs(10), started).await.expect("two hashes start");
        for request in &requests {
            request.abort();
        }
        for request in requests {
            assert!(request.await.unwrap_err().is_cancelled());
        }
        assert_eq!(hasher.running.load(SeqCst), 2, "the two started hashes still run");
        assert_eq!(pool.inner.permits.available_permits(), 0, "and still hold their permits");
        // Calls made now wait for those to finish.
        let hashes: Vec<_> = (0..4)
            .map(|_| {
                tokio::spawn({
                    let pool = pool.clone();
                    async move { pool.hash("pw").await }
                })
            })
            .collect();
        for hash in hashes {
            assert_eq!(hash.await.unwrap().unwrap(), "counted:pw");
        }
        assert_eq!(hasher.most.load(SeqCst), 2);
        assert_eq!(hasher.calls.load(SeqCst), 6, "callers cancelled while waiting started no hash");
        assert_eq!(pool.inner.permits.available_permits(), 2, "every permit came back");
    }

    #[tokio::test]
    async fn a_panicking_hasher_gives_its_permit_back() {
        let hasher = Arc::new(Counting { panics: true, ..Counting::default() });
        let pool = HashingPool::new(hasher, Arc::default(), 1, 64, HashingPriority::Background, None);
        for _ in 0..3 {
            // A hang fails; the bound is generous because a background thread on a machine
            // busy with other tests' work may wait seconds for a time slice.
            let outcome = tokio::time::timeout(std::time::Duration::from_secs(60), pool.hash("pw")).await;
            assert!(matches!(outcome, Ok(Err(Error::PasswordHash(_)))), "{outcome:?}");
        }
        assert_eq!(pool.inner.permits.available_permits(), 1);
    }

    #[test]
    fn zero_threads_means_one() {
        let pool = HashingPool::new(Arc::new(LuciaScrypt), Arc::default(), 0, 64, HashingPriority::Background, None);
        assert_eq!(pool.inner.permits.available_permits(), 1);
    }

    #[test]
    fn uppercase_stored_hex_is_rejected_as_lucia_does() {
        let hash = LuciaScrypt.hash_with_salt("hunter2", "yhi1foxffz41bqs5").unwrap();
        let upper = format!("s2:yhi1foxffz41bqs5:{}", hash[20..].to_uppercase());
        assert!(!LuciaScrypt.verify("hunter2", &upper).unwrap());
    }
    /// Cheap Argon2id parameters for tests.
    fn small() -> Argon2id {
        Argon2id::new(64, 1, 1).unwrap()
    }

    #[test]
    fn argon2id_verifies_every_format_lucia_stores() {
        let hasher = small();
        let hash = hasher.hash("pässwörd").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{hash}");
        assert!(hasher.verify("pässwörd", &hash).unwrap());
        // NFKC: the decomposed spelling is the same password.
        assert!(hasher.verify("pa\u{308}sswo\u{308}rd", &hash).unwrap());
        assert!(!hasher.verify("passwörd", &hash).unwrap());
        let s2 = LuciaScrypt.hash_with_salt("hunter2", "yhi1foxffz41bqs5").unwrap();
        assert!(hasher.verify("hunter2", &s2).unwrap());
        assert!(!hasher.verify("hunter3", &s2).unwrap());
        // The legacy two-part format (r = 8).
        let legacy = format!("yhi1foxffz41bqs5:{}", derive_key("hunter2", "yhi1foxffz41bqs5", 8).unwrap());
        assert!(hasher.verify("hunter2", &legacy).unwrap());
        for bcrypt in ["$2a$10$abc", "$2b$12$abcdefghijklmnopqrstuv", "$2y$10$x"] {
            assert!(matches!(hasher.verify("x", bcrypt), Err(PasswordHashError::Outdated)), "{bcrypt}");
        }
    }

    /// A stored key that cannot match (uppercase or not hex) is a wrong password without the
    /// 32 MiB derivation; the `password_hash` fuzz target checks the memory of each call.
    #[test]
    fn scrypt_keys_that_cannot_match_are_not_derived() {
        let key = derive_key("hunter2", "yhi1foxffz41bqs5", 16).unwrap();
        assert!(could_be_key(&key));
        for stored in
            [key.to_uppercase(), "g".repeat(128), format!("{}x", &key[1..]), key[1..].to_owned(), String::new()]
        {
            assert!(!could_be_key(&stored), "{stored}");
            assert!(!LuciaScrypt.verify("hunter2", &format!("s2:yhi1foxffz41bqs5:{stored}")).unwrap());
            assert!(!Argon2id::default().verify("hunter2", &format!("yhi1foxffz41bqs5:{stored}")).unwrap());
        }
        assert!(LuciaScrypt.verify("hunter2", &format!("s2:yhi1foxffz41bqs5:{key}")).unwrap());
    }

    #[test]
    fn argon2id_says_malformed_hashes_are_wrong_passwords() {
        let hasher = small();
        let good = hasher.hash("x").unwrap();
        let cut = &good[..good.len() - 5];
        for hash in [
            "",
            "$",
            "$argon2id",
            "$argon2id$",
            "$argon2id$v=19$m=64,t=1,p=1$",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$",
            "$argon2id$v=19$m=0,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=19$m=64,t=4294967295,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2id$v=99$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$argon2x$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
            "$scrypt$ln=14,r=8,p=1$c2FsdA$aGFzaA",
            "s2::",
            "s3:abc:def",
            cut,
        ] {
            assert!(!hasher.verify("x", hash).unwrap(), "{hash}");
        }
    }

    #[test]
    fn argon2id_verifies_its_own_hashes_past_the_work_bound() {
        // t × p above the bound for stored hashes: still this hasher's own parameters.
        let hasher = Argon2id::new(8, 1025, 1).unwrap();
        let hash = hasher.hash("pw").unwrap();
        assert!(hasher.verify("pw", &hash).unwrap());
        // The default hasher still refuses that much work from a stored hash.
        assert!(!Argon2id::default().verify("pw", &hash).unwrap());
    }

    #[test]
    fn argon2id_wants_a_rehash_of_anything_weaker() {
        let hasher = Argon2id::new(128, 2, 1).unwrap();
        let same = hasher.hash("x").unwrap();
        assert!(!hasher.needs_rehash(&same));
        assert!(!hasher.needs_rehash(&Argon2id::new(256, 3, 2).unwrap().hash("x").unwrap()), "stronger is fine");
        for weaker in [Argon2id::new(64, 2, 1).unwrap(), Argon2id::new(128, 1, 1).unwrap()] {
            let hash = weaker.hash("x").unwrap();
            assert!(hasher.verify("x", &hash).unwrap());
            assert!(hasher.needs_rehash(&hash), "{hash}");
        }
        let context = |algorithm| {
            argon2::Argon2::new(algorithm, argon2::Version::V0x13, argon2::Params::new(128, 2, 1, None).unwrap())
        };
        for algorithm in [argon2::Algorithm::Argon2i, argon2::Algorithm::Argon2d] {
            use argon2::PasswordHasher as _;
            let hash = context(algorithm).hash_password(b"x").unwrap().to_string();
            assert!(hasher.verify("x", &hash).unwrap(), "{hash}");
            assert!(hasher.needs_rehash(&hash), "{hash}");
        }
        assert!(hasher.needs_rehash(&LuciaScrypt.hash("x").unwrap()));
        assert!(hasher.needs_rehash("garbage"));
        assert_eq!(Argon2id::default(), Argon2id::OWASP);
        assert_eq!((Argon2id::OWASP.m_cost(), Argon2id::OWASP.t_cost(), Argon2id::OWASP.p_cost()), (19456, 2, 1));
        assert!(matches!(Argon2id::new(64, 0, 1), Err(PasswordHashError::Failed(_))));
    }

    /// Issue 10: past the threads and the queue, a call fails at once with `Busy`, without
    /// hashing; waiters that give up leave the queue.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_busy_at_once() {
        use std::sync::atomic::Ordering::SeqCst;
        let hasher = counting(300);
        let pool = HashingPool::new(hasher.clone(), Arc::default(), 1, 2, HashingPriority::Background, None);
        let spawn = |pool: &HashingPool| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.hash("pw").await })
        };
        let running = spawn(&pool);
        while hasher.running.load(SeqCst) < 1 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let waiting = [spawn(&pool), spawn(&pool)];
        while pool.inner.waiting.load(SeqCst) < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        let started = std::time::Instant::now();
        assert!(matches!(pool.hash("pw").await, Err(Error::Busy)));
        assert!(matches!(pool.verify("pw", "counted:pw").await, Err(Error::Busy)));
        assert!(started.elapsed() < std::time::Duration::from_millis(200), "refused without waiting");
        // A waiter that gives up frees its place in the queue.
        waiting[1].abort();
        assert!(
            waiting[1].is_finished()
                || tokio::time::timeout(std::time::Duration::from_secs(5), async {
                    while pool.inner.waiting.load(SeqCst) > 1 {
                        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                })
                .await
                .is_ok()
        );
        let late = spawn(&pool);
        let [first, second] = waiting;
        assert_eq!(running.await.unwrap().unwrap(), "counted:pw");
        assert_eq!(first.await.unwrap().unwrap(), "counted:pw");
        assert!(second.await.unwrap_err().is_cancelled());
        assert_eq!(late.await.unwrap().unwrap(), "counted:pw");
        assert_eq!(hasher.calls.load(SeqCst), 3, "the refused and the cancelled calls hashed nothing");
        assert_eq!(pool.inner.waiting.load(SeqCst), 0);
        assert_eq!(pool.inner.permits.available_permits(), 1);
    }

    #[tokio::test]
    async fn the_dummy_hash_is_made_once_by_the_configured_hasher() {
        let argon = HashingPool::new(Arc::new(small()), Arc::default(), 1, 4, HashingPriority::Background, None);
        argon.verify_dummy("guess").await.unwrap();
        let dummy = argon.inner.dummy.get().cloned().unwrap();
        assert!(dummy.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{dummy}");
        argon.verify_dummy("guess").await.unwrap();
        assert_eq!(argon.inner.dummy.get(), Some(&dummy), "made once");
        let scrypt = HashingPool::new(Arc::new(LuciaScrypt), Arc::default(), 1, 4, HashingPriority::Background, None);
        scrypt.verify_dummy("guess").await.unwrap();
        assert!(scrypt.inner.dummy.get().unwrap().starts_with("s2:"));
    }

    #[tokio::test]
    async fn the_policy_runs_on_the_hashing_thread_before_hashing() {
        let policy = PasswordPolicy::new().check(|_| match std::thread::current().name() {
            Some("lucia-hashing") => Err("on the hashing thread".into()),
            _ => Ok(()),
        });
        let hasher = counting(0);
        let pool = HashingPool::new(hasher.clone(), Arc::new(policy), 1, 4, HashingPriority::Background, None);
        let refused = pool.hash_new("long enough", vec!["ada".into()]).await;
        assert!(
            matches!(&refused, Err(Error::PasswordRejected(crate::PasswordRejection::Refused(s))) if s == "on the hashing thread"),
            "{refused:?}"
        );
        assert!(matches!(
            pool.hash_new("short", vec![]).await,
            Err(Error::PasswordRejected(crate::PasswordRejection::TooShort { min: 8 }))
        ));
        assert_eq!(hasher.calls.load(std::sync::atomic::Ordering::SeqCst), 0, "a refused password is not hashed");
    }
}

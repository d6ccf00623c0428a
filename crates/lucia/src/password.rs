//! Password hashing: the [`PasswordHasher`] trait, Lucia v2's scrypt format, and the bounded
//! pool of background threads that keeps hashing off the async runtime's worker threads and
//! out of the way of requests.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, OnceLock, PoisonError, mpsc};

use subtle::ConstantTimeEq;
use tokio::sync::{Semaphore, oneshot};
use unicode_normalization::UnicodeNormalization;

use crate::Error;

/// Why a [`PasswordHasher`] could not give a yes/no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordHashError {
    /// The stored hash is in a format that can no longer be verified (Lucia's beta bcrypt
    /// hashes); the user must reset the password.
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
        // A stored key of the wrong length cannot match; skip the 32 MiB derivation.
        if stored.len() != KEY_LENGTH * 2 {
            return Ok(false);
        }
        let computed = derive_key(password, salt, r)?;
        // Compared as lowercase hex text, as lucia does: an uppercase stored hash fails.
        Ok(bool::from(computed.as_bytes().ct_eq(stored.as_bytes())))
    }
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
    /// server whose CPUs are saturated, requests are served first and sign-ins wait.
    #[default]
    Background,
    /// The same priority as every other thread: sign-ins keep their share of a saturated
    /// server, and requests wait behind them.
    Normal,
}

type Job = Box<dyn FnOnce() + Send>;

/// Runs a [`PasswordHasher`] on threads of its own, at most `threads` hashes at a time, at
/// [`HashingPriority`].
///
/// Each Lucia scrypt hash takes 32 MiB; the bound keeps a burst of sign-ins to `threads` hashes
/// in memory at once, the rest waiting (asynchronously) for a slot. The threads start with the
/// first hash and stop when the last clone of the pool is dropped. Waiting for the result needs
/// no particular async runtime.
#[derive(Clone)]
pub(crate) struct HashingPool {
    inner: Arc<PoolInner>,
}

struct PoolInner {
    hasher: Arc<dyn PasswordHasher>,
    permits: Arc<Semaphore>,
    threads: usize,
    priority: HashingPriority,
    queue: OnceLock<mpsc::Sender<Job>>,
}

impl HashingPool {
    pub(crate) fn new(hasher: Arc<dyn PasswordHasher>, threads: usize, priority: HashingPriority) -> Self {
        let threads = threads.max(1);
        let inner =
            PoolInner { hasher, permits: Arc::new(Semaphore::new(threads)), threads, priority, queue: OnceLock::new() };
        Self { inner: Arc::new(inner) }
    }

    /// The queue the hashing threads take jobs from, starting them on first use.
    fn queue(&self) -> &mpsc::Sender<Job> {
        self.inner.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for _ in 0..self.inner.threads {
                let (receiver, priority) = (Arc::clone(&receiver), self.inner.priority);
                let started = std::thread::Builder::new().name("lucia-hashing".into()).spawn(move || {
                    schedule_current_thread(priority);
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

    async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&dyn PasswordHasher) -> Result<T, PasswordHashError> + Send + 'static,
    ) -> Result<T, Error> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| Error::PasswordHash("the hashing pool is closed".into()))?;
        let hasher = Arc::clone(&self.inner.hasher);
        let (outcome_sender, outcome) = oneshot::channel();
        // The permit moves into the job and is released when the hash is done, not when the
        // caller stops waiting: a cancelled sign-in cannot free its slot while its hash runs.
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(hasher.as_ref())));
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
        let outcome = outcome.map_err(|_| Error::PasswordHash("the password hasher panicked".into()))?;
        outcome.map_err(|e| match e {
            PasswordHashError::Outdated => Error::OutdatedPassword,
            PasswordHashError::Failed(message) => Error::PasswordHash(message),
        })
    }

    pub(crate) async fn hash(&self, password: &str) -> Result<String, Error> {
        let password = password.to_owned();
        self.run(move |hasher| hasher.hash(&password)).await
    }

    /// Returns whether the password matched and, if so, whether the hash should be renewed.
    pub(crate) async fn verify(&self, password: &str, hash: &str) -> Result<(bool, bool), Error> {
        let (password, hash) = (password.to_owned(), hash.to_owned());
        self.run(move |hasher| {
            let valid = hasher.verify(&password, &hash)?;
            Ok((valid, valid && hasher.needs_rehash(&hash)))
        })
        .await
    }
}

/// Puts the calling (hashing) thread at `priority`. A refusal (a sandbox that forbids it) is
/// logged and the thread hashes at normal priority: slower requests, not failed sign-ins.
fn schedule_current_thread(priority: HashingPriority) {
    use thread_priority::ThreadPriority;
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
        let pool = HashingPool::new(Arc::new(LuciaScrypt), 1, HashingPriority::Background);
        let hash = block_on(pool.hash("pässwörd")).unwrap();
        assert_eq!(block_on(pool.verify("pässwörd", &hash)).unwrap(), (true, false));
        assert_eq!(block_on(pool.verify("wrong", &hash)).unwrap(), (false, false));
        assert!(matches!(block_on(pool.verify("x", "$2a$10$abc")), Err(Error::OutdatedPassword)));
    }

    /// Reports the thread each call runs on, and how that thread is scheduled.
    struct WhereAmI;

    impl PasswordHasher for WhereAmI {
        fn hash(&self, _: &str) -> Result<String, PasswordHashError> {
            let policy =
                thread_priority::thread_schedule_policy().map_err(|e| PasswordHashError::Failed(format!("{e:?}")))?;
            Ok(format!("{}|{policy:?}", std::thread::current().name().unwrap_or("")))
        }
        fn verify(&self, _: &str, _: &str) -> Result<bool, PasswordHashError> {
            Ok(false)
        }
    }

    #[tokio::test]
    async fn the_pool_hashes_on_its_own_threads_in_the_background() {
        let pool = HashingPool::new(Arc::new(WhereAmI), 2, HashingPriority::Background);
        let (a, b, c) = tokio::join!(pool.hash("a"), pool.hash("b"), pool.hash("c"));
        for outcome in [a, b, c] {
            let outcome = outcome.unwrap();
            assert!(outcome.starts_with("lucia-hashing|"), "{outcome}");
            if cfg!(target_os = "linux") {
                assert!(outcome.ends_with("Normal(Idle)"), "{outcome}");
            }
        }
        let normal = HashingPool::new(Arc::new(WhereAmI), 1, HashingPriority::Normal);
        let outcome = normal.hash("a").await.unwrap();
        if cfg!(target_os = "linux") {
            assert_eq!(outcome, "lucia-hashing|Normal(Other)");
        }
    }

    #[tokio::test]
    async fn the_pool_hashes_with_lucias_scrypt() {
        let pool = HashingPool::new(Arc::new(LuciaScrypt), 2, HashingPriority::Background);
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
        let pool = HashingPool::new(hasher.clone(), 2, HashingPriority::Background);
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
        let pool = HashingPool::new(hasher, 1, HashingPriority::Background);
        for _ in 0..3 {
            let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), pool.hash("pw")).await;
            assert!(matches!(outcome, Ok(Err(Error::PasswordHash(_)))), "{outcome:?}");
        }
        assert_eq!(pool.inner.permits.available_permits(), 1);
    }

    #[test]
    fn zero_threads_means_one() {
        let pool = HashingPool::new(Arc::new(LuciaScrypt), 0, HashingPriority::Background);
        assert_eq!(pool.inner.permits.available_permits(), 1);
    }

    #[test]
    fn uppercase_stored_hex_is_rejected_as_lucia_does() {
        let hash = LuciaScrypt.hash_with_salt("hunter2", "yhi1foxffz41bqs5").unwrap();
        let upper = format!("s2:yhi1foxffz41bqs5:{}", hash[20..].to_uppercase());
        assert!(!LuciaScrypt.verify("hunter2", &upper).unwrap());
    }
}

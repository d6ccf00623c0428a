//! An idle cgroup for the password hashing threads (Linux).

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A Linux cgroup whose CPU time is idle (`cpu.idle` = 1) that lucia's password hashing
/// threads move into when they start ([`LuciaBuilder::hashing_cgroup`](crate::LuciaBuilder::hashing_cgroup)).
///
/// [`HashingPriority::Background`](crate::HashingPriority) runs the hashes under `SCHED_IDLE`,
/// which ranks them below the application's own threads but not always below other
/// processes: the kernel compares tasks of different scheduler groups as groups, and each
/// session is a group of its own where autogroups are on (most desktop and many server
/// kernels), as is each service in a cgroup with the `cpu` controller. A Redis server or a
/// database on the same cores then waits up to a scheduler tick behind a hash; on 2 cores,
/// four sign-ins raised `validate_session`'s p99 with Redis sessions 8-10-fold.
///
/// A cgroup whose `cpu.idle` is 1 is idle *relative to its peers*, the groups beside it (the
/// kernel's documentation of `cpu.idle`), so it puts the hashes behind another process only
/// where the two meet as peers:
/// - a process in the root `cpu` cgroup with autogroups on: a cgroup made at the root
///   ([`create_in_own_cgroup`](Self::create_in_own_cgroup) there) is a peer of every other
///   session's autogroup. This is where lucia-bench measured it (cgroup v1): the p99 above
///   stayed within 0.5-1.3x of its idle figure on every backend, and sign-ins still got every
///   cycle left over (BENCHMARKS.md);
/// - cgroup v1: a cgroup of the `cpu` hierarchy beside the database's, such as
///   `/sys/fs/cgroup/cpu/lucia-hashing` beside `/sys/fs/cgroup/cpu/system.slice`.
///
/// With cgroup v2 a process's threads cannot leave its own cgroup's subtree: a threaded
/// cgroup below a service's own meets only that service's other threads, which `SCHED_IDLE`
/// already serves first, not a database in another service. There a database on the same
/// cores needs cores of its own (systemd's `AllowedCPUs=`) for requests never to wait behind a
/// hash. (This follows from the kernel's documentation; the machine lucia is measured on has
/// only cgroup v1.)
///
/// The cgroup is the deployment's to make (it needs the right to create cgroups: root, or a
/// delegated subtree such as systemd's `Delegate=yes`): [`create`](Self::create) makes one,
/// [`open`](Self::open) checks one made beforehand. With cgroup v2 it must be a threaded
/// cgroup (`cgroup.type` = `threaded`) below the application's own, with the `cpu` controller
/// enabled for it; with cgroup v1 any cgroup of the `cpu` hierarchy.
///
/// ```no_run
/// # fn demo<A: lucia::Adapter>(adapter: A) -> Result<(), lucia::HashingCgroupError> {
/// use lucia::{HashingCgroup, Lucia};
///
/// // cgroup v1, beside the services' slice: behind the database's service too.
/// let cgroup = HashingCgroup::create("/sys/fs/cgroup/cpu/lucia-hashing")?;
/// let auth = Lucia::builder(adapter).hashing_cgroup(cgroup).build();
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashingCgroup {
    /// The cgroup's directory.
    dir: Arc<Path>,
    /// The file in `dir` a thread writes its id to (`0`: the writing thread) to move in:
    /// `cgroup.threads` (v2) or `tasks` (v1).
    threads_file: &'static str,
}

/// Why a [`HashingCgroup`] cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashingCgroupError {
    /// The directory is not a cgroup that takes threads: it has neither `cgroup.threads`
    /// (cgroup v2) nor `tasks` (cgroup v1).
    #[error("{0}: not a cgroup directory (no cgroup.threads or tasks file)")]
    NotACgroup(PathBuf),
    /// The cgroup's `cpu.idle` is missing (the `cpu` controller is not enabled for it) or not 1.
    #[error("{0}: the cgroup's cpu.idle is not 1 (is the cpu controller enabled for it?)")]
    NotIdle(PathBuf),
    /// Reading or writing the cgroup's files failed (permissions, most often).
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
}

impl HashingCgroup {
    /// The cgroup at `dir`, made beforehand: checks that it takes threads and that its
    /// `cpu.idle` is 1.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, HashingCgroupError> {
        let dir = dir.as_ref();
        let threads_file = ["cgroup.threads", "tasks"]
            .into_iter()
            .find(|name| dir.join(name).is_file())
            .ok_or_else(|| HashingCgroupError::NotACgroup(dir.to_owned()))?;
        let idle = dir.join("cpu.idle");
        match std::fs::read_to_string(&idle) {
            Ok(value) if value.trim() == "1" => Ok(Self { dir: dir.into(), threads_file }),
            Ok(_) => Err(HashingCgroupError::NotIdle(dir.to_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(HashingCgroupError::NotIdle(dir.to_owned())),
            Err(source) => Err(HashingCgroupError::Io { path: idle, source }),
        }
    }

    /// Makes the cgroup at `dir` if it does not exist, makes it threaded (cgroup v2), sets
    /// its `cpu.idle` to 1, then [`open`](Self::open)s it. `dir`'s parent must be a cgroup
    /// this process may change.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self, HashingCgroupError> {
        let dir = dir.as_ref();
        let io = |path: PathBuf| move |source| HashingCgroupError::Io { path, source };
        match std::fs::create_dir(dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(source) => return Err(io(dir.to_owned())(source)),
        }
        let cgroup_type = dir.join("cgroup.type");
        if std::fs::read_to_string(&cgroup_type).is_ok_and(|kind| kind.trim() == "domain") {
            std::fs::write(&cgroup_type, "threaded").map_err(io(cgroup_type))?;
        }
        let idle = dir.join("cpu.idle");
        if !idle.is_file() {
            return Err(HashingCgroupError::NotIdle(dir.to_owned()));
        }
        std::fs::write(&idle, "1").map_err(io(idle))?;
        Self::open(dir)
    }

    /// Makes (or reuses) the cgroup `name` below this process's own cgroup of the `cpu`
    /// controller, as [`create`](Self::create) does: for a service whose cgroup is delegated
    /// to it (systemd's `Delegate=yes`), or a process that runs as root. It puts the hashes
    /// behind other processes only where this process's cgroup is the root (see above).
    pub fn create_in_own_cgroup(name: &str) -> Result<Self, HashingCgroupError> {
        let read = |path: &str| {
            std::fs::read_to_string(path).map_err(|source| HashingCgroupError::Io { path: path.into(), source })
        };
        let own = read("/proc/self/cgroup")?;
        let dir = own_cpu_cgroup(&read("/proc/self/mountinfo")?, &own)
            .ok_or_else(|| HashingCgroupError::NotACgroup("/proc/self/cgroup".into()))?;
        Self::create(dir.join(name))
    }

    /// The cgroup's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves the calling thread into the cgroup.
    pub(crate) fn join(&self) -> std::io::Result<()> {
        // `0` is the writing thread, in both cgroup versions.
        std::fs::write(self.dir.join(self.threads_file), "0")
    }
}

/// The directory of this process's cgroup that the `cpu` controller governs, from
/// `/proc/self/mountinfo` and `/proc/self/cgroup`: a cgroup v1 hierarchy with `cpu` among its
/// controllers, else the cgroup v2 one.
fn own_cpu_cgroup(mountinfo: &str, own: &str) -> Option<PathBuf> {
    // mountinfo: `id parent dev root mount-point options [optional...] - fstype source super-options`.
    let mounts = mountinfo.lines().filter_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let left: Vec<&str> = left.split(' ').collect();
        let mut right = right.split(' ');
        let (fstype, _source, options) = (right.next()?, right.next()?, right.next()?);
        Some((*left.get(3)?, *left.get(4)?, fstype, options))
    });
    // /proc/self/cgroup: `id:controllers:path`, v2 with no controllers.
    let own_path = |v1: bool| {
        own.lines().find_map(|line| {
            let mut fields = line.splitn(3, ':');
            let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
            let wanted = if v1 { controllers.split(',').any(|c| c == "cpu") } else { controllers.is_empty() };
            wanted.then_some(path)
        })
    };
    let mut v2 = None;
    for (root, mount_point, fstype, options) in mounts {
        let v1 = match fstype {
            "cgroup" if options.split(',').any(|option| option == "cpu") => true,
            "cgroup2" => false,
            _ => continue,
        };
        let Some(path) = own_path(v1) else { continue };
        let relative = path.strip_prefix(root).unwrap_or(path).trim_start_matches('/');
        let dir = Path::new(mount_point).join(relative);
        if v1 {
            return Some(dir);
        }
        v2.get_or_insert(dir);
    }
    v2
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A directory shaped like a cgroup v1 `cpu` cgroup, with `cpu.idle` = `idle`.
    pub(crate) fn fake_cgroup(name: &str, idle: Option<&str>) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lucia-fake-cgroup-{name}-{}", crate::generate_random_string(8)));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("tasks"), "").unwrap();
        if let Some(idle) = idle {
            std::fs::write(dir.join("cpu.idle"), idle).unwrap();
        }
        dir
    }

    #[test]
    fn open_refuses_what_is_not_an_idle_cgroup() {
        let plain = std::env::temp_dir();
        assert!(matches!(HashingCgroup::open(&plain), Err(HashingCgroupError::NotACgroup(dir)) if dir == plain));
        for (name, idle) in [("busy", Some("0\n")), ("no-cpu", None)] {
            let dir = fake_cgroup(name, idle);
            assert!(matches!(HashingCgroup::open(&dir), Err(HashingCgroupError::NotIdle(_))), "{name}");
            std::fs::remove_dir_all(dir).unwrap();
        }
        let idle = fake_cgroup("idle", Some("1\n"));
        let cgroup = HashingCgroup::open(&idle).unwrap();
        assert_eq!((cgroup.path(), cgroup.threads_file), (idle.as_path(), "tasks"));
        std::fs::remove_dir_all(idle).unwrap();
    }

    #[test]
    fn the_cpu_cgroup_is_found_in_v1_and_v2_layouts() {
        let v1 = "25 1 0:22 / /sys/fs/cgroup rw - tmpfs tmpfs rw\n\
                  30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct\n\
                  31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
                  32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        let own = "4:memory:/m\n3:cpu,cpuacct:/app.slice/app.service\n0::/app.slice/app.service\n";
        assert_eq!(own_cpu_cgroup(v1, own), Some("/sys/fs/cgroup/cpu,cpuacct/app.slice/app.service".into()));
        let v2 = "40 1 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
        assert_eq!(
            own_cpu_cgroup(v2, "0::/system.slice/app.service\n"),
            Some("/sys/fs/cgroup/system.slice/app.service".into())
        );
        // A container sees its own cgroup as the mount's root.
        let container = "50 1 0:30 /docker/abc /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        assert_eq!(own_cpu_cgroup(container, "0::/docker/abc\n"), Some("/sys/fs/cgroup".into()));
        assert_eq!(own_cpu_cgroup("", "0::/\n"), None);
    }

    #[test]
    fn create_sets_an_existing_cgroup_idle() {
        let dir = fake_cgroup("create", Some("0\n"));
        HashingCgroup::create(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("cpu.idle")).unwrap(), "1");
        // No `cpu.idle` at all: the cpu controller is off there, which writing cannot fix.
        let no_cpu = fake_cgroup("create-no-cpu", None);
        assert!(matches!(HashingCgroup::create(&no_cpu), Err(HashingCgroupError::NotIdle(_))));
        // A parent that does not exist (or may not be written): the directory named in the error.
        let orphan = no_cpu.join("missing").join("hashing");
        match HashingCgroup::create(&orphan) {
            Err(HashingCgroupError::Io { path, source }) => {
                assert_eq!((path, source.kind()), (orphan, std::io::ErrorKind::NotFound));
            }
            other => panic!("{other:?}"),
        }
        for dir in [dir, no_cpu] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

//! Embedded PostgreSQL: a cluster started from the server binaries installed on
//! this machine (`initdb`, `pg_ctl`), used by the gateway when no
//! `DATABASE_URL` is given and by the tests for their throwaway clusters.
//!
//! Nothing is downloaded. When run as root (CI does), the server processes run
//! as the unprivileged `postgres` OS user, because `initdb` refuses root.
//! A detached watchdog stops the cluster (and removes an ephemeral one) when
//! the owning process exits, even if it is killed, so no cluster is leaked.

use std::fs;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// Errors starting or stopping an embedded cluster.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    /// No `initdb`/`pg_ctl` found: the message says what to install.
    #[error(
        "PostgreSQL server binaries not found (looked in $PG_BIN_DIR, /usr/lib/postgresql/*/bin, \
         `pg_config --bindir` and $PATH). Install them with `scripts/install-postgres.sh` \
         (Debian/Ubuntu: `apt-get install -y postgresql`) or set PG_BIN_DIR"
    )]
    BinariesNotFound,
    /// Running as root but the unprivileged user to run the server as is missing.
    #[error(
        "running as root, but OS user `{0}` (needed because initdb refuses root) does not exist: \
         install the `postgresql` package, which creates it, or set PG_RUN_AS"
    )]
    NoRunAsUser(String),
    /// An I/O error on the data folder.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL tool exited with an error.
    #[error("`{command}` failed: {stderr}")]
    Tool {
        /// The command line that failed.
        command: String,
        /// What it printed on stderr (and the server log tail for a start).
        stderr: String,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// How to start a cluster.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    /// The data folder (`PGDATA`). Created and initialised when empty.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1; a free one is picked when `None`.
    pub port: Option<u16>,
    /// Throwaway cluster: no fsync, and the folder is removed when stopped.
    pub ephemeral: bool,
}

impl ClusterOptions {
    /// A persistent cluster in `data_dir` (e.g. `.data/postgres`).
    pub fn persistent(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            port: None,
            ephemeral: false,
        }
    }

    /// A throwaway cluster in a new temporary folder: on tmpfs (`/dev/shm`)
    /// when the machine has one, since nothing of it needs to survive and
    /// disk writes dominate database creation; else in the system temp dir.
    /// `GATEWAY_TEST_PG_DIR` overrides the parent folder.
    pub fn ephemeral() -> Result<Self, EmbeddedError> {
        let parent = std::env::var_os("GATEWAY_TEST_PG_DIR")
            .map(PathBuf::from)
            .or_else(|| {
                let shm = PathBuf::from("/dev/shm");
                shm.is_dir().then_some(shm)
            })
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("gateway-pg-")
            .tempdir_in(&parent)
            .or_else(|_| tempfile::Builder::new().prefix("gateway-pg-").tempdir())
            .map_err(io("creating a temporary folder"))?
            .keep();
        Ok(Self {
            data_dir: dir.join("data"),
            port: None,
            ephemeral: true,
        })
    }
}

/// A running PostgreSQL cluster listening on 127.0.0.1 with trust auth.
#[derive(Debug)]
pub struct Cluster {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    /// The folder to remove on stop (ephemeral clusters only).
    remove_dir: Option<PathBuf>,
    run_as: Option<String>,
    port: u16,
    stopped: AtomicBool,
}

impl Cluster {
    /// Initialises (when needed) and starts a cluster, or adopts the one
    /// already running on `data_dir`.
    pub fn start(options: ClusterOptions) -> Result<Self, EmbeddedError> {
        let bin_dir = find_bin_dir()?;
        let run_as = run_as_user()?;
        let data_dir = absolute(&options.data_dir)?;
        let base_dir = data_dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data_dir.clone());
        fs::create_dir_all(&base_dir).map_err(io(format!("creating {}", base_dir.display())))?;
        if let Some(user) = &run_as {
            chown(&base_dir, user)?;
        }

        let mut cluster = Self {
            bin_dir,
            remove_dir: options.ephemeral.then(|| base_dir.clone()),
            data_dir,
            run_as,
            port: 0,
            stopped: AtomicBool::new(false),
        };

        if !cluster.data_dir.join("PG_VERSION").exists() {
            cluster.initdb(options.ephemeral)?;
        }
        if let Some(port) = cluster.running_port() {
            // A previous gateway left it running (e.g. after a crash): adopt it.
            cluster.port = port;
        } else {
            cluster.port = match options.port {
                Some(port) => port,
                None => free_port()?,
            };
            cluster.pg_ctl_start(options.ephemeral)?;
        }
        cluster.spawn_watchdog()?;
        Ok(cluster)
    }

    /// The TCP port the server listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data folder.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// A connection URL for `user` on database `database`.
    pub fn url(&self, user: &str, database: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{database}", self.port)
    }

    /// Restarts the server (fast shutdown, then start with the same options
    /// and port): every connection is dropped, as in a database restart.
    pub fn restart(&self) -> Result<(), EmbeddedError> {
        let data = self.data_dir.display().to_string();
        let log = self.log_file().display().to_string();
        self.run_pg(
            "pg_ctl",
            &[
                "restart",
                "-D",
                data.as_str(),
                "-l",
                log.as_str(),
                "-m",
                "fast",
                "-w",
                "-t",
                "30",
            ],
        )
        .map(|_| ())
    }

    /// Stops the server (fast shutdown) and removes an ephemeral folder.
    /// Idempotent; also called on drop.
    pub fn stop(&self) -> Result<(), EmbeddedError> {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        // Fast, not immediate, even for a throwaway cluster: an immediate
        // stop leaves its shared memory segments behind in /dev/shm.
        let data = self.data_dir.display().to_string();
        let result = self.run_pg(
            "pg_ctl",
            &["stop", "-D", data.as_str(), "-m", "fast", "-w", "-t", "30"],
        );
        if let Some(dir) = &self.remove_dir {
            let _ = fs::remove_dir_all(dir);
        }
        result.map(|_| ())
    }

    fn initdb(&self, ephemeral: bool) -> Result<(), EmbeddedError> {
        let data = self.data_dir.display().to_string();
        let mut args = vec![
            "-D",
            data.as_str(),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        ];
        if ephemeral {
            args.push("--no-sync");
        }
        self.run_pg("initdb", &args).map(|_| ())
    }

    fn pg_ctl_start(&self, ephemeral: bool) -> Result<(), EmbeddedError> {
        // The socket lives in the data folder's parent: short enough for the
        // 107-byte socket path limit in the usual layouts, and private.
        let socket_dir = self
            .data_dir
            .parent()
            .unwrap_or(&self.data_dir)
            .display()
            .to_string();
        let mut server_opts = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c timezone=UTC -c max_connections=300 \
             -c shared_buffers=128MB",
            self.port,
            shell_quote(&socket_dir)
        );
        if ephemeral {
            server_opts.push_str(" -c fsync=off -c synchronous_commit=off -c full_page_writes=off");
        }
        let data = self.data_dir.display().to_string();
        let log = self.log_file().display().to_string();
        let result = self.run_pg(
            "pg_ctl",
            &[
                "start",
                "-D",
                data.as_str(),
                "-l",
                log.as_str(),
                "-o",
                server_opts.as_str(),
                "-w",
                "-t",
                "60",
            ],
        );
        result.map(|_| ()).map_err(|err| match err {
            EmbeddedError::Tool { command, stderr } => EmbeddedError::Tool {
                command,
                stderr: format!("{stderr}\n--- server log ---\n{}", self.log_tail()),
            },
            other => other,
        })
    }

    fn log_file(&self) -> PathBuf {
        self.data_dir.join("server.log")
    }

    fn log_tail(&self) -> String {
        let text = fs::read_to_string(self.log_file()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The port of a server already running on this data folder, if any.
    fn running_port(&self) -> Option<u16> {
        let data = self.data_dir.display().to_string();
        self.run_pg("pg_ctl", &["status", "-D", data.as_str()])
            .ok()?;
        // postmaster.pid: line 4 is the port.
        let pid_file = fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    /// Runs a PostgreSQL tool, as the unprivileged user when we are root.
    fn run_pg(&self, tool: &str, args: &[&str]) -> Result<Output, EmbeddedError> {
        let program = self.bin_dir.join(tool);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        command.args(args).stdin(Stdio::null());
        let output = command
            .output()
            .map_err(io(format!("running {}", program.display())))?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(EmbeddedError::Tool {
                command: format!("{} {}", program.display(), args.join(" ")),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
            })
        }
    }

    /// A detached shell that waits for this process to exit, then stops the
    /// server (and removes an ephemeral folder). Survives SIGKILL of the owner.
    fn spawn_watchdog(&self) -> Result<(), EmbeddedError> {
        let pg_ctl = self.bin_dir.join("pg_ctl").display().to_string();
        let stop = match &self.run_as {
            Some(user) => format!(
                "runuser -u {} -- {} stop -D {} -m fast -w -t 30",
                shell_quote(user),
                shell_quote(&pg_ctl),
                shell_quote(&self.data_dir.display().to_string())
            ),
            None => format!(
                "{} stop -D {} -m fast -w -t 30",
                shell_quote(&pg_ctl),
                shell_quote(&self.data_dir.display().to_string())
            ),
        };
        let cleanup = match &self.remove_dir {
            Some(dir) => format!("; rm -rf {}", shell_quote(&dir.display().to_string())),
            None => String::new(),
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1{cleanup}",
            pid = std::process::id()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(io("spawning the cluster watchdog"))?;
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            tracing::warn!(error = %err, "stopping the embedded PostgreSQL failed");
        }
    }
}

/// Where `initdb`/`pg_ctl` live: `$PG_BIN_DIR`, the newest
/// `/usr/lib/postgresql/<v>/bin`, `pg_config --bindir`, or `$PATH`.
pub fn find_bin_dir() -> Result<PathBuf, EmbeddedError> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN_DIR").map(PathBuf::from) {
        return if has_tools(&dir) {
            Ok(dir)
        } else {
            Err(EmbeddedError::BinariesNotFound)
        };
    }
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, e.path().join("bin")))
            })
            .filter(|(_, bin)| has_tools(bin))
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return Ok(bin);
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_tools(&dir) {
            return Ok(dir);
        }
    }
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .find(|dir| has_tools(dir))
        .ok_or(EmbeddedError::BinariesNotFound)
}

/// The OS user to run the server as: none for an ordinary user, `postgres`
/// (or `$PG_RUN_AS`) for root.
fn run_as_user() -> Result<Option<String>, EmbeddedError> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let user = std::env::var("PG_RUN_AS").unwrap_or_else(|_| "postgres".to_string());
    let exists = Command::new("id")
        .args(["-u", &user])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if exists {
        Ok(Some(user))
    } else {
        Err(EmbeddedError::NoRunAsUser(user))
    }
}

fn chown(dir: &Path, user: &str) -> Result<(), EmbeddedError> {
    let output = Command::new("chown")
        .args(["-R", user])
        .arg(dir)
        .output()
        .map_err(io("running chown"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(EmbeddedError::Tool {
            command: format!("chown -R {user} {}", dir.display()),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

fn absolute(path: &Path) -> Result<PathBuf, EmbeddedError> {
    std::path::absolute(path).map_err(io(format!("resolving {}", path.display())))
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port();
    Ok(port)
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

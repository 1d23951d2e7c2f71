//! A Temporal CLI dev server for tests: spawned with the project's search attributes, polled
//! until it answers (the SDK's own starter gives up after 5 s, too soon on a loaded 2-core
//! machine), and killed when dropped.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use driver_call_workflows::driver_call::SEARCH_ATTRIBUTES;

/// A running dev server.
pub struct DevServer {
    child: Child,
    port: u16,
}

impl DevServer {
    /// Starts a server that keeps its state in `db_file`.
    pub fn start(db_file: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        Self::start_on(db_file, port)
    }

    /// Starts a server on `port` (restarting one on the same file and port resumes its calls).
    /// Its HTTP and metrics ports are picked free just before it starts, and another process
    /// (an outgoing connection's ephemeral port) may take one first: then the server exits at
    /// once, and it is started again on other ones.
    pub fn start_on(db_file: &Path, port: u16) -> anyhow::Result<Self> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::try_start_on(db_file, port) {
                Err(StartError::ExitedEarly(status)) if attempts < 3 => {
                    eprintln!("the dev server exited early ({status}); starting it again");
                }
                Err(StartError::ExitedEarly(status)) => {
                    bail!("the dev server exited early: {status}")
                }
                Err(StartError::Other(error)) => return Err(error),
                Ok(server) => return Ok(server),
            }
        }
    }

    fn try_start_on(db_file: &Path, port: u16) -> Result<Self, StartError> {
        let mut command = Command::new(super::temporal_cli());
        command
            .args([
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--log-level",
                "error",
            ])
            .args(["--port", &port.to_string()])
            .args(["--http-port", &free_port()?.to_string()])
            .args(["--metrics-port", &free_port()?.to_string()])
            .arg("--db-filename")
            .arg(db_file);
        for (attribute, kind) in SEARCH_ATTRIBUTES {
            command.args(["--search-attribute", &format!("{attribute}={kind}")]);
        }
        die_with_this_thread(&mut command);
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("Failed to run {}", super::temporal_cli().display()))?;
        let mut server = Self { child, port };
        server.wait_until_listening(Duration::from_secs(60))?;
        Ok(server)
    }

    /// `127.0.0.1:port`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The server process's pid (for its CPU time in `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's gRPC port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server at once (like `kill -9`).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_listening(&mut self, timeout: Duration) -> Result<(), StartError> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(anyhow::Error::from)? {
                return Err(StartError::ExitedEarly(status));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(StartError::Other(anyhow::anyhow!(
            "the dev server did not listen on {} within {timeout:?}",
            self.port
        )))
    }
}

/// Why a start failed: the server exiting at once is worth another try.
enum StartError {
    ExitedEarly(std::process::ExitStatus),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for StartError {
    fn from(error: anyhow::Error) -> Self {
        StartError::Other(error)
    }
}

impl From<std::io::Error> for StartError {
    fn from(error: std::io::Error) -> Self {
        StartError::Other(error.into())
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The server must not outlive the tests, even when they are killed: the kernel kills it when
/// the thread that spawned it exits (so spawn it from a thread that lives as long as it should).
#[allow(unsafe_code)]
pub(crate) fn die_with_this_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

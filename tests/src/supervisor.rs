//! `scripts/supervise`, the supervisor of the embedded default, run for real on this build's
//! binaries: its processes are found by their parent, killed with `kill -9`, and watched coming
//! back. Its output (every program's log and the supervisor's own) is in `supervise.log` in the
//! run's directory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::dev_server::{die_with_this_thread, free_port};
use crate::drill::binary;
use crate::{Api, eventually, scratch_dir, workspace_root};

/// A program the supervisor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Program {
    /// The Temporal dev server.
    Temporal,
    /// `driver-call-worker`, every context.
    Worker,
    /// `driver-call-api`.
    Api,
}

impl Program {
    fn matches(self, command_line: &str) -> bool {
        match self {
            Program::Temporal => command_line.contains("temporal\0server\0start-dev"),
            Program::Worker => command_line.contains("driver-call-worker"),
            Program::Api => command_line.contains("driver-call-api"),
        }
    }
}

/// `scripts/supervise` running in its own directory and ports.
pub struct Supervised {
    child: Child,
    /// Where its databases and `supervise.log` are.
    pub dir: PathBuf,
    /// A client of its API.
    pub api: Api,
    /// The API's base URL.
    pub api_url: String,
    /// The worker's probes' base URL.
    pub worker_url: String,
    /// The Temporal Web UI's base URL (its codec endpoint is the API's).
    pub ui_url: String,
}

impl Supervised {
    /// Starts `scripts/supervise` on `target/<profile>` and waits until the API and the worker
    /// are ready.
    pub async fn start(name: &str) -> Self {
        let dir = scratch_dir(&format!("supervise-{name}")).expect("dir");
        let port = |_| free_port().expect("port");
        let [temporal, ui, api, worker, metrics] = [0; 5].map(port);
        let log = std::fs::File::create(dir.join("supervise.log")).expect("log");
        let bin_dir = binary("driver-call-api")
            .parent()
            .expect("target/<profile>")
            .to_path_buf();
        let mut command = Command::new(workspace_root().join("scripts/supervise"));
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .env("BIN_DIR", &bin_dir)
            .env("DATA_DIR", &dir)
            .env("TEMPORAL_ADDRESS", format!("127.0.0.1:{temporal}"))
            .env("UI_PORT", ui.to_string())
            .env("API_ADDR", format!("127.0.0.1:{api}"))
            .env("OPERATOR_PASSWORD", crate::OPERATOR_PASSWORD)
            .env("WORKER_HTTP_ADDR", format!("127.0.0.1:{worker}"))
            .env("WORKER_METRICS_ADDR", format!("127.0.0.1:{metrics}"))
            .env("WORKER_SHUTDOWN_GRACE", "5s")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        die_with_this_thread(&mut command);
        let child = command.spawn().expect("scripts/supervise starts");
        let supervised = Self {
            child,
            api: Api::at(&format!("http://127.0.0.1:{api}")),
            api_url: format!("http://127.0.0.1:{api}"),
            worker_url: format!("http://127.0.0.1:{worker}"),
            ui_url: format!("http://127.0.0.1:{ui}"),
            dir,
        };
        supervised.wait_ready().await;
        supervised
    }

    /// Polls the API's and the worker's `/readyz` until both answer 200.
    pub async fn wait_ready(&self) {
        let http = reqwest::Client::new();
        for url in [&self.api_url, &self.worker_url] {
            let url = format!("{url}/readyz");
            eventually(Duration::from_secs(120), &url, || {
                let request = http.get(&url).timeout(Duration::from_secs(2)).send();
                async move { request.await.ok().filter(|r| r.status() == 200).map(|_| ()) }
            })
            .await;
        }
    }

    /// The pid of the supervisor's child running `program`, if one runs.
    pub fn pid_of(&self, program: Program) -> Option<i32> {
        let parent = self.child.id().to_string();
        std::fs::read_dir("/proc")
            .ok()?
            .flatten()
            .find_map(|entry| {
                let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
                let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
                // pid (comm) state ppid ...: the comm may hold spaces, so read after the last ')'.
                let ppid = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?;
                if ppid != parent {
                    return None;
                }
                let command_line = std::fs::read_to_string(entry.path().join("cmdline")).ok()?;
                program.matches(&command_line).then_some(pid)
            })
    }

    /// `kill -9` of `program`; waits until the supervisor has started a new one and returns
    /// the old and the new pid.
    pub async fn kill_and_wait_for_restart(&self, program: Program) -> (i32, i32) {
        let old = self.pid_of(program).expect("the program runs");
        kill(old, libc::SIGKILL);
        let new = eventually(Duration::from_secs(60), "a restarted process", || async {
            self.pid_of(program).filter(|pid| *pid != old)
        })
        .await;
        (old, new)
    }

    /// What the supervisor and its programs logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("supervise.log")).unwrap_or_default()
    }

    /// SIGTERM to the supervisor; waits (up to `timeout`) for it and every program to exit.
    pub async fn stop(mut self, timeout: Duration) -> std::process::ExitStatus {
        let pids: Vec<i32> = [Program::Temporal, Program::Worker, Program::Api]
            .into_iter()
            .filter_map(|p| self.pid_of(p))
            .collect();
        kill(i32::try_from(self.child.id()).expect("pid"), libc::SIGTERM);
        let status = eventually(timeout, "the supervisor to exit", || {
            let exited = self.child.try_wait().expect("wait");
            async move { exited }
        })
        .await;
        for pid in pids {
            let alive = std::path::Path::new(&format!("/proc/{pid}/stat")).exists()
                && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .unwrap_or_default()
                    .contains(") Z ");
            assert!(!alive, "process {pid} outlived the supervisor");
        }
        status
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[allow(unsafe_code)]
fn kill(pid: i32, signal: libc::c_int) {
    // SAFETY: kill(2) on a pid of this test's own process tree.
    let sent = unsafe { libc::kill(pid, signal) };
    assert_eq!(sent, 0, "signal {signal} to {pid}");
}

//! Many idle event streams held open at once, as the bench's modes hold them: one HTTP/1.1
//! connection each (a phone's), each read by a task of its own into what its [`Listener`] keeps,
//! with one signal for whoever waits on any of them. The watchers mode holds drivers' offers
//! streams this way, the rest mode customers' event streams.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use anyhow::{Context as _, bail};
use futures::StreamExt;
use tokio::sync::watch;

/// What one stream's reader keeps of the events it reads.
pub(super) trait Listener: Default + Send + 'static {
    /// Takes in one event (the block of lines up to its blank line) that came at `at`, `wall`
    /// on the clock; whether it changed anything a waiter may be waiting on.
    fn hear(&mut self, block: &str, at: Instant, wall: SystemTime) -> bool;

    /// The server ended the stream.
    fn end(&mut self);
}

/// The open streams, each with what its listener kept.
pub(super) struct Streams<L> {
    /// One per token, in the order of the tokens.
    pub(super) streams: Vec<Arc<Mutex<L>>>,
    /// Bumped whenever any listener heard something or its stream ended.
    changed: watch::Receiver<u64>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl<L: Listener> Streams<L> {
    /// Opens `GET {base}{path}` once per token, each on its own HTTP/1.1 connection.
    pub(super) async fn open(base: &str, path: &str, tokens: &[String]) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder().http1_only().build()?;
        let (bump, changed) = watch::channel(0u64);
        let bump = Arc::new(bump);
        let opened = futures::stream::iter(tokens)
            .map(|token| {
                let request = http
                    .get(format!("{base}{path}"))
                    .header("accept", "text/event-stream")
                    .bearer_auth(token)
                    .send();
                async move {
                    let response = request.await.with_context(|| format!("open {path}"))?;
                    if response.status() != 200 {
                        bail!("{path} answered {}", response.status());
                    }
                    anyhow::Ok(response)
                }
            })
            .buffered(32)
            .collect::<Vec<_>>()
            .await;
        let mut streams = Self {
            streams: Vec::new(),
            changed,
            readers: Vec::new(),
        };
        for response in opened {
            let state = Arc::new(Mutex::new(L::default()));
            let reader = tokio::spawn(read(response?, state.clone(), bump.clone()));
            streams.streams.push(state);
            streams.readers.push(reader);
        }
        Ok(streams)
    }

    /// Waits until `done` holds for the streams, or `deadline`; whether it holds.
    pub(super) async fn until(
        &mut self,
        deadline: Instant,
        done: impl Fn(&[Arc<Mutex<L>>]) -> bool,
    ) -> bool {
        loop {
            self.changed.borrow_and_update();
            if done(&self.streams) {
                return true;
            }
            let changed = self.changed.changed();
            match tokio::time::timeout_at(deadline.into(), changed).await {
                Ok(Ok(())) => {}
                _ => return done(&self.streams),
            }
        }
    }

    /// How many of the streams' listeners `holds` holds for.
    pub(super) fn count(&self, holds: impl Fn(&L) -> bool) -> usize {
        self.streams
            .iter()
            .filter(|s| holds(&s.lock().expect("lock")))
            .count()
    }
}

impl<L> Drop for Streams<L> {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}

/// Reads one stream until it ends, handing its listener each event with when it came.
async fn read<L: Listener>(
    response: reqwest::Response,
    state: Arc<Mutex<L>>,
    bump: Arc<watch::Sender<u64>>,
) {
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(Ok(chunk)) = body.next().await {
        let (at, wall) = (Instant::now(), SystemTime::now());
        buffer.extend_from_slice(&chunk);
        let mut changed = false;
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let block: Vec<u8> = buffer.drain(..end + 2).collect();
            let block = String::from_utf8_lossy(&block);
            changed |= state.lock().expect("lock").hear(&block, at, wall);
        }
        if changed {
            bump.send_modify(|n| *n += 1);
        }
    }
    state.lock().expect("lock").end();
    bump.send_modify(|n| *n += 1);
}

/// An event's `event:` name (`message` when it has none) and its `data:` lines joined.
pub(super) fn event_of(block: &str) -> (&str, String) {
    let mut event = "message";
    let mut data = String::new();
    for line in block.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim();
        } else if let Some(more) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(more.strip_prefix(' ').unwrap_or(more));
        }
    }
    (event, data)
}

/// Makes room for `streams` open streams: each is a socket here and one in the API, which
/// inherits this process's limit of open files.
pub(super) fn make_room_for(streams: usize) -> anyhow::Result<()> {
    raise_open_files((2 * streams + 512) as libc::rlim_t)
}

/// Raises this process's soft limit of open files to its hard limit when it is below `wanted`.
#[allow(unsafe_code)]
fn raise_open_files(wanted: libc::rlim_t) -> anyhow::Result<()> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("read RLIMIT_NOFILE");
    }
    if limit.rlim_cur >= wanted {
        return Ok(());
    }
    if limit.rlim_max < wanted {
        bail!(
            "{wanted} open files are needed and the hard limit is {}: raise it (ulimit -Hn)",
            limit.rlim_max
        );
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: setrlimit reads the struct it is given.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(std::io::Error::last_os_error()).context("raise RLIMIT_NOFILE");
    }
    Ok(())
}

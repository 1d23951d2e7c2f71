//! Reading server-sent events the way a browser's `EventSource` does, for the stream tests.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    /// Its `id:`.
    pub id: String,
    /// Its `event:`.
    pub event: String,
    /// Its `data:`, as JSON.
    pub data: Value,
}

/// The events of one open stream, read one at a time.
pub struct SseReader {
    body: BoxStream<'static, reqwest::Result<Vec<u8>>>,
    buffer: String,
}

impl SseReader {
    /// Reads the stream `response` answered with.
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            body: response
                .bytes_stream()
                .map(|chunk| chunk.map(|bytes| bytes.to_vec()))
                .boxed(),
            buffer: String::new(),
        }
    }

    /// The next complete event (comments and keep-alives skipped); fails after 30 s.
    pub async fn next(&mut self) -> Sse {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return event;
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("an event arrives in time")
                .expect("the stream stays open")
                .expect("a chunk");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next complete event, or `None` once the server has ended the stream; fails after 30 s.
    pub async fn try_next(&mut self) -> Option<Sse> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .expect("an event or the end arrives in time")?;
            let Ok(chunk) = chunk else { return None };
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next event for which `wanted` holds, skipping the others.
    pub async fn until(&mut self, mut wanted: impl FnMut(&Sse) -> bool) -> Sse {
        loop {
            let event = self.next().await;
            if wanted(&event) {
                return event;
            }
        }
    }
}

/// Reads `count` events from an SSE response.
pub async fn read_events(response: reqwest::Response, count: usize) -> Vec<Sse> {
    let mut reader = SseReader::new(response);
    let mut events = Vec::with_capacity(count);
    while events.len() < count {
        events.push(reader.next().await);
    }
    events
}

fn parse(block: &str) -> Option<Sse> {
    let field = |name: &str| {
        block
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .map(|v| v.trim().to_owned())
    };
    Some(Sse {
        // An event without an `id:` (an offers stream's `availability`) keeps the last one.
        id: field("id").unwrap_or_default(),
        event: field("event")?,
        data: serde_json::from_str(&field("data")?).ok()?,
    })
}

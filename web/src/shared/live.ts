// Server-sent events with the bearer token: EventSource cannot send headers, so the apps read
// the streams with fetch (@microsoft/fetch-event-source), which reconnects on its own and sends
// `Last-Event-ID` so a reconnect resumes where the stream stopped.
import { fetchEventSource } from "@microsoft/fetch-event-source";
import type { Session } from "./client";

/** One event of a stream. */
export interface LiveEvent {
  id: string;
  event: string;
  data: string;
}

/**
 * The call an event of `/dashboards/events` names, if it names one; not JSON (a keep-alive or a
 * comment) or no `callId`: undefined, and the reader refreshes everything.
 */
export function callIdOf(event: LiveEvent): string | undefined {
  try {
    const data = JSON.parse(event.data) as { callId?: unknown };
    return typeof data.callId === "string" ? data.callId : undefined;
  } catch {
    return undefined;
  }
}

/** Why a stream stopped for good (the caller may not read it): the status it was answered. */
class Refused extends Error {
  constructor(readonly status: number) {
    super(`stream answered ${status}`);
  }
}

/** How long to wait before reconnecting after the stream broke. */
const RECONNECT_MS = 1000;

/**
 * Follows the stream at `path` until the returned function is called. `onEvent` gets each event;
 * `onConnection` is told when the stream is up and when it broke (it keeps reconnecting);
 * `onRefused` when the API refused it (a 4xx but 429: a 401 is a lapsed sign-in or a disabled
 * account), after which it is not retried.
 */
export function follow(
  session: Session,
  path: string,
  onEvent: (event: LiveEvent) => void,
  onConnection: (connected: boolean) => void = () => {},
  onRefused: (status: number) => void = () => {},
): () => void {
  const controller = new AbortController();
  void fetchEventSource(path, {
    signal: controller.signal,
    openWhenHidden: true,
    headers: session.token ? { Authorization: `Bearer ${session.token}` } : {},
    async onopen(response) {
      if (response.ok) {
        onConnection(true);
        return;
      }
      if (response.status >= 400 && response.status < 500 && response.status !== 429) {
        throw new Refused(response.status);
      }
      throw new Error(`stream answered ${response.status}`);
    },
    onmessage(message) {
      onEvent({ id: message.id, event: message.event, data: message.data });
    },
    onclose() {
      // The server ended the stream (e.g. the read model failed): reconnect.
      onConnection(false);
      throw new Error("stream closed");
    },
    onerror(error) {
      onConnection(false);
      if (error instanceof Refused) {
        onRefused(error.status);
        throw error;
      }
      return RECONNECT_MS;
    },
  }).catch(() => {});
  return () => controller.abort();
}

/** Whether the browser is online, kept current; `onChange` hears each change. */
export function watchNetwork(onChange: (online: boolean) => void): () => void {
  const up = () => onChange(true);
  const down = () => onChange(false);
  window.addEventListener("online", up);
  window.addEventListener("offline", down);
  return () => {
    window.removeEventListener("online", up);
    window.removeEventListener("offline", down);
  };
}

// Hooks of the customer app: following a server-sent-event stream (the clock is shared/time.ts).
import { useEffect, useRef } from "preact/hooks";
import { follow, type LiveEvent } from "../shared/live";
import { session } from "./session";

/** How long a broken stream may stay silent before it is started again. */
const RESTART_MS = 5000;

/** Tells the app whether one of its streams is up (`null`: the stream is gone). */
export type StreamReport = (key: string, up: boolean | null) => void;

/**
 * Follows the stream at `path` (none while null) for as long as the component shows; each event
 * goes to `onEvent`, each connection change to `onConnection` and to the app's network readout.
 */
export function useFollow(
  path: string | null,
  onEvent: (event: LiveEvent) => void,
  onConnection: (up: boolean) => void,
  reportStream: StreamReport,
): void {
  const handlers = useRef({ onEvent, onConnection, reportStream });
  handlers.current = { onEvent, onConnection, reportStream };
  useEffect(() => {
    if (!path) return;
    const key = path;
    let stop = () => {};
    let watchdog: number | undefined;
    const start = () => {
      stop = follow(
        session,
        path,
        (event) => handlers.current.onEvent(event),
        (up) => {
          window.clearTimeout(watchdog);
          handlers.current.reportStream(key, up);
          handlers.current.onConnection(up);
          // A stream the server refused (a 4xx) is not retried by `follow`; one that is retried
          // reports again within a few seconds. Silence after a break: start it again.
          if (!up) {
            watchdog = window.setTimeout(() => {
              stop();
              start();
            }, RESTART_MS);
          }
        },
      );
    };
    start();
    return () => {
      window.clearTimeout(watchdog);
      stop();
      handlers.current.reportStream(key, null);
    };
  }, [path]);
}

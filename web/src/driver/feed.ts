// The driver's live feed, `/catches/events`: the open offers they may catch (`offers`, the whole
// list each time) and whether they are online (`availability`), for as long as they are signed
// in. Keeping it open is also how the API knows the driver is there (spec section 9: a driver not
// heard from for PRESENCE_TIMEOUT is put offline), so it stays open while offline or on a trip.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { attempt, failureMessage } from "../shared/client";
import { follow } from "../shared/live";
import { signedOut } from "../shared/report";
import { api, session, type Availability, type Offer } from "./api";

/** How often, at most, a broken stream makes the app re-read the list (and learn of a 401). */
const PROBE_MS = 3000;
/** How long the stream may be down before the driver is told (a reconnect takes about 1 s). */
const GRACE_MS = 2000;
/** A stream the API refused for another reason than the sign-in is started again after this. */
const RESTART_MS = 5000;

export interface FeedHandlers {
  /**
   * The API says whether the driver is online, and whether they are on a call (and which, if it
   * says), e.g. one an operator assigned them.
   */
  onAvailability: (online: boolean, onCall: boolean, callId: string | null) => void;
  onMessage: (message: string | null) => void;
  /** A 401: the sign-in lapsed or the account was disabled. */
  onExpired: () => void;
  /** Told when the stream breaks (`false`) and when it is up again (`true`). */
  onStream: (up: boolean) => void;
}

export interface Feed {
  /** The open offers as last heard (those the driver learned are gone left out); null: not yet. */
  offers: Offer[] | null;
  /** Hides an offer the driver learned is gone (a lost race, a 404) for good. */
  drop: (callId: string) => void;
  /** Forgets the list and reads it afresh (after going online or offline). */
  reload: () => void;
}

/** Reads `/catches/events` (and `GET /catches`) while `active`. */
export function useFeed(active: boolean, handlers: FeedHandlers): Feed {
  const [offers, setOffers] = useState<Offer[] | null>(null);
  // Offers this driver learned are gone (lost race, vanished): never shown again.
  const dropped = useRef(new Set<string>());
  // How many `offers` events arrived: a GET answered after a newer event is stale.
  const events = useRef(0);
  const latest = useRef(handlers);
  latest.current = handlers;
  const loader = useRef<(first: boolean) => Promise<void>>(async () => {});

  function show(list: Offer[]) {
    setOffers(list.filter((offer) => !dropped.current.has(offer.callId)));
  }

  useEffect(() => {
    if (!active) return;
    // A new sign-in (perhaps another driver's in this tab) starts from nothing.
    setOffers(null);
    dropped.current = new Set();
    events.current = 0;
    let alive = true;
    let lastProbe = 0;
    let grace = 0;
    let restart = 0;
    let stop = () => {};

    async function load(first: boolean) {
      const mark = events.current;
      const r = await attempt<Offer[]>(api.GET("/catches"));
      if (!alive) return;
      if (!r.ok) {
        if (signedOut(r, latest.current.onExpired)) return;
        if (first && r.status !== 0) latest.current.onMessage(failureMessage(r));
        return;
      }
      if (events.current === mark) show(r.data);
    }
    loader.current = load;

    function onEvent(event: { event: string; data: string }) {
      let data: unknown;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (event.event === "offers" && Array.isArray(data)) {
        events.current += 1;
        show(data as Offer[]);
      } else if (event.event === "availability" && data && typeof data === "object") {
        // `{online, onCall}` (GET /catches/events's description; the event's data has no schema
        // of its own in the API document, `online` is `Availability`'s); `callId` if it names one.
        const { online, onCall, callId } = data as Partial<Availability> & {
          onCall?: unknown;
          callId?: unknown;
        };
        if (typeof online === "boolean") {
          latest.current.onAvailability(
            online,
            onCall === true,
            typeof callId === "string" ? callId : null,
          );
        }
      }
    }

    function onConnection(up: boolean) {
      if (!alive) return;
      // A stream that reconnects at once (the server ended it) is not worth a warning; one
      // that stays down (it says so again on each failed retry) is.
      if (up) {
        window.clearTimeout(grace);
        grace = 0;
        latest.current.onStream(true);
      } else if (!grace) {
        grace = window.setTimeout(() => {
          if (alive) latest.current.onStream(false);
        }, GRACE_MS);
      }
      if (!up && Date.now() - lastProbe > PROBE_MS) {
        // Keep the list as fresh as a plain GET can, and find out whether the sign-in lapsed.
        lastProbe = Date.now();
        void load(false);
      }
    }

    function onRefused(status: number) {
      if (!alive) return;
      // A 401 (the sign-in lapsed, or an operator disabled the driver, which also ends the
      // stream): signed out, and told why. Anything else: try again in a while.
      if (status === 401) {
        latest.current.onExpired();
        return;
      }
      restart = window.setTimeout(start, RESTART_MS);
    }

    function start() {
      if (!alive) return;
      stop();
      stop = follow(session, "/catches/events", onEvent, onConnection, onRefused);
    }

    void load(true);
    start();
    return () => {
      alive = false;
      window.clearTimeout(grace);
      window.clearTimeout(restart);
      stop();
      loader.current = async () => {};
      latest.current.onStream(true);
    };
  }, [active]);

  const drop = useCallback((callId: string) => {
    dropped.current.add(callId);
    setOffers((list) => (list ? list.filter((offer) => offer.callId !== callId) : list));
  }, []);

  const reload = useCallback(() => {
    setOffers(null);
    void loader.current(false);
  }, []);

  return { offers: active ? offers : null, drop, reload };
}

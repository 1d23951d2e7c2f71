// The live list of open offers in the driver's areas, and catching one.
import { useEffect, useRef, useState } from "preact/hooks";
import { attempt, failureMessage } from "../shared/client";
import { follow } from "../shared/live";
import { signedOut } from "../shared/report";
import { useNow } from "../shared/time";
import { won } from "../shared/ui";
import { api, destinationOf, session, type Offer, type TripView } from "./api";
import { ago } from "./time";

/** How often, at most, a broken stream makes the app re-read the list (and learn of a 401). */
const PROBE_MS = 3000;
/** How long the stream may be down before the driver is told (a reconnect takes about 1 s). */
const GRACE_MS = 2000;

export function Offers(props: {
  onCaught: (view: TripView) => void;
  onMessage: (message: string | null) => void;
  onExpired: () => void;
  /** Told when the offers stream breaks (`false`) and when it is up again (`true`). */
  onStream: (up: boolean) => void;
}) {
  const [offers, setOffers] = useState<Offer[] | null>(null);
  const [catching, setCatching] = useState<string | null>(null);
  const now = useNow();
  // Offers this driver learned are gone (lost race, vanished): never shown again.
  const dropped = useRef(new Set<string>());
  // How many stream events arrived: a GET answered after a newer event is stale.
  const events = useRef(0);
  const latest = useRef(props);
  latest.current = props;

  function show(list: Offer[]) {
    setOffers(list.filter((offer) => !dropped.current.has(offer.callId)));
  }

  useEffect(() => {
    let alive = true;
    let lastProbe = 0;
    let grace = 0;

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

    void load(true);
    const stop = follow(
      session,
      "/catches/events",
      (event) => {
        if (event.event !== "offers") return;
        let list: unknown;
        try {
          list = JSON.parse(event.data);
        } catch {
          return;
        }
        if (!Array.isArray(list)) return;
        events.current += 1;
        show(list as Offer[]);
      },
      (up) => {
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
      },
    );
    return () => {
      alive = false;
      window.clearTimeout(grace);
      stop();
      latest.current.onStream(true);
    };
  }, []);

  function drop(callId: string) {
    dropped.current.add(callId);
    setOffers((list) => (list ? list.filter((offer) => offer.callId !== callId) : list));
  }

  async function catchOffer(offer: Offer) {
    if (catching) return;
    setCatching(offer.callId);
    const r = await attempt<TripView>(
      api.POST("/catches/{call_id}", { params: { path: { call_id: offer.callId } } }),
    );
    if (r.ok) {
      props.onMessage(null);
      props.onCaught(r.data);
      return;
    }
    setCatching(null);
    if (signedOut(r, props.onExpired)) return;
    if (r.status === 409) {
      drop(offer.callId);
      props.onMessage("다른 기사님이 먼저 배차받았습니다.");
    } else if (r.status === 404) {
      drop(offer.callId);
      props.onMessage("이미 사라진 호출입니다.");
    } else {
      props.onMessage(failureMessage(r));
    }
  }

  return (
    <section aria-labelledby="offers-title">
      <h2 id="offers-title">들어온 호출{offers && offers.length > 0 ? ` (${offers.length}건)` : ""}</h2>
      <ul class="plain offers" data-testid="offer-list">
        {(offers ?? []).map((offer) => (
          <li key={offer.callId} data-testid="offer-item" data-call-id={offer.callId}>
            <p class="route">{`${offer.location} → ${destinationOf(offer.destination)}`}</p>
            <p class="meta">
              <strong class="fare">{won(offer.payAmount)}</strong>
              <span class="muted">
                <time dateTime={offer.receivedAt}>{ago(offer.receivedAt, now)}</time> 접수
              </span>
            </p>
            <button
              type="button"
              data-testid="catch"
              disabled={catching !== null}
              onClick={() => void catchOffer(offer)}
            >
              {catching === offer.callId ? "배차 받는 중…" : "배차 받기"}
            </button>
          </li>
        ))}
      </ul>
      {offers === null ? (
        <p class="muted">호출을 불러오는 중…</p>
      ) : (
        offers.length === 0 && (
          <p class="muted">지금 들어온 호출이 없습니다. 새 호출은 자동으로 나타납니다.</p>
        )
      )}
    </section>
  );
}

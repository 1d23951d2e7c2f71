// The live list of open offers in the driver's areas (from the feed, ./feed.ts), and catching one.
import { useState } from "preact/hooks";
import { attempt, failureMessage } from "../shared/client";
import { signedOut } from "../shared/report";
import { useNow } from "../shared/time";
import { won } from "../shared/ui";
import { api, destinationOf, type Offer, type TripView } from "./api";
import { ago } from "./time";

export function Offers(props: {
  /** The open offers as the feed last heard them (null: not read yet). */
  offers: Offer[] | null;
  /** Whether the driver is online: offline, no offer is shown (the API sends none either). */
  online: boolean;
  /** The driver is on a call this screen does not show (e.g. one an operator assigned). */
  onCall: boolean;
  /** Hides an offer the driver learned is gone. */
  onGone: (callId: string) => void;
  onCaught: (view: TripView) => void;
  onMessage: (message: string | null) => void;
  onExpired: () => void;
}) {
  const [catching, setCatching] = useState<string | null>(null);
  const now = useNow(props.online);
  const offers = props.online ? props.offers : [];

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
      props.onGone(offer.callId);
      props.onMessage("다른 기사님이 먼저 배차받았습니다.");
    } else if (r.status === 404) {
      props.onGone(offer.callId);
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
      {props.onCall && (
        <p class="notice" role="status" data-testid="on-call-notice">
          배차된 호출이 있어 새 호출을 받지 않습니다. 운영자가 배정한 호출이면 운영자에게 확인해 주세요.
        </p>
      )}
      {!props.online ? (
        <p class="muted" data-testid="offers-offline">
          오프라인일 때는 호출이 들어오지 않습니다.
        </p>
      ) : offers === null ? (
        <p class="muted">호출을 불러오는 중…</p>
      ) : (
        offers.length === 0 &&
        !props.onCall && (
          <p class="muted">지금 들어온 호출이 없습니다. 새 호출은 자동으로 나타납니다.</p>
        )
      )}
    </section>
  );
}

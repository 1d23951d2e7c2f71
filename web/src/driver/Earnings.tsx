// Today's completed trips and what they earned.
import { useEffect, useRef, useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { signedOut } from "../shared/report";
import { clock, won } from "../shared/ui";
import { api, destinationOf, type Earnings as Today } from "./api";

/** How often, and how many times, the earnings are read again until a completed trip is in. */
const AWAIT_MS = 1000;
const AWAIT_TRIES = 20;

export function Earnings(props: {
  /**
   * The trip completed last, if any. The catcher records a completion just after the call's
   * answer, so the earnings are read again until they hold it.
   */
  completed: string | null;
  onExpired: () => void;
}) {
  const [today, setToday] = useState<Today | null>(null);
  const [failed, setFailed] = useState(false);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    let alive = true;
    let timer = 0;
    const read = async (tries: number) => {
      const r = await attempt<Today>(api.GET("/drivers/me/earnings"));
      if (!alive) return;
      if (r.ok) {
        setToday(r.data);
        setFailed(false);
        const waiting = props.completed && !r.data.trips.some((t) => t.callId === props.completed);
        if (waiting && tries > 1) timer = window.setTimeout(() => void read(tries - 1), AWAIT_MS);
      } else if (!signedOut(r, latest.current.onExpired)) {
        setFailed(true);
      }
    };
    void read(AWAIT_TRIES);
    return () => {
      alive = false;
      window.clearTimeout(timer);
    };
  }, [props.completed]);

  return (
    <section aria-labelledby="earnings-title">
      <h2 id="earnings-title">오늘의 운행</h2>
      <p class="earnings" data-testid="earnings-today" aria-live="polite">
        {today
          ? `오늘 ${today.trips.length}건 · ${won(today.total)}`
          : failed
            ? "수입을 불러오지 못했습니다."
            : "불러오는 중…"}
      </p>
      {today && today.trips.length > 0 && (
        <ul class="plain" aria-label="오늘 완료한 운행">
          {today.trips.map((trip) => (
            <li key={trip.callId} data-call-id={trip.callId}>
              <span class="muted">{clock(trip.completedAt)}</span>{" "}
              {trip.location} → {destinationOf(trip.destination)} · <strong>{won(trip.payAmount)}</strong>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

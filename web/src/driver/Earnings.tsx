// Today's completed trips and what they earned.
import { useEffect, useRef, useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { signedOut } from "../shared/report";
import { clock, won } from "../shared/ui";
import { api, destinationOf, type Earnings as Today } from "./api";

export function Earnings(props: {
  /** Bumped when the earnings changed (a trip completed): read them again. */
  version: number;
  onExpired: () => void;
}) {
  const [today, setToday] = useState<Today | null>(null);
  const [failed, setFailed] = useState(false);
  const latest = useRef(props);
  latest.current = props;

  useEffect(() => {
    let alive = true;
    void (async () => {
      const r = await attempt<Today>(api.GET("/drivers/me/earnings"));
      if (!alive) return;
      if (r.ok) {
        setToday(r.data);
        setFailed(false);
      } else if (!signedOut(r, latest.current.onExpired)) {
        setFailed(true);
      }
    })();
    return () => {
      alive = false;
    };
  }, [props.version]);

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

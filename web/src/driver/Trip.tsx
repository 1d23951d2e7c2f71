// The caught call: its status, where to go, the customer's (masked) number, and the next step.
import { useEffect, useRef, useState } from "preact/hooks";
import { attempt, failureMessage, type Outcome } from "../shared/client";
import { follow } from "../shared/live";
import { signedOut } from "../shared/report";
import { hms, useNow } from "../shared/time";
import { StatusBadge, TERMINAL, won } from "../shared/ui";
import { api, destinationOf, session, type TripView } from "./api";

/** Events this close together re-read the trip once. */
const COALESCE_MS = 200;

type Step = "arrive" | "start" | "complete" | "no-show";

/** What a finished trip tells the driver. */
const ENDINGS: Record<string, string> = {
  COMPLETED: "운행을 마쳤습니다. 수고하셨습니다.",
  CANCELLED: "고객이 호출을 취소했습니다.",
  NO_SHOW: "노쇼로 처리했습니다.",
  DENIED: "운영자가 호출을 취소했습니다.",
  EXPIRED: "호출이 만료되었습니다.",
  PAYMENT_REJECTED: "결제가 거절된 호출입니다.",
};

export function Trip(props: {
  callId: string;
  /** The view the catch answered, if the trip was just caught (else it is read). */
  initial: TripView | null;
  onMessage: (message: string | null) => void;
  onExpired: () => void;
  /** Back to the offers (the trip is over, or gone). */
  onBack: () => void;
  /** The trip reached COMPLETED (today's earnings changed). */
  onCompleted: () => void;
  /** Told when reading the trip fails for the network (`false`) and when it works again. */
  onLink: (up: boolean) => void;
}) {
  const [view, setView] = useState<TripView | null>(props.initial);
  const [busy, setBusy] = useState(false);
  const now = useNow();
  const latest = useRef(props);
  latest.current = props;
  const alive = useRef(true);
  // Requests are numbered as they start; an answer older than the one shown is dropped.
  const started = useRef(0);
  const shown = useRef(0);

  useEffect(() => {
    alive.current = true;
    return () => {
      alive.current = false;
      latest.current.onLink(true);
    };
  }, []);

  function apply(seq: number, next: TripView) {
    if (!alive.current || seq < shown.current) return;
    shown.current = seq;
    setView(next);
  }

  async function refresh(): Promise<void> {
    const seq = ++started.current;
    const r = await attempt<TripView>(
      api.GET("/calls/{call_id}", { params: { path: { call_id: props.callId } } }),
    );
    if (!alive.current) return;
    if (r.status === 0) {
      latest.current.onLink(false);
      return;
    }
    latest.current.onLink(true);
    if (r.ok) {
      apply(seq, r.data);
    } else if (signedOut(r, latest.current.onExpired)) {
      return;
    } else if (r.status === 404) {
      latest.current.onMessage("이미 사라진 호출입니다.");
      latest.current.onBack();
    }
    // Anything else (503 and the like) is passing: the next event reads it again.
  }

  const status = view?.status ?? null;
  const over = status !== null && TERMINAL.has(status);

  // Keep the trip live while it is under way (the customer may cancel): each event of the
  // call's stream re-reads it; a burst of them (as on connecting) is read once.
  useEffect(() => {
    if (over) return;
    if (view === null) void refresh();
    let pending = 0;
    const stop = follow(
      session,
      `/calls/${props.callId}/events`,
      () => {
        if (pending) return;
        pending = window.setTimeout(() => {
          pending = 0;
          void refresh();
        }, COALESCE_MS);
      },
      (up) => {
        latest.current.onLink(up);
        // A broken stream may mean a lost sign-in or a call gone: a read tells which.
        if (!up) void refresh();
      },
    );
    return () => {
      stop();
      window.clearTimeout(pending);
    };
  }, [over, props.callId]);

  // Today's earnings change when the trip completes (by this app's step or seen on the stream).
  const completedSeen = useRef(false);
  useEffect(() => {
    if (status === "COMPLETED" && !completedSeen.current) {
      completedSeen.current = true;
      latest.current.onCompleted();
    }
  }, [status]);

  async function step(kind: Step) {
    if (busy) return;
    setBusy(true);
    const seq = ++started.current;
    const at = { params: { path: { call_id: props.callId } } };
    const request =
      kind === "arrive"
        ? api.POST("/catches/{call_id}/arrive", at)
        : kind === "start"
          ? api.POST("/catches/{call_id}/start", at)
          : kind === "complete"
            ? api.POST("/catches/{call_id}/complete", at)
            : api.POST("/catches/{call_id}/no-show", at);
    const r: Outcome<TripView> = await attempt<TripView>(request);
    if (!alive.current) return;
    setBusy(false);
    if (r.ok) {
      props.onMessage(null);
      apply(seq, r.data);
      return;
    }
    if (signedOut(r, props.onExpired)) return;
    if (r.status === 409) props.onMessage("지금은 할 수 없는 단계입니다.");
    else if (r.status === 404) props.onMessage("이미 사라진 호출입니다.");
    else props.onMessage(failureMessage(r));
    await refresh();
  }

  if (view === null) {
    return (
      <section aria-labelledby="trip-title">
        <h2 id="trip-title">배차받은 호출</h2>
        <p class="muted">호출을 불러오는 중…</p>
      </section>
    );
  }

  const noShowAt = view.noShowFrom ? new Date(view.noShowFrom).getTime() : Number.NaN;
  const noShowReady = Number.isNaN(noShowAt) || now >= noShowAt;
  const ending = over ? ENDINGS[view.status] : undefined;

  return (
    <section aria-labelledby="trip-title" class="trip">
      <h2 id="trip-title">배차받은 호출</h2>
      <p class="trip-state">
        상태 <StatusBadge status={view.status} testid="trip-status" />
      </p>
      <dl class="facts">
        <dt>출발지</dt>
        <dd data-testid="trip-pickup">{view.location}</dd>
        <dt>목적지</dt>
        <dd data-testid="trip-destination">{destinationOf(view.destination)}</dd>
        <dt>요금</dt>
        <dd data-testid="trip-fare">{won(view.payAmount)}</dd>
        <dt>고객 번호</dt>
        <dd data-testid="trip-mobile">{view.mobile}</dd>
      </dl>
      {ending && (
        <p class="notice" role="status" data-testid="trip-notice">
          {ending}
        </p>
      )}
      <div class="actions">
        {view.status === "CAUGHT" && (
          <button type="button" data-testid="arrive" disabled={busy} onClick={() => void step("arrive")}>
            도착
          </button>
        )}
        {view.status === "ARRIVED" && (
          <>
            <button
              type="button"
              data-testid="start-trip"
              disabled={busy}
              onClick={() => void step("start")}
            >
              운행 시작
            </button>
            <button
              type="button"
              class="danger"
              data-testid="no-show"
              disabled={busy || !noShowReady}
              aria-describedby={noShowReady ? undefined : "no-show-from"}
              onClick={() => void step("no-show")}
            >
              노쇼 처리
            </button>
          </>
        )}
        {view.status === "DRIVING" && (
          <button
            type="button"
            data-testid="complete-trip"
            disabled={busy}
            onClick={() => void step("complete")}
          >
            운행 완료
          </button>
        )}
        {over && (
          <button
            type="button"
            class="secondary"
            data-testid="back-to-offers"
            onClick={() => {
              props.onMessage(null);
              props.onBack();
            }}
          >
            목록으로
          </button>
        )}
      </div>
      {view.status === "ARRIVED" && !noShowReady && view.noShowFrom && (
        <p class="muted" id="no-show-from" data-testid="no-show-from">
          노쇼 처리는 {hms(view.noShowFrom)}부터 가능
        </p>
      )}
    </section>
  );
}

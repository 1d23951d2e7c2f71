// The call being followed live (spec section 8): its status, the driver once caught, the
// timeline, paying while CREATED and cancelling while allowed (told of any fee beforehand).
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { reportFailure, signedOut, type Report } from "../shared/report";
import { hms, useNow } from "../shared/time";
import { StatusBadge, TERMINAL, won } from "../shared/ui";
import { useFollow, type StreamReport } from "./hooks";
import { api, CANCELLABLE, type CallView } from "./session";
import { Timeline } from "./Timeline";

const PAY_REJECTED = "결제가 거절되었습니다. 카드 한도나 결제 수단을 확인해 주세요.";
const CANCEL_REFUSED = "지금은 취소할 수 없습니다 (운행 중에는 취소할 수 없습니다).";

/** Whether `next` is at least as far along as `current` (answers may arrive out of order). */
function newer(current: CallView | null, next: CallView): boolean {
  if (!current) return true;
  return next.timeline.length >= current.timeline.length;
}

export function LiveCall(props: {
  callId: string;
  initial: CallView | null;
  report: Report;
  reportStream: StreamReport;
  onGone: () => void;
  onNewOrder: () => void;
}) {
  const { callId, report } = props;
  const [view, setView] = useState<CallView | null>(props.initial);
  const [busy, setBusy] = useState(false);
  const [cancelRequested, setCancelRequested] = useState(false);
  const latest = useRef(view);

  const show = useCallback((next: CallView) => {
    if (!newer(latest.current, next)) return;
    latest.current = next;
    setView(next);
  }, []);

  const refresh = useCallback(async () => {
    const r = await attempt(api.GET("/calls/{call_id}", { params: { path: { call_id: callId } } }));
    if (r.ok) {
      show(r.data);
      return;
    }
    if (signedOut(r, report.expired)) return;
    if (r.status === 404 || r.status === 403) props.onGone();
    // Anything else (the network, the workflow service) is retried by the next event or reconnect.
  }, [callId]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  useFollow(
    `/calls/${encodeURIComponent(callId)}/events`,
    () => void refresh(),
    // Up again: catch up on what was missed. Down: a 401 shows itself on the next request.
    () => void refresh(),
    props.reportStream,
  );

  const fee = view?.cancellationFee ?? null;
  const now = useNow(fee !== null);

  async function pay() {
    setBusy(true);
    const r = await attempt(api.POST("/calls/{call_id}/pay", { params: { path: { call_id: callId } } }));
    setBusy(false);
    if (r.ok) {
      report.error(null);
      show(r.data);
      return;
    }
    if (r.status === 503) {
      report.error(
        `결제 서비스가 잠시 응답하지 않습니다. ${r.retryAfter ?? 5}초 후에 다시 시도해 주세요.`,
      );
      return;
    }
    reportFailure(r, report, { 402: PAY_REJECTED });
    void refresh();
  }

  async function cancel() {
    setBusy(true);
    const r = await attempt(
      api.POST("/calls/{call_id}/cancel", { params: { path: { call_id: callId } } }),
    );
    setBusy(false);
    if (r.ok) {
      report.error(null);
      setCancelRequested(true);
      show(r.data);
      return;
    }
    reportFailure(r, report, { 409: CANCEL_REFUSED });
    void refresh();
  }

  if (!view) {
    return (
      <section aria-labelledby="call-title">
        <h2 id="call-title">내 호출</h2>
        <p class="muted" role="status">
          호출 정보를 불러오는 중…
        </p>
      </section>
    );
  }

  const status = view.status;
  const cancellable = CANCELLABLE.has(status);
  const terminal = TERMINAL.has(status);
  const driver = view.driver;
  const feeApplies = fee !== null && now >= Date.parse(fee.appliesFrom);

  return (
    <section aria-labelledby="call-title">
      <h2 id="call-title">내 호출</h2>
      <dl class="facts">
        <dt>상태</dt>
        <dd>
          <StatusBadge status={status} testid="call-status" />
        </dd>
        <dt>출발지</dt>
        <dd data-testid="call-location">{view.location}</dd>
        <dt>도착지</dt>
        <dd data-testid="call-destination">{view.destination || "-"}</dd>
        <dt>요금</dt>
        <dd>
          <span data-testid="call-fare">{won(view.payAmount)}</span>
          {view.quote && view.quote.tip > 0 && (
            <span class="muted">
              {" "}
              (요금 {won(view.quote.fare)} + 팁 {won(view.quote.tip)})
            </span>
          )}
        </dd>
        {driver && (
          <>
            <dt>기사님</dt>
            <dd data-testid="driver-name">{driver.driverName}</dd>
            <dt>기사님 연락처</dt>
            <dd data-testid="driver-mobile">{driver.driverMobile || "-"}</dd>
          </>
        )}
      </dl>

      {status === "CREATED" && (
        <div class="step">
          <p>호출을 접수했습니다. 요금을 결제하면 기사님을 찾기 시작합니다.</p>
          <div class="actions">
            <button type="button" data-testid="pay" disabled={busy} onClick={pay}>
              {won(view.payAmount)} 결제하기
            </button>
          </div>
        </div>
      )}
      {(status === "PAID" || status === "DISPATCHED") && (
        <p class="muted" role="status">
          결제가 끝났습니다. 기사님을 찾고 있습니다…
        </p>
      )}

      {fee && (
        <p class="notice" data-testid="cancel-fee-notice" role="status">
          {feeApplies
            ? `지금 취소하면 취소 수수료 ${won(fee.amount)}이 부과되고 나머지는 환불됩니다.`
            : `${hms(fee.appliesFrom)}까지는 무료로 취소할 수 있습니다. 이후에는 취소 수수료 ${won(fee.amount)}이 부과됩니다.`}
        </p>
      )}

      {cancellable && (
        <div class="actions">
          <button
            type="button"
            class="danger"
            data-testid="cancel-call"
            disabled={busy || cancelRequested}
            onClick={cancel}
          >
            {cancelRequested ? "취소하는 중…" : "호출 취소"}
          </button>
        </div>
      )}

      <h3 class="sub">진행 기록</h3>
      <Timeline events={view.timeline} testid="timeline" label="호출 진행 기록" />
      {view.timeline.length === 0 && <p class="muted">아직 기록이 없습니다.</p>}

      {terminal && (
        <div class="actions end">
          <button type="button" data-testid="new-call" onClick={props.onNewOrder}>
            새 호출
          </button>
        </div>
      )}
    </section>
  );
}

// One call: its facts, timeline, payment and driver, the Temporal link, assigning it to a driver
// while it is open, and denying it.
import { useEffect, useRef, useState } from "preact/hooks";
import { clock, Field, formatMobile, StatusBadge, won } from "../shared/ui";
import type { Change } from "./App";
import { api, PAYMENT_LABELS, type CallView, type DriverRecord, type Ops, type Payment } from "./api";
import { AssignForm } from "./Assign";

/** Statuses whose 409 on deny means "a driver already has it". */
const CAUGHT_OR_LATER = new Set(["CAUGHT", "ARRIVED", "DRIVING", "COMPLETED", "NO_SHOW"]);
/** Statuses an operator may deny (spec section 3). */
const DENIABLE = new Set(["PAID", "DISPATCHED"]);

export function CallDetail(props: {
  ops: Ops;
  callId: string;
  workflowUrl: string | null;
  change: Change;
  driverNames: Map<string, string>;
  /** Every registered driver (`GET /drivers`), for assigning the call. */
  drivers: DriverRecord[];
  reloadDrivers: () => Promise<void>;
  onChanged: () => void;
  onClose: () => void;
}) {
  const { ops, callId, change } = props;
  const [view, setView] = useState<CallView | null>(null);
  const [payment, setPayment] = useState<Payment | "none" | null>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const [assigned, setAssigned] = useState<string | null>(null);
  const heading = useRef<HTMLHeadingElement>(null);
  const seq = useRef(0);

  /** Reads the call and its payment; answers the call's status (or null). */
  async function load(): Promise<string | null> {
    const mine = ++seq.current;
    const [v, p] = await Promise.all([
      ops.run(api.GET("/calls/{call_id}", { params: { path: { call_id: callId } } })),
      ops.run(api.GET("/payments", { params: { query: { callId } } })),
    ]);
    if (mine !== seq.current) return v.ok ? v.data.status : null;
    if (v.ok) setView(v.data);
    else ops.fail(v, v.status === 404 ? "호출을 찾을 수 없습니다." : undefined);
    if (p.ok) setPayment(p.data);
    else if (p.status === 404) setPayment("none");
    else ops.fail(p);
    return v.ok ? v.data.status : null;
  }

  // Opened: read it and bring it into view.
  useEffect(() => {
    void load();
    heading.current?.focus();
    heading.current?.scrollIntoView?.({ block: "start", behavior: "smooth" });
  }, [callId]);

  // Live: re-read when the stream names this call (or after a reconnect).
  useEffect(() => {
    if (change.tick === 0) return;
    if (change.calls.size === 0 || change.calls.has(callId)) void load();
  }, [change]);

  async function deny(e: Event) {
    e.preventDefault();
    if (busy) return;
    setNotice(null);
    if (!reason.trim()) {
      ops.report("거절 사유를 입력해 주세요.");
      return;
    }
    setBusy(true);
    const r = await ops.run(
      api.POST("/catches/{call_id}/deny", {
        params: { path: { call_id: callId } },
        body: { reason: reason.trim() },
      }),
    );
    if (r.ok) {
      ops.report(null);
      setReason("");
      setNotice("호출을 거절했습니다.");
      await load();
      props.onChanged();
    } else if (r.status === 409) {
      const status = await load();
      ops.report(
        status === null || CAUGHT_OR_LATER.has(status) || DENIABLE.has(status)
          ? "이미 배차된 호출은 거절할 수 없습니다."
          : status === "CREATED"
            ? "결제 전인 호출은 거절할 수 없습니다."
            : "이미 끝난 호출은 거절할 수 없습니다.",
      );
    } else {
      ops.fail(r, r.status === 404 ? "호출을 찾을 수 없습니다." : undefined);
    }
    setBusy(false);
  }

  function onAssigned(next: CallView) {
    // The answer is newer than any read still under way.
    seq.current += 1;
    setView(next);
    const name = next.driver?.driverName || (next.driver && props.driverNames.get(next.driver.driverId));
    setAssigned(`${name ?? next.driver?.driverId ?? ""} 기사에게 배차했습니다.`);
    props.onChanged();
  }

  const driver = view?.driver;
  const driverName = driver ? driver.driverName || props.driverNames.get(driver.driverId) : undefined;

  return (
    <section aria-labelledby="detail-title" class="call-detail" data-testid="call-detail" data-call-id={callId}>
      <div class="detail-head">
        <h2 id="detail-title" ref={heading} tabIndex={-1}>
          호출 상세
        </h2>
        <button type="button" class="secondary" onClick={props.onClose}>
          닫기
        </button>
      </div>
      {view === null ? (
        <p class="muted">불러오는 중…</p>
      ) : (
        <>
          <dl class="facts">
            <dt>호출 ID</dt>
            <dd class="call-id-full">{view.callId}</dd>
            <dt>상태</dt>
            <dd>
              <StatusBadge status={view.status} testid="detail-status" />
            </dd>
            <dt>고객 번호</dt>
            <dd>{formatMobile(view.mobile)}</dd>
            <dt>출발지</dt>
            <dd>{view.location}</dd>
            <dt>도착지</dt>
            <dd>{view.destination || "—"}</dd>
            <dt>요금</dt>
            <dd>{won(view.payAmount)}</dd>
            <dt>기사</dt>
            <dd data-testid="detail-driver">
              {driver
                ? `${driverName ?? ""} (${driver.driverId})${driver.driverMobile ? ` ${driver.driverMobile}` : ""}`
                : "배정 전"}
            </dd>
          </dl>
          {props.workflowUrl && (
            <p>
              <a data-testid="temporal-link" href={props.workflowUrl} target="_blank" rel="noopener">
                Temporal에서 보기
              </a>
            </p>
          )}

          <h3>결제</h3>
          <PaymentFacts payment={payment} />

          <h3>진행 기록</h3>
          {view.timeline.length === 0 ? (
            <p class="muted">기록이 없습니다.</p>
          ) : (
            <ol class="timeline" data-testid="call-timeline">
              {view.timeline.map((event) => (
                <li key={event.seq} data-event={event.event}>
                  <strong class="event-name">{event.event}</strong> {event.description}{" "}
                  <time class="muted" dateTime={event.at}>
                    {clock(event.at)}
                  </time>
                </li>
              ))}
            </ol>
          )}

          {view.status === "DISPATCHED" && (
            <AssignForm
              ops={ops}
              callId={callId}
              drivers={props.drivers}
              reloadDrivers={props.reloadDrivers}
              onAssigned={onAssigned}
              onRefused={() => void load()}
            />
          )}
          {assigned && (
            <p class="ok-notice" role="status" data-testid="assign-notice">
              {assigned}
            </p>
          )}

          <h3>호출 거절</h3>
          <form onSubmit={deny} noValidate>
            <p class="muted">결제 완료 또는 기사 찾는 중인 호출만 거절할 수 있습니다. 결제는 환불됩니다.</p>
            <Field label="거절 사유" testid="deny-reason" value={reason} onInput={setReason} placeholder="예: 배차 가능한 기사 없음" />
            <div class="actions">
              <button type="submit" class="danger" data-testid="deny-call" disabled={busy}>
                {busy ? "거절하는 중…" : "호출 거절"}
              </button>
            </div>
            {notice && (
              <p class="ok-notice" role="status">
                {notice}
              </p>
            )}
          </form>
        </>
      )}
    </section>
  );
}

function PaymentFacts({ payment }: { payment: Payment | "none" | null }) {
  if (payment === null) return <p class="muted">불러오는 중…</p>;
  if (payment === "none") {
    return (
      <p data-testid="call-payment" data-status="NONE">
        결제 전
      </p>
    );
  }
  // A cancelled or disabled payment was refunded in full; a partial refund says how much.
  const refunded =
    payment.refundedAmount ??
    (payment.status === "CANCELLED" || payment.status === "DISABLED" ? payment.payAmount : null);
  return (
    <dl class="facts" data-testid="call-payment" data-status={payment.status}>
      <dt>결제 상태</dt>
      <dd>{PAYMENT_LABELS[payment.status] ?? payment.status}</dd>
      <dt>결제 금액</dt>
      <dd>{won(payment.payAmount)}</dd>
      {refunded != null && (
        <>
          <dt>환불 금액</dt>
          <dd>{won(refunded)}</dd>
        </>
      )}
      {payment.fee != null && (
        <>
          <dt>수수료</dt>
          <dd>{won(payment.fee)}</dd>
        </>
      )}
      {payment.reason && (
        <>
          <dt>사유</dt>
          <dd>{payment.reason}</dd>
        </>
      )}
    </dl>
  );
}

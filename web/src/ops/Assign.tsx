// Assigned dispatch (강제배차, spec section 9): an operator gives an open (DISPATCHED) call to a
// driver they pick; the API answers the call CAUGHT by that driver, or 409 when the call is no
// longer open or the driver is not available (offline, on a call, not heard from, disabled).
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, AREAS, type CallView, type DriverRecord, type Ops } from "./api";

/** Why the API refused an assign, in Korean, from its problem (the detail names the reason). */
function refusal(status: number, detail: string): string {
  if (status === 422) return "없는 기사입니다";
  if (/not available/i.test(detail)) {
    if (/offline/i.test(detail)) return "기사가 오프라인입니다";
    if (/on a call/i.test(detail)) return "기사가 다른 호출을 운행 중입니다";
    if (/disabled/i.test(detail)) return "비활성화된 기사입니다";
    return "기사가 지금 호출을 받을 수 없습니다";
  }
  return "이미 배차되었거나 끝난 호출입니다";
}

/** A driver as one line of the picker: the name and state first (a phone cuts the rest). */
function choiceLabel(d: DriverRecord): string {
  const areas = d.areas.map((a) => AREAS[a] ?? a).join(", ") || "지역 없음";
  return `${d.name} · ${d.online ? "접속 중" : "오프라인"} · ${areas} (${d.username})`;
}

export function AssignForm(props: {
  ops: Ops;
  callId: string;
  drivers: DriverRecord[];
  /** Re-reads the drivers (their online state), when the form shows. */
  reloadDrivers: () => Promise<void>;
  /** The API's answer: the call, now CAUGHT by the driver. */
  onAssigned: (view: CallView) => void;
  /** The assign was refused: the call may have moved on, read it again. */
  onRefused: () => void;
}) {
  const { ops } = props;
  const [driverId, setDriverId] = useState("");
  const [busy, setBusy] = useState(false);

  // Who is online changes all the time: read it afresh when the form shows.
  useEffect(() => {
    void props.reloadDrivers();
  }, [props.callId]);

  // The registered drivers who are not disabled: online ones first, then by name.
  const choices = useMemo(
    () =>
      props.drivers
        .filter((d) => d.disabledAt == null)
        .sort((a, b) => Number(b.online) - Number(a.online) || a.name.localeCompare(b.name, "ko")),
    [props.drivers],
  );

  const chosen = choices.find((d) => d.username === driverId);

  async function assign(e: Event) {
    e.preventDefault();
    if (busy) return;
    if (!driverId) {
      ops.report("배정할 기사를 선택해 주세요.");
      return;
    }
    setBusy(true);
    const r = await ops.run(
      api.POST("/catches/{call_id}/assign", {
        params: { path: { call_id: props.callId } },
        body: { driverId },
      }),
    );
    setBusy(false);
    if (r.ok) {
      ops.report(null);
      setDriverId("");
      props.onAssigned(r.data);
    } else if (r.status === 409 || r.status === 422) {
      // The API says why (the call is no longer open, the driver is not available, no such
      // driver): in Korean, with its own words after.
      const detail = r.problem.detail ?? r.problem.title ?? "";
      ops.report(`강제배차할 수 없습니다: ${refusal(r.status, detail)}.${detail ? ` (${detail})` : ""}`);
      props.onRefused();
    } else {
      ops.fail(r, r.status === 404 ? "호출을 찾을 수 없습니다." : undefined);
    }
  }

  return (
    <form class="assign" onSubmit={assign} noValidate aria-labelledby="assign-title">
      <h3 id="assign-title">강제배차</h3>
      <p class="muted">기사 찾는 중인 호출을 고른 기사에게 바로 배차합니다. 접속 중이고 운행 중이 아닌 기사만 받을 수 있습니다.</p>
      <div class="field">
        <label for="assign-driver">배정할 기사</label>
        <select
          id="assign-driver"
          data-testid="assign-driver"
          value={driverId}
          aria-describedby={chosen ? "assign-choice" : undefined}
          onChange={(e) => setDriverId((e.currentTarget as HTMLSelectElement).value)}
        >
          <option value="">기사를 선택해 주세요</option>
          {choices.map((d) => (
            <option key={d.username} value={d.username}>
              {choiceLabel(d)}
            </option>
          ))}
        </select>
        {chosen && (
          <p class="muted assign-choice" id="assign-choice">
            {choiceLabel(chosen)}
          </p>
        )}
      </div>
      <div class="actions">
        <button type="submit" data-testid="assign-call" disabled={busy}>
          {busy ? "배차하는 중…" : "강제배차"}
        </button>
      </div>
    </form>
  );
}

// The searchable list of calls (GET /calls, newest first, at most 50), refreshed live.
import { useEffect, useRef, useState } from "preact/hooks";
import { clock, Field, formatMobile, STATUS_LABELS, StatusBadge, won } from "../shared/ui";
import type { Change } from "./App";
import {
  api,
  areaName,
  describe,
  readSearch,
  type CallRow,
  type CallView,
  type Criteria,
  type Ops,
  type StatusParam,
} from "./api";

interface Applied {
  criteria: Criteria;
  status: string;
}

/** The Temporal Web UI's address of a call's workflow, for a call the list does not hold. */
async function workflowUrlOf(ops: Ops, callId: string): Promise<string | null> {
  const r = await ops.run(api.GET("/operations/status"));
  if (!r.ok || !r.data?.temporalUi) return null;
  const ui = r.data.temporalUi.replace(/\/+$/, "");
  const namespace = encodeURIComponent(r.data.namespace ?? "default");
  return `${ui}/namespaces/${namespace}/workflows/call-${callId}`;
}

export function Calls(props: {
  ops: Ops;
  change: Change;
  driverNames: Map<string, string>;
  openId: string | null;
  onOpen: (callId: string, workflowUrl?: string | null) => void;
}) {
  const { ops, change, driverNames, onOpen } = props;
  const [input, setInput] = useState("");
  const [status, setStatus] = useState("");
  const [applied, setApplied] = useState<Applied>({ criteria: { kind: "all" }, status: "" });
  const [rows, setRows] = useState<CallRow[] | null>(null);
  const [busy, setBusy] = useState(false);
  const searchSeq = useRef(0);
  /** A search by call id opens that call once its row is loaded. */
  const openNext = useRef(false);

  const shown = useRef<Applied | null>(null);

  useEffect(() => {
    const seq = ++searchSeq.current;
    const current = () => seq === searchSeq.current;
    // A new search says it is loading; a live refresh just replaces the rows.
    const fresh = shown.current !== applied;
    shown.current = applied;
    void (async () => {
      if (fresh) setBusy(true);
      const found = await load(ops, applied);
      if (!current()) return;
      setBusy(false);
      if (found === null) return;
      setRows(found);
      if (openNext.current && found[0]) onOpen(found[0].callId, found[0].workflowUrl);
      openNext.current = false;
    })();
    // Only a new search or a live change re-reads the list.
  }, [applied, change.tick]);

  function search(nextStatus = status) {
    ops.report(null);
    const criteria = readSearch(input);
    openNext.current = criteria.kind === "call";
    setApplied({ criteria, status: nextStatus });
  }

  return (
    <section aria-labelledby="calls-title">
      <h2 id="calls-title">호출 목록</h2>
      <form
        class="call-search"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          search();
        }}
      >
        <Field
          label="검색 (고객 번호, 호출 ID, 지역, 기사 아이디)"
          testid="call-search"
          value={input}
          onInput={setInput}
          placeholder="예: 01012345678, kangnam, driver1"
        />
        <div class="field">
          <label for="call-status-filter">상태</label>
          <select
            id="call-status-filter"
            data-testid="status-filter"
            value={status}
            onChange={(e) => {
              const next = (e.currentTarget as HTMLSelectElement).value;
              setStatus(next);
              search(next);
            }}
          >
            <option value="">전체</option>
            {Object.entries(STATUS_LABELS).map(([code, label]) => (
              <option key={code} value={code}>
                {label}
              </option>
            ))}
          </select>
        </div>
        <div class="search-button">
          <button type="submit" data-testid="search-calls">
            검색
          </button>
        </div>
      </form>
      <p class="muted" aria-live="polite">
        {busy ? "불러오는 중…" : `검색 조건: ${describe(applied.criteria)}`}
        {applied.status && applied.criteria.kind !== "call" && `, 상태 ${STATUS_LABELS[applied.status] ?? applied.status}`}
        {rows !== null && !busy && ` — ${rows.length}건`}
      </p>
      {rows !== null && rows.length === 0 && <p>조건에 맞는 호출이 없습니다.</p>}
      {rows !== null && rows.length > 0 && (
        <ul class="call-list" data-testid="call-list">
          {rows.map((row) => (
            <Row
              key={row.callId}
              row={row}
              driverName={row.driverId ? driverNames.get(row.driverId) : undefined}
              selected={row.callId === props.openId}
              onOpen={() => onOpen(row.callId, row.workflowUrl)}
            />
          ))}
        </ul>
      )}
    </section>
  );
}

function Row(props: { row: CallRow; driverName?: string; selected: boolean; onOpen: () => void }) {
  const { row } = props;
  const headId = `call-${row.callId}`;
  return (
    <li
      class={props.selected ? "call-row selected" : "call-row"}
      data-testid="call-row"
      data-call-id={row.callId}
      data-status={row.status}
      aria-current={props.selected ? "true" : undefined}
      onClick={(e) => {
        // A click anywhere on the row opens it (its links and buttons do their own thing).
        if (!(e.target as HTMLElement).closest("a, button")) props.onOpen();
      }}
    >
      <div class="row-head" id={headId}>
        <StatusBadge status={row.status} testid="row-status" />
        <span class="call-id" title={row.callId}>
          {row.callId.slice(0, 8)}
        </span>
        {row.startedAt && <time dateTime={row.startedAt}>{clock(row.startedAt)}</time>}
      </div>
      <dl class="facts row-facts">
        <dt>고객</dt>
        <dd>{formatMobile(row.mobile)}</dd>
        <dt>지역</dt>
        <dd>{areaName(row.area)}</dd>
        {row.location && (
          <>
            <dt>출발</dt>
            <dd>{row.location}</dd>
          </>
        )}
        <dt>기사</dt>
        <dd>{row.driverId ? (props.driverName ? `${props.driverName} (${row.driverId})` : row.driverId) : "배정 전"}</dd>
        <dt>요금</dt>
        <dd>{row.payAmount != null ? won(row.payAmount) : "-"}</dd>
      </dl>
      <div class="actions">
        <button type="button" class="secondary" data-testid="open-call" aria-describedby={headId} onClick={props.onOpen}>
          자세히
        </button>
        {row.workflowUrl && (
          <a
            class="temporal"
            data-testid="temporal-link"
            href={row.workflowUrl}
            target="_blank"
            rel="noopener"
            aria-describedby={headId}
          >
            Temporal에서 보기
          </a>
        )}
      </div>
    </li>
  );
}

/** The rows for a search; `null` when it failed (the failure is reported). */
async function load(ops: Ops, applied: Applied): Promise<CallRow[] | null> {
  const { criteria } = applied;
  if (criteria.kind === "call") return loadOne(ops, criteria.callId);
  const query: {
    status?: StatusParam;
    mobile?: string;
    area?: string;
    driverId?: string;
  } = {};
  if (applied.status) query.status = applied.status as StatusParam;
  if (criteria.kind === "mobile") query.mobile = criteria.mobile;
  if (criteria.kind === "area") query.area = criteria.area;
  if (criteria.kind === "driver") query.driverId = criteria.driverId;
  const r = await ops.run(api.GET("/calls", { params: { query } }));
  if (!r.ok) {
    ops.fail(r);
    return null;
  }
  return r.data ?? [];
}

/** One call by its id: its row from the customer's calls, or one made from its view. */
async function loadOne(ops: Ops, callId: string): Promise<CallRow[] | null> {
  const v = await ops.run(api.GET("/calls/{call_id}", { params: { path: { call_id: callId } } }));
  if (!v.ok) {
    if (v.status === 404) {
      ops.report("호출을 찾을 수 없습니다.");
      return [];
    }
    ops.fail(v);
    return null;
  }
  const view: CallView = v.data;
  const r = await ops.run(api.GET("/calls", { params: { query: { mobile: view.mobile } } }));
  const listed = r.ok ? (r.data ?? []).find((row) => row.callId === callId) : undefined;
  if (listed) return [listed];
  return [
    {
      callId: view.callId,
      status: view.status,
      mobile: view.mobile,
      area: null,
      driverId: view.driver?.driverId ?? null,
      location: view.location,
      payAmount: view.payAmount,
      startedAt: view.timeline[0]?.at ?? null,
      workflowUrl: await workflowUrlOf(ops, callId),
    },
  ];
}

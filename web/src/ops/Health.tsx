// The payment circuit breaker and each task queue's workers, every 5 seconds.
import { useEffect, useState } from "preact/hooks";
import { clock } from "../shared/ui";
import { api, type OperationsStatus, type Ops } from "./api";

const EVERY_MS = 5000;

/** The task queues the console always shows, in order, and what runs on them. */
const QUEUES: Record<string, string> = {
  "driver-call": "호출 워크플로",
  payment: "결제",
  catcher: "배차",
  dashboard: "대시보드",
};

type Circuit = "closed" | "open" | "half-open" | "unknown";
const CIRCUIT_LABELS: Record<Circuit, string> = {
  closed: "정상",
  open: "차단",
  "half-open": "시험 중",
  unknown: "알 수 없음",
};
/** Worse is higher. */
const SEVERITY: Record<Circuit, number> = { closed: 0, unknown: 1, "half-open": 2, open: 3 };

/** A report's state; the workers name the half-open breaker `half_open`. */
function circuitOf(c: OperationsStatus["paymentCircuits"][number]): Circuit {
  if (c.circuit === "half_open") return "half-open";
  return c.circuit === "closed" || c.circuit === "open" ? c.circuit : "unknown";
}

export function Health({ ops }: { ops: Ops }) {
  const [status, setStatus] = useState<OperationsStatus | null>(null);
  const [failed, setFailed] = useState(false);
  const [checkedAt, setCheckedAt] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    let timer = 0;
    const read = async () => {
      const r = await ops.run(api.GET("/operations/status"));
      if (!live) return;
      if (r.ok) {
        setStatus(r.data);
        setFailed(false);
        setCheckedAt(new Date().toISOString());
      } else {
        // A network failure is already on screen (the stream is down too); others are told.
        setFailed(true);
        if (r.status !== 0) ops.fail(r);
      }
      timer = window.setTimeout(read, EVERY_MS);
    };
    void read();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [ops]);

  const circuits = failed || !status ? [] : status.paymentCircuits;
  const worst: Circuit =
    circuits.length === 0
      ? "unknown"
      : circuits.map(circuitOf).reduce((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), "closed" as Circuit);

  const queues = status?.taskQueues ?? [];
  const names = [...Object.keys(QUEUES), ...queues.map((q) => q.taskQueue).filter((q) => !(q in QUEUES))];

  return (
    <section aria-labelledby="health-title">
      <h2 id="health-title">시스템 현황</h2>
      <p class="muted">
        5초마다 갱신{checkedAt && ` · 마지막 확인 ${clock(checkedAt)}`}
        {failed && " · 상태를 읽지 못했습니다"}
      </p>

      <h3>결제 차단기</h3>
      <div data-testid="breaker-state" data-state={worst} class={`breaker breaker-${worst}`}>
        <p class="breaker-overall">
          전체 상태: <strong>{status === null && !failed ? "확인 중…" : CIRCUIT_LABELS[worst]}</strong>
        </p>
        {circuits.length > 0 && (
          <ul class="plain">
            {circuits.map((c) => {
              const state = circuitOf(c);
              return (
                <li key={`${c.worker}/${c.gateway ?? ""}`} data-worker={c.worker} data-state={state}>
                  <strong>{c.worker}</strong>
                  {c.gateway && <span class="muted"> ({c.gateway})</span>}: {CIRCUIT_LABELS[state]}
                  {c.reportedAt && (
                    <span class="muted">
                      {" "}
                      · 보고 <time dateTime={c.reportedAt}>{clock(c.reportedAt)}</time>
                    </span>
                  )}
                </li>
              );
            })}
          </ul>
        )}
      </div>

      <h3>워커</h3>
      <ul class="plain" data-testid="worker-health">
        {names.map((name) => {
          const known = status !== null && !failed;
          const pollers = known ? (queues.find((q) => q.taskQueue === name)?.pollers ?? []) : [];
          const up = pollers.length > 0;
          const state = !known ? "unknown" : up ? "up" : "down";
          return (
            <li key={name} data-task-queue={name} data-state={state} data-pollers={known ? pollers.length : undefined}>
              <div class="queue-head">
                <strong>{QUEUES[name] ? `${QUEUES[name]} (${name})` : name}</strong>
                <span class={`tag tag-${state}`}>
                  {state === "up" ? "작동 중" : state === "down" ? "워커 없음" : status === null && !failed ? "확인 중…" : "알 수 없음"}
                </span>
                {known && <span class="muted">폴러 {pollers.length}개</span>}
              </div>
              {up && (
                <ul class="pollers">
                  {pollers.map((p) => (
                    <li key={p.identity}>
                      {p.identity}
                      {p.lastAccessTime && (
                        <span class="muted">
                          {" "}
                          · 마지막 접근 <time dateTime={p.lastAccessTime}>{clock(p.lastAccessTime)}</time>
                        </span>
                      )}
                    </li>
                  ))}
                </ul>
              )}
            </li>
          );
        })}
      </ul>
      {status?.temporalUi && (
        <p>
          <a href={status.temporalUi} target="_blank" rel="noopener">
            Temporal 웹 UI 열기{status.namespace ? ` (${status.namespace})` : ""}
          </a>
        </p>
      )}
    </section>
  );
}

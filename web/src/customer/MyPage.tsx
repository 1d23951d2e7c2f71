// myPage: every call of the customer, newest first, each with its timeline on demand; kept live
// by the customer's event stream.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { callIdOf } from "../shared/live";
import { signedOut, type Report } from "../shared/report";
import { clock, StatusBadge, won } from "../shared/ui";
import { useFollow, type StreamReport } from "./hooks";
import { api, type CallSummary, type TimelineEvent } from "./session";
import { Timeline } from "./Timeline";

const PAGE = 20;
const MAX_PAGE = 100;
const DEBOUNCE_MS = 300;

type Expanded =
  | { callId: string; state: "loading" }
  | { callId: string; state: "shown"; events: TimelineEvent[] }
  | { callId: string; state: "empty" }
  | { callId: string; state: "failed" };

export function MyPage(props: { report: Report; reportStream: StreamReport }) {
  const { report } = props;
  const [calls, setCalls] = useState<CallSummary[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [limit, setLimit] = useState(PAGE);
  const [more, setMore] = useState(false);
  const [expanded, setExpanded] = useState<Expanded | null>(null);
  const expandedId = useRef<string | null>(null);
  const limitRef = useRef(limit);
  limitRef.current = limit;

  const load = useCallback(async () => {
    const request = api.GET("/dashboards", { params: { query: { limit: limitRef.current } } });
    const r = await attempt(request);
    if (r.ok) {
      setCalls(r.data);
      setFailed(false);
      const { response } = await request;
      setMore(/rel="?next"?/.test(response.headers.get("Link") ?? ""));
      return;
    }
    if (signedOut(r, report.expired)) return;
    setFailed(true);
  }, []);

  const loadTimeline = useCallback(async (callId: string, quiet: boolean) => {
    if (!quiet) setExpanded({ callId, state: "loading" });
    const r = await attempt(
      api.GET("/dashboards/myPage/{call_id}", { params: { path: { call_id: callId } } }),
    );
    if (expandedId.current !== callId) return;
    if (r.ok) setExpanded({ callId, state: "shown", events: r.data });
    else if (signedOut(r, report.expired)) return;
    else if (r.status === 404) setExpanded({ callId, state: "empty" });
    else if (!quiet) setExpanded({ callId, state: "failed" });
  }, []);

  useEffect(() => {
    void load();
  }, [load, limit]);

  // Events come in bursts (a cancel is three or four): one refresh per burst.
  const timer = useRef<number | undefined>(undefined);
  const touched = useRef(new Set<string>());
  useEffect(() => () => window.clearTimeout(timer.current), []);
  const later = useCallback((callId: string | null) => {
    if (callId) touched.current.add(callId);
    window.clearTimeout(timer.current);
    timer.current = window.setTimeout(() => {
      const open = expandedId.current;
      const refreshOpen = open !== null && (touched.current.has(open) || callId === null);
      touched.current.clear();
      void load();
      if (refreshOpen && open) void loadTimeline(open, true);
    }, DEBOUNCE_MS);
  }, []);

  useFollow(
    "/dashboards/events",
    (event) => later(callIdOf(event) ?? null),
    // Up again: catch up. Down: the next request tells a lapsed sign-in from the network.
    () => later(null),
    props.reportStream,
  );

  function toggle(callId: string) {
    if (expandedId.current === callId) {
      expandedId.current = null;
      setExpanded(null);
      return;
    }
    expandedId.current = callId;
    void loadTimeline(callId, false);
  }

  return (
    <section aria-labelledby="mypage-title">
      <h2 id="mypage-title">마이페이지 — 지난 호출</h2>
      {calls === null && !failed && (
        <p class="muted" role="status">
          불러오는 중…
        </p>
      )}
      {failed && calls === null && <p class="muted">호출 내역을 불러오지 못했습니다. 잠시 후 다시 불러옵니다.</p>}
      <ul class="plain calls" data-testid="mypage-list" aria-labelledby="mypage-title">
        {(calls ?? []).map((call) => {
          const open = expanded?.callId === call.callId ? expanded : null;
          const panel = `mypage-timeline-${call.callId}`;
          return (
            <li key={call.callId} data-testid="mypage-call" data-call-id={call.callId}>
              <button
                type="button"
                class="row"
                data-testid="mypage-toggle"
                aria-expanded={open !== null}
                aria-controls={open ? panel : undefined}
                onClick={() => toggle(call.callId)}
              >
                <span class="row-main">
                  <span class="place">{call.location}</span>
                  <StatusBadge status={call.status} testid="mypage-status" />
                </span>
                <span class="row-sub">
                  <span>{won(call.payAmount)}</span>
                  <time dateTime={call.updatedAt}>{clock(call.updatedAt)}</time>
                </span>
                <span class="row-hint">{open ? "기록 닫기" : "기록 보기"}</span>
              </button>
              {open?.state === "loading" && (
                <p class="muted" role="status">
                  기록을 불러오는 중…
                </p>
              )}
              {open?.state === "shown" && (
                <Timeline events={open.events} testid="mypage-timeline" id={panel} label="호출 기록" />
              )}
              {open?.state === "empty" && <p class="muted">아직 기록이 없습니다.</p>}
              {open?.state === "failed" && <p class="muted">기록을 불러오지 못했습니다.</p>}
            </li>
          );
        })}
      </ul>
      {calls !== null && calls.length === 0 && <p class="muted">아직 호출 내역이 없습니다.</p>}
      {more && limit < MAX_PAGE && (
        <div class="actions">
          <button type="button" class="secondary" onClick={() => setLimit(Math.min(MAX_PAGE, limit + PAGE))}>
            더 보기
          </button>
        </div>
      )}
    </section>
  );
}

// Live counts of calls by status: every status, zeros included.
import { useEffect, useState } from "preact/hooks";
import { STATUS_LABELS } from "../shared/ui";
import { api, type Ops } from "./api";
import type { Change } from "./App";

export function Counts({ ops, change }: { ops: Ops; change: Change }) {
  const [counts, setCounts] = useState<Map<string, number> | null>(null);

  useEffect(() => {
    let live = true;
    void (async () => {
      const r = await ops.run(api.GET("/dashboards/counts"));
      if (!live) return;
      if (r.ok) setCounts(new Map((r.data ?? []).map((c) => [c.status as string, c.count] as const)));
      else ops.fail(r);
    })();
    return () => {
      live = false;
    };
  }, [ops, change.tick]);

  // The spec's statuses in their order, then any the API knows that this build does not.
  const statuses = [
    ...Object.keys(STATUS_LABELS),
    ...[...(counts?.keys() ?? [])].filter((s) => !(s in STATUS_LABELS)),
  ];
  const total = counts ? [...counts.values()].reduce((a, b) => a + b, 0) : null;

  return (
    <section aria-labelledby="counts-title">
      <h2 id="counts-title">
        호출 현황{total !== null && <span class="muted"> (전체 {total.toLocaleString("ko-KR")}건)</span>}
      </h2>
      {counts === null ? (
        <p class="muted">불러오는 중…</p>
      ) : (
        <ul class="counts" data-testid="status-counts">
          {statuses.map((status) => {
            const count = counts.get(status) ?? 0;
            return (
              <li key={status} data-testid="status-count" data-status={status} data-count={count}>
                <span class="label">{STATUS_LABELS[status] ?? status}</span>
                <span class="n">{count.toLocaleString("ko-KR")}</span>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}

// Going online (offers come in) and offline.
import { useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { reportFailure } from "../shared/report";
import { api, type Me } from "./api";

export function Availability(props: {
  me: Me | null;
  /** Reading the driver failed: offer to read again. */
  failed: boolean;
  onRetry: () => void;
  onChanged: (online: boolean) => void;
  onMessage: (message: string | null) => void;
  onExpired: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const { me } = props;

  async function set(online: boolean) {
    if (busy) return;
    setBusy(true);
    const r = await attempt<{ online: boolean }>(
      api.PUT("/drivers/me/availability", { body: { online } }),
    );
    setBusy(false);
    if (r.ok) {
      props.onMessage(null);
      props.onChanged(r.data.online);
    } else {
      reportFailure(r, { error: props.onMessage, expired: props.onExpired });
    }
  }

  return (
    <section aria-labelledby="availability-title" class="availability">
      <h2 id="availability-title">운행 상태</h2>
      {me === null ? (
        props.failed ? (
          <div class="actions">
            <p class="muted">기사 정보를 불러오지 못했습니다.</p>
            <button type="button" class="secondary" onClick={props.onRetry}>
              다시 불러오기
            </button>
          </div>
        ) : (
          <p class="muted">기사 정보를 불러오는 중…</p>
        )
      ) : (
        <div class="availability-row">
          <p>
            지금{" "}
            <strong
              class={me.online ? "state-on" : "state-off"}
              data-testid="availability"
              data-online={String(me.online)}
            >
              {me.online ? "운행 가능" : "쉬는 중"}
            </strong>
          </p>
          {me.online ? (
            <button
              type="button"
              class="secondary"
              data-testid="go-offline"
              disabled={busy}
              onClick={() => void set(false)}
            >
              호출 그만 받기 (쉬기)
            </button>
          ) : (
            <button type="button" data-testid="go-online" disabled={busy} onClick={() => void set(true)}>
              호출 받기 시작
            </button>
          )}
        </div>
      )}
    </section>
  );
}

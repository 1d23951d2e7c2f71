// Going online (offers come in) and offline, and saying so while offline: whether the driver went
// offline, or the API put them offline for not being heard from (PRESENCE_TIMEOUT, spec section 9).
import { useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { reportFailure } from "../shared/report";
import { api, type Availability as AvailabilityBody, type Me } from "./api";

/** Why the driver is offline: they said so (or were at load), or the API put them offline. */
export type OfflineReason = "driver" | "presence";

/** What the offline driver is told, beside the `go-online` button. */
export const OFFLINE_NOTICE: Record<OfflineReason, string> = {
  driver: "오프라인 상태입니다. 호출을 받으려면 ‘호출 받기 시작’을 눌러 주세요.",
  presence:
    "한동안 앱과 연결이 끊겨 오프라인으로 바뀌었습니다. 호출을 받으려면 ‘호출 받기 시작’을 눌러 주세요.",
};

export function Availability(props: {
  me: Me | null;
  /** Reading the driver failed: offer to read again. */
  failed: boolean;
  /** Why the driver is offline (read only while `me.online` is false). */
  offlineReason: OfflineReason;
  onRetry: () => void;
  /** The driver asked to go online or offline (the request is on its way). */
  onRequested: (online: boolean | null) => void;
  onChanged: (online: boolean) => void;
  onMessage: (message: string | null) => void;
  onExpired: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const { me } = props;

  async function set(online: boolean) {
    if (busy) return;
    setBusy(true);
    props.onRequested(online);
    const r = await attempt<AvailabilityBody>(
      api.PUT("/drivers/me/availability", { body: { online } }),
    );
    setBusy(false);
    props.onRequested(null);
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
        <>
          <div class="availability-row">
            <p>
              지금{" "}
              <strong
                class={me.online ? "state-on" : "state-off"}
                data-testid="availability"
                data-online={String(me.online)}
              >
                {me.online ? "운행 가능" : "오프라인"}
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
                호출 그만 받기
              </button>
            ) : (
              <button type="button" data-testid="go-online" disabled={busy} onClick={() => void set(true)}>
                호출 받기 시작
              </button>
            )}
          </div>
          {!me.online && (
            <p
              class="offline-notice"
              role="status"
              data-testid="offline-notice"
              data-reason={props.offlineReason}
            >
              {OFFLINE_NOTICE[props.offlineReason]}
            </p>
          )}
        </>
      )}
    </section>
  );
}

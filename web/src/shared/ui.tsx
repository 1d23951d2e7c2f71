// Pieces every app's screens share: the failure readout, money, numbers, times and statuses in Korean.
import type { ComponentChildren } from "preact";

/** The one place a screen tells a person what went wrong (`error-message`, spec section 8). */
export function ErrorMessage({ message }: { message: string | null }) {
  if (!message) return null;
  return (
    <p class="error" role="alert" data-testid="error-message">
      {message}
    </p>
  );
}

/** A labelled input: every control has a visible label (and its test id). */
export function Field(props: {
  label: string;
  testid: string;
  value: string;
  onInput: (value: string) => void;
  type?: string;
  inputMode?: "numeric" | "tel" | "text";
  autoComplete?: string;
  placeholder?: string;
  list?: string;
}) {
  const id = `field-${props.testid}`;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      <input
        id={id}
        data-testid={props.testid}
        type={props.type ?? "text"}
        inputMode={props.inputMode}
        autoComplete={props.autoComplete}
        placeholder={props.placeholder}
        list={props.list}
        value={props.value}
        onInput={(e) => props.onInput((e.currentTarget as HTMLInputElement).value)}
      />
    </div>
  );
}

/** A screen's frame: a heading, who is signed in, and a sign-out button. */
export function Frame(props: {
  title: string;
  who?: string | null;
  onSignOut?: () => void;
  children: ComponentChildren;
}) {
  return (
    <>
      <header class="bar">
        <h1>{props.title}</h1>
        {props.who && (
          <span class="who">
            {props.who}
            {props.onSignOut && (
              <button type="button" class="link" onClick={props.onSignOut}>
                로그아웃
              </button>
            )}
          </span>
        )}
      </header>
      <main>{props.children}</main>
    </>
  );
}

/** KRW as people read it: 12,000원. */
export function won(amount: number): string {
  return `${amount.toLocaleString("ko-KR")}원`;
}

/** `01012345678` as `010-1234-5678` (a masked or odd number stays as it is). */
export function formatMobile(mobile: string | null | undefined): string {
  if (!mobile) return "—";
  const m = /^(01\d)(\d{3,4})(\d{4})$/.exec(mobile);
  return m ? `${m[1]}-${m[2]}-${m[3]}` : mobile;
}

/** An RFC 3339 time as a Seoul wall-clock time. */
export function clock(at: string): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return at;
  return date.toLocaleString("ko-KR", {
    timeZone: "Asia/Seoul",
    month: "numeric",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
}

/** The Korean name of each call status (spec section 3); the code stays in `data-status`. */
export const STATUS_LABELS: Record<string, string> = {
  CREATED: "결제 대기",
  PAID: "결제 완료",
  DISPATCHED: "기사 찾는 중",
  CAUGHT: "기사 배정됨",
  ARRIVED: "기사 도착",
  DRIVING: "운행 중",
  COMPLETED: "운행 완료",
  CANCELLED: "취소됨",
  DENIED: "거절됨",
  EXPIRED: "만료됨",
  PAYMENT_REJECTED: "결제 거절됨",
  NO_SHOW: "노쇼",
};

/** Statuses a call ends in: after them nothing more happens to it (spec section 3). */
export const TERMINAL: ReadonlySet<string> = new Set([
  "COMPLETED",
  "CANCELLED",
  "DENIED",
  "EXPIRED",
  "PAYMENT_REJECTED",
  "NO_SHOW",
]);

/** A status as a readout: the Korean label, the code in `data-status`. */
export function StatusBadge({ status, testid }: { status: string; testid?: string }) {
  return (
    <span class={`status status-${status.toLowerCase()}`} data-testid={testid} data-status={status}>
      {STATUS_LABELS[status] ?? status}
    </span>
  );
}

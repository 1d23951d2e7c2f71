// The operations console's session, client, and the small pieces of reading its inputs.
import type { paths } from "../api/schema";
import { apiClient, attempt, failureMessage, Session, type Outcome, type Schemas } from "../shared/client";
import { signedOut } from "../shared/report";
import { formatMobile } from "../shared/ui";

/** The operator signed in in this tab. */
export const session = new Session("ops.token");
/** The typed client, with the operator's bearer token. */
export const api = apiClient(session);

/** What every section gets from the console: requests that sign out on 401, and the one message slot. */
export interface Ops {
  /** `attempt()`, and a 401 signs the operator out ("로그인이 만료되었습니다…"). */
  run<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<Outcome<T>>;
  /** Puts a sentence in the one `error-message` slot (newest wins); `null` clears it. */
  report(message: string | null): void;
  /** Reports a failed outcome (nothing for a 401: the sign-in screen already says why). */
  fail(outcome: Outcome<unknown>, sentence?: string): void;
}

export function makeOps(expire: () => void, report: (message: string | null) => void): Ops {
  return {
    async run(request) {
      const outcome = await attempt(request);
      signedOut(outcome, expire);
      return outcome;
    },
    report,
    fail(outcome, sentence) {
      if (outcome.ok || outcome.status === 401) return;
      report(sentence ?? failureMessage(outcome));
    },
  };
}

// ---- The shapes the console reads (kept loose, so the generated types assign to them). ----

type CallsQuery = NonNullable<paths["/calls"]["get"]["parameters"]["query"]>;
/** The status filter as the API's query type spells it. */
export type StatusParam = NonNullable<CallsQuery["status"]>;

/** One row of `GET /calls`. */
export interface CallRow {
  callId: string;
  status: string;
  mobile: string;
  area?: string | null;
  driverId?: string | null;
  location?: string | null;
  payAmount?: number | null;
  startedAt?: string | null;
  workflowUrl?: string | null;
}

/** `GET /calls/{call_id}`. */
export type CallView = Schemas["CallView"];

/** `GET /payments?callId=`. */
export type Payment = Schemas["PaymentRecord"];

/** `GET /drivers`. */
export type DriverRecord = Schemas["DriverRecord"];

/** `GET /operations/status`. */
export type OperationsStatus = Schemas["OperationsStatus"];

// ---- Reading the search box. ----

/** The service areas (lower-case words, as the tariff spells them) and their Korean names. */
export const AREAS: Record<string, string> = {
  kangnam: "강남",
  dongjak: "동작",
  nowon: "노원",
  mapo: "마포",
  jongro: "종로",
  bundang: "분당",
};

/** An area word for an input word: `kangnam`, `Kangnam` and `강남` are all `kangnam`. */
export function areaOf(word: string): string | null {
  const w = word.trim().toLowerCase();
  if (w in AREAS) return w;
  const korean = Object.entries(AREAS).find(([, name]) => name === w || `${name}구` === w);
  return korean ? korean[0] : null;
}

/** What the operator searched for. */
export type Criteria =
  | { kind: "all" }
  | { kind: "mobile"; mobile: string }
  | { kind: "call"; callId: string }
  | { kind: "area"; area: string }
  | { kind: "driver"; driverId: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Digits => a customer number, a UUID => that call, an area word => the area, else a driver id. */
export function readSearch(input: string): Criteria {
  const text = input.trim();
  if (!text) return { kind: "all" };
  if (UUID.test(text)) return { kind: "call", callId: text.toLowerCase() };
  const digits = text.replace(/[\s-]/g, "");
  if (/^\+?\d+$/.test(digits)) return { kind: "mobile", mobile: digits.replace(/^\+82/, "0") };
  const prefixed = /^(area|지역|driver|기사)\s*:\s*(.+)$/i.exec(text);
  if (prefixed) {
    const [, key, value] = prefixed;
    return /^(area|지역)$/i.test(key)
      ? { kind: "area", area: areaOf(value) ?? value.trim().toLowerCase() }
      : { kind: "driver", driverId: value.trim() };
  }
  const area = areaOf(text);
  if (area) return { kind: "area", area };
  return { kind: "driver", driverId: text };
}

/** The criteria in words, under the search box. */
export function describe(criteria: Criteria): string {
  switch (criteria.kind) {
    case "all":
      return "모든 호출 (최근 50건)";
    case "mobile":
      return `고객 번호 ${formatMobile(criteria.mobile)}`;
    case "call":
      return `호출 ID ${criteria.callId}`;
    case "area":
      return `지역 ${areaName(criteria.area)}`;
    case "driver":
      return `기사 아이디 ${criteria.driverId}`;
  }
}

/** `kangnam` as `강남 (kangnam)`. */
export function areaName(area: string | null | undefined): string {
  if (!area) return "—";
  return AREAS[area] ? `${AREAS[area]} (${area})` : area;
}

/** Korean names of the payment statuses (spec sections 3 and 9). */
export const PAYMENT_LABELS: Record<string, string> = {
  APPROVED: "승인",
  REJECTED: "거절",
  CANCELLED: "취소 (환불)",
  DISABLED: "무효 (환불)",
  PARTIALLY_REFUNDED: "부분 환불",
};

/** An id for DOM `id` attributes made of anything. */
export function domId(prefix: string, value: string): string {
  return `${prefix}-${value.replace(/[^A-Za-z0-9_-]/g, "_")}`;
}

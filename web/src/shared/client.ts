// The typed API client every app uses: openapi-fetch over the types openapi-typescript generates
// from the API's own OpenAPI document (web/openapi.json, checked against the API by a Rust test),
// so an app that drifts from the API fails `tsc`.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "../api/schema";

export type Schemas = components["schemas"];

/** An `application/problem+json` body (spec section 4). */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
}

/** What a request came to: the body, or the failure a person has to be told about. */
export type Outcome<T> =
  | { ok: true; data: T; status: number }
  | { ok: false; status: number; problem: Problem; retryAfter?: number };

/** The signed-in person of this tab. Kept in sessionStorage, so each window signs in on its own. */
export class Session {
  constructor(private readonly key: string) {}

  get token(): string | null {
    return sessionStorage.getItem(this.key);
  }

  get subject(): string | null {
    return sessionStorage.getItem(`${this.key}.subject`);
  }

  save(token: string, subject: string): void {
    sessionStorage.setItem(this.key, token);
    sessionStorage.setItem(`${this.key}.subject`, subject);
  }

  clear(): void {
    sessionStorage.removeItem(this.key);
    sessionStorage.removeItem(`${this.key}.subject`);
  }
}

/** A client for one app, sending its session's token as a bearer token. */
export function apiClient(session: Session) {
  const client = createClient<paths>({ baseUrl: location.origin });
  const bearer: Middleware = {
    onRequest({ request }) {
      const token = session.token;
      if (token) request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  client.use(bearer);
  return client;
}

/** What `apiClient()` makes. */
export type ApiClient = ReturnType<typeof apiClient>;

/** Runs a request and folds every way it can fail (the network too) into an [`Outcome`]. */
export async function attempt<T>(
  request: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Outcome<T>> {
  try {
    const { data, error, response } = await request;
    if (response.ok) return { ok: true, data: data as T, status: response.status };
    const retry = Number(response.headers.get("Retry-After"));
    return {
      ok: false,
      status: response.status,
      problem: (error ?? {}) as Problem,
      retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined,
    };
  } catch {
    return { ok: false, status: 0, problem: { title: "network" } };
  }
}

/** The Korean sentence for a failure no screen words more precisely. */
export function failureMessage(outcome: Outcome<unknown>): string {
  if (outcome.ok) return "";
  switch (outcome.status) {
    case 0:
      return "네트워크에 연결할 수 없습니다. 연결을 확인해 주세요.";
    case 401:
      return "로그인이 필요합니다. 다시 로그인해 주세요.";
    case 402:
      return "결제가 거절되었습니다. 다른 결제 수단을 이용해 주세요.";
    case 403:
      return "권한이 없는 요청입니다.";
    case 404:
      return "찾을 수 없습니다.";
    case 409:
      return "지금은 할 수 없는 요청입니다.";
    case 422:
      return `입력을 확인해 주세요: ${outcome.problem.detail ?? outcome.problem.title ?? ""}`;
    case 429:
      return `요청이 너무 많습니다. ${outcome.retryAfter ?? 30}초 후에 다시 시도해 주세요.`;
    case 503:
      return `잠시 후 다시 시도해 주세요 (${outcome.retryAfter ?? 5}초 후).`;
    default:
      return "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해 주세요.";
  }
}

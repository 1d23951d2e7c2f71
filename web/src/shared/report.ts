// What every app does with a failure: a 401 signs the person out, anything else is a sentence in
// the one `error-message` slot.
import { failureMessage, type Outcome } from "./client";

/** Shown after a 401 has signed the person out. */
export const SESSION_EXPIRED = "로그인이 만료되었습니다. 다시 로그인해 주세요.";
/** Shown while the browser is offline or a live stream is down. */
export const NETWORK_DOWN = "네트워크 연결이 끊어졌습니다. 다시 연결하는 중…";

/** How a screen tells the app what went wrong. */
export interface Report {
  /** Shows a sentence in the one `error-message` slot (null clears it). */
  error: (message: string | null) => void;
  /** The token is no longer accepted: sign the person out. */
  expired: () => void;
}

/**
 * Handles what every failure has in common: a 401 (the sign-in lapsed, or the account was
 * disabled) calls `expired`, which signs the person out. Returns true when the outcome was a 401
 * (the caller has nothing more to do).
 */
export function signedOut(outcome: Outcome<unknown>, expired: () => void): boolean {
  if (!outcome.ok && outcome.status === 401) {
    expired();
    return true;
  }
  return false;
}

/** Reports a failure in Korean (401 signs out); `precise` words the statuses a screen knows better. */
export function reportFailure(
  outcome: Outcome<unknown>,
  report: Report,
  precise: Partial<Record<number, string>> = {},
): void {
  if (outcome.ok || signedOut(outcome, report.expired)) return;
  report.error(precise[outcome.status] ?? failureMessage(outcome));
}

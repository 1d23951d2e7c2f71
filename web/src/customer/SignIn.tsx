// Signing in with the code sent by SMS (spec section 7): number, code, token.
import { useState } from "preact/hooks";
import { attempt, failureMessage } from "../shared/client";
import type { Report } from "../shared/report";
import { Field } from "../shared/ui";
import { api, session } from "./session";

const WRONG_CODE = "인증번호가 틀렸거나 만료되었습니다. 다시 확인해 주세요.";
const BAD_MOBILE = "휴대폰 번호를 확인해 주세요 (예: 010-1234-5678).";

/** The number's digits, when it looks like a Korean mobile number. */
function mobileDigits(input: string): string | null {
  const digits = input.replace(/[\s-]/g, "");
  return /^01\d{8,9}$/.test(digits) ? digits : null;
}

export function SignIn(props: { report: Report; onSignedIn: () => void }) {
  const { report } = props;
  const [mobile, setMobile] = useState("");
  const [code, setCode] = useState("");
  const [sent, setSent] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function sendCode() {
    const digits = mobileDigits(mobile);
    if (!digits) {
      report.error(BAD_MOBILE);
      return;
    }
    setBusy(true);
    const r = await attempt(api.POST("/auth/otp", { body: { mobile: digits } }));
    setBusy(false);
    if (r.ok) {
      report.error(null);
      setSent("인증번호를 보냈습니다. 문자로 받은 6자리 숫자를 입력해 주세요.");
      return;
    }
    setSent(null);
    if (r.status === 429) {
      report.error(`인증번호 요청이 너무 많습니다. ${r.retryAfter ?? 60}초 후에 다시 시도해 주세요.`);
    } else if (r.status === 422 || r.status === 400) {
      report.error(BAD_MOBILE);
    } else {
      report.error(failureMessage(r));
    }
  }

  async function signIn(e: Event) {
    e.preventDefault();
    const digits = mobileDigits(mobile);
    if (!digits) {
      report.error(BAD_MOBILE);
      return;
    }
    if (!/^\d{6}$/.test(code.trim())) {
      report.error("인증번호 6자리를 입력해 주세요.");
      return;
    }
    setBusy(true);
    const r = await attempt(
      api.POST("/auth/token", { body: { grantType: "otp", mobile: digits, code: code.trim() } }),
    );
    setBusy(false);
    if (r.ok) {
      if (r.data.role !== "customer") {
        report.error("고객 계정으로 로그인해 주세요.");
        return;
      }
      session.save(r.data.accessToken, r.data.subject);
      report.error(null);
      props.onSignedIn();
      return;
    }
    if (r.status === 401) report.error(WRONG_CODE);
    else if (r.status === 422 || r.status === 400) report.error(WRONG_CODE);
    else report.error(failureMessage(r));
  }

  return (
    <section aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">휴대폰 번호로 로그인</h2>
      <Field
        label="휴대폰 번호"
        testid="otp-mobile"
        type="tel"
        inputMode="tel"
        autoComplete="tel"
        placeholder="010-1234-5678"
        value={mobile}
        onInput={setMobile}
      />
      <div class="actions">
        <button type="button" class="secondary" data-testid="otp-send" disabled={busy} onClick={sendCode}>
          인증번호 받기
        </button>
      </div>
      {sent && (
        <p class="notice" role="status" data-testid="otp-sent">
          {sent}
        </p>
      )}
      <form onSubmit={signIn} class="stack">
        <Field
          label="인증번호 (6자리)"
          testid="otp-code"
          inputMode="numeric"
          autoComplete="one-time-code"
          value={code}
          onInput={setCode}
        />
        <button type="submit" data-testid="sign-in" disabled={busy}>
          로그인
        </button>
      </form>
    </section>
  );
}

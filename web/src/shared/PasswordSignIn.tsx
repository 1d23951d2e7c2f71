// Signing in with a username and password: drivers (with what an operator registered) and
// operators. Customers sign in with an SMS code instead (customer/SignIn.tsx).
import { useState } from "preact/hooks";
import { attempt, failureMessage, type ApiClient, type Session } from "./client";
import { Field } from "./ui";

export function PasswordSignIn(props: {
  /** The form's heading. */
  title: string;
  /** The one role this app signs in; a token for another is refused with `wrongRole`. */
  role: "driver" | "operator";
  wrongRole: string;
  session: Session;
  api: ApiClient;
  /** Puts the submit button in an `.actions` row (the console's forms do). */
  actions?: boolean;
  /** A sentence for the app's one `error-message` slot (null clears it). */
  onMessage: (message: string | null) => void;
  onSignedIn: () => void;
}) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    if (busy) return;
    if (!username.trim() || !password) {
      props.onMessage("아이디와 비밀번호를 입력해 주세요.");
      return;
    }
    setBusy(true);
    // Plain `attempt`, not a request that signs out on 401 (the console's `ops.run`): a 401 here
    // is a wrong password, not an expired session.
    const r = await attempt(
      props.api.POST("/auth/token", {
        body: { grantType: "password", username: username.trim(), password },
      }),
    );
    setBusy(false);
    if (!r.ok) {
      props.onMessage(
        r.status === 401 ? "아이디 또는 비밀번호가 올바르지 않습니다." : failureMessage(r),
      );
      return;
    }
    if (r.data.role !== props.role) {
      props.onMessage(props.wrongRole);
      return;
    }
    props.session.save(r.data.accessToken, r.data.subject);
    setPassword("");
    props.onMessage(null);
    props.onSignedIn();
  }

  const button = (
    <button type="submit" data-testid="sign-in" disabled={busy}>
      {busy ? "로그인 중…" : "로그인"}
    </button>
  );

  return (
    <section aria-labelledby="sign-in-title">
      <h2 id="sign-in-title">{props.title}</h2>
      <form onSubmit={submit} noValidate>
        <Field
          label="아이디"
          testid="username"
          value={username}
          onInput={setUsername}
          autoComplete="username"
        />
        <Field
          label="비밀번호"
          testid="password"
          type="password"
          value={password}
          onInput={setPassword}
          autoComplete="current-password"
        />
        {props.actions ? <div class="actions">{button}</div> : button}
      </form>
    </section>
  );
}

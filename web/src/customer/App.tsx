// The customer app (/app/): one page, its sections shown by state — sign in; then order or the
// live call; and myPage. One `error-message` slot shows the newest of an action's failure and
// the network being down.
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { watchNetwork } from "../shared/live";
import { NETWORK_DOWN, SESSION_EXPIRED, type Report } from "../shared/report";
import { ErrorMessage, formatMobile, Frame } from "../shared/ui";
import type { StreamReport } from "./hooks";
import { LiveCall } from "./LiveCall";
import { MyPage } from "./MyPage";
import { Order } from "./Order";
import { currentCall, session, type CallView } from "./session";
import { SignIn } from "./SignIn";

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.token !== null);
  const [callId, setCallId] = useState<string | null>(() => (session.token ? currentCall.get() : null));
  const [created, setCreated] = useState<CallView | null>(null);

  // The one error slot: the newest of an action's failure and the network going down wins.
  const seq = useRef(0);
  const [actionError, setActionError] = useState<{ message: string; at: number } | null>(null);
  const [online, setOnline] = useState(() => navigator.onLine);
  const streams = useRef(new Map<string, boolean>());
  const [streamsUp, setStreamsUp] = useState(true);
  const down = !online || !streamsUp;
  const [downAt, setDownAt] = useState(0);
  useEffect(() => {
    if (down) setDownAt(++seq.current);
  }, [down]);
  useEffect(() => watchNetwork(setOnline), []);

  const reportStream: StreamReport = useCallback((key, up) => {
    if (up === null) streams.current.delete(key);
    else streams.current.set(key, up);
    setStreamsUp([...streams.current.values()].every(Boolean));
  }, []);

  const signOut = useCallback((message: string | null) => {
    session.clear();
    currentCall.set(null);
    streams.current.clear();
    setStreamsUp(true);
    setCallId(null);
    setCreated(null);
    setSignedIn(false);
    setActionError(message ? { message, at: ++seq.current } : null);
  }, []);

  const report: Report = useMemo(
    () => ({
      error: (message) => setActionError(message ? { message, at: ++seq.current } : null),
      expired: () => signOut(SESSION_EXPIRED),
    }),
    [signOut],
  );

  const shown =
    down && (!actionError || downAt > actionError.at) ? NETWORK_DOWN : (actionError?.message ?? null);

  function called(view: CallView) {
    currentCall.set(view.callId);
    setCreated(view);
    setCallId(view.callId);
  }

  function newOrder() {
    currentCall.set(null);
    setCreated(null);
    setCallId(null);
    report.error(null);
  }

  const who = signedIn && session.subject ? `${formatMobile(session.subject)} 님` : null;

  return (
    <Frame title="대리운전 콜" who={who} onSignOut={signedIn ? () => signOut(null) : undefined}>
      <div class="slot">
        <ErrorMessage message={shown} />
      </div>
      {!signedIn ? (
        <SignIn report={report} onSignedIn={() => setSignedIn(true)} />
      ) : (
        <>
          {callId ? (
            <LiveCall
              key={callId}
              callId={callId}
              initial={created?.callId === callId ? created : null}
              report={report}
              reportStream={reportStream}
              onGone={newOrder}
              onNewOrder={newOrder}
            />
          ) : (
            <Order report={report} onCalled={called} />
          )}
          <MyPage report={report} reportStream={reportStream} />
        </>
      )}
    </Frame>
  );
}

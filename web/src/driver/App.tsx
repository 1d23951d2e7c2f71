// The driver app (spec section 8): sign in, go online, the live offers, the caught trip, today's
// earnings. One page; the screens follow the state.
import { useCallback, useEffect, useState } from "preact/hooks";
import { attempt, failureMessage } from "../shared/client";
import { watchNetwork } from "../shared/live";
import { PasswordSignIn } from "../shared/PasswordSignIn";
import { NETWORK_DOWN, SESSION_EXPIRED, signedOut } from "../shared/report";
import { ErrorMessage, Frame } from "../shared/ui";
import { api, saveTrip, savedTrip, session, type Me, type TripView } from "./api";
import { Availability } from "./Availability";
import { Earnings } from "./Earnings";
import { Offers } from "./Offers";
import { Trip } from "./Trip";

interface ActiveTrip {
  callId: string;
  /** The catch's answer, when the trip was just caught; null when resumed after a reload. */
  initial: TripView | null;
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.token !== null);
  const [me, setMe] = useState<Me | null>(null);
  const [meFailed, setMeFailed] = useState(false);
  // The one error slot: the newest message wins; the network's shows while it is down.
  const [message, setMessage] = useState<string | null>(null);
  const [browserOnline, setBrowserOnline] = useState(() => navigator.onLine);
  const [streamDown, setStreamDown] = useState(false);
  const [tripDown, setTripDown] = useState(false);
  const [trip, setTrip] = useState<ActiveTrip | null>(() => {
    const callId = savedTrip();
    return callId ? { callId, initial: null } : null;
  });
  // The trip last completed: today's earnings are read until they hold it.
  const [completed, setCompleted] = useState<string | null>(null);

  const networkDown = !browserOnline || streamDown || tripDown;

  useEffect(() => watchNetwork(setBrowserOnline), []);
  useEffect(() => {
    // The network's message is the newest: an older one does not come back after it.
    if (networkDown) setMessage(null);
  }, [networkDown]);

  /** A request answered 401: the sign-in lapsed (or the driver was disabled). */
  const expire = useCallback(() => {
    session.clear();
    setSignedIn(false);
    setMe(null);
    setMessage(SESSION_EXPIRED);
  }, []);

  const loadMe = useCallback(async () => {
    setMeFailed(false);
    const r = await attempt<Me>(api.GET("/drivers/me"));
    if (!session.token) return;
    if (r.ok) {
      setMe(r.data);
    } else if (!signedOut(r, expire)) {
      setMeFailed(true);
      if (r.status !== 0) setMessage(failureMessage(r));
    }
  }, [expire]);

  useEffect(() => {
    if (signedIn) void loadMe();
  }, [signedIn, loadMe]);

  function signOut() {
    session.clear();
    saveTrip(null);
    setTrip(null);
    setMe(null);
    setSignedIn(false);
    setMessage(null);
  }

  function caught(view: TripView) {
    saveTrip(view.callId);
    setTrip({ callId: view.callId, initial: view });
  }

  function backToOffers() {
    saveTrip(null);
    setTrip(null);
    void loadMe();
  }

  const who = me ? `${me.name} · ${me.areas.join(", ")}` : session.subject;

  return (
    <Frame title="대리운전 기사" who={signedIn ? who : null} onSignOut={signOut}>
      <ErrorMessage message={networkDown ? NETWORK_DOWN : message} />
      {!signedIn ? (
        <PasswordSignIn
          title="기사 로그인"
          role="driver"
          wrongRole="기사 계정으로 로그인해 주세요."
          session={session}
          api={api}
          onMessage={setMessage}
          onSignedIn={() => setSignedIn(true)}
        />
      ) : (
        <>
          <Availability
            me={me}
            failed={meFailed}
            onRetry={() => void loadMe()}
            onChanged={(online) => setMe((current) => (current ? { ...current, online } : current))}
            onMessage={setMessage}
            onExpired={expire}
          />
          {trip ? (
            <Trip
              key={trip.callId}
              callId={trip.callId}
              initial={trip.initial}
              onMessage={setMessage}
              onExpired={expire}
              onBack={backToOffers}
              onCompleted={() => setCompleted(trip.callId)}
              onLink={(up) => setTripDown(!up)}
            />
          ) : me?.online ? (
            <Offers
              onCaught={caught}
              onMessage={setMessage}
              onExpired={expire}
              onStream={(up) => setStreamDown(!up)}
            />
          ) : (
            me && (
              <section aria-labelledby="resting-title">
                <h2 id="resting-title">들어온 호출</h2>
                <p class="muted">
                  쉬는 중에는 호출을 받지 않습니다. 호출을 받으려면 ‘호출 받기 시작’을 눌러 주세요.
                </p>
              </section>
            )
          )}
          <Earnings completed={completed} onExpired={expire} />
        </>
      )}
    </Frame>
  );
}

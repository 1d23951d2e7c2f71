// The driver app (spec section 8): sign in, go online, the live offers, the caught trip, today's
// earnings. One page; the screens follow the state. The feed (`/catches/events`) stays open while
// signed in: it brings the offers and the driver's availability as the API sees it.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { attempt, failureMessage } from "../shared/client";
import { watchNetwork } from "../shared/live";
import { PasswordSignIn } from "../shared/PasswordSignIn";
import { NETWORK_DOWN, SESSION_EXPIRED, signedOut } from "../shared/report";
import { ErrorMessage, Frame } from "../shared/ui";
import { api, saveTrip, savedTrip, session, type Me, type TripView } from "./api";
import { Availability, type OfflineReason } from "./Availability";
import { Earnings } from "./Earnings";
import { useFeed } from "./feed";
import { Offers } from "./Offers";
import { Trip } from "./Trip";

/** Shown after a 401 while the token had not expired: for a driver, the account was disabled. */
const ACCOUNT_DISABLED = "기사 계정이 사용 중지되어 로그아웃되었습니다. 운영자에게 문의해 주세요.";

/** Whether `token` (a JWT) is past its `exp` by this browser's clock (unreadable: yes). */
function tokenExpired(token: string | null): boolean {
  try {
    const payload = token?.split(".")[1];
    if (!payload) return true;
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/"));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    // A minute's grace for a clock that is a little off.
    return typeof exp !== "number" || exp * 1000 <= Date.now() + 60_000;
  } catch {
    return true;
  }
}

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

  // Why the driver is offline; the availability the driver asked for while the request is out
  // (an event saying so is theirs, not the API's); the newest availability the feed heard.
  const [offlineReason, setOfflineReason] = useState<OfflineReason>("driver");
  const requested = useRef<boolean | null>(null);
  const heard = useRef<{ online: boolean; seq: number }>({ online: false, seq: 0 });

  /**
   * A request answered 401: the sign-in lapsed, or (the token not yet expired) an operator
   * disabled the driver, which also ends the feed. Back to the sign-in, told which.
   */
  const expire = useCallback(() => {
    // Already signed out (another request's 401 came first): its message stands.
    if (!session.token) return;
    const disabled = !tokenExpired(session.token);
    session.clear();
    setSignedIn(false);
    setMe(null);
    setMessage(disabled ? ACCOUNT_DISABLED : SESSION_EXPIRED);
  }, []);

  const loadMe = useCallback(async () => {
    setMeFailed(false);
    const mark = heard.current.seq;
    const r = await attempt<Me>(api.GET("/drivers/me"));
    if (!session.token) return;
    if (r.ok) {
      // `online` is the API's effective value; an availability event since is newer still.
      const online = heard.current.seq === mark ? r.data.online : heard.current.online;
      setMe({ ...r.data, online });
    } else if (!signedOut(r, expire)) {
      setMeFailed(true);
      if (r.status !== 0) setMessage(failureMessage(r));
    }
  }, [expire]);

  useEffect(() => {
    if (signedIn) void loadMe();
  }, [signedIn, loadMe]);

  /** The driver's availability changed (`byDriver`: their own request; else the API's word). */
  const shownMe = useRef(me);
  shownMe.current = me;
  const availability = useCallback((online: boolean, byDriver: boolean) => {
    const current = shownMe.current;
    if (!current || current.online === online) return;
    if (!online) setOfflineReason(byDriver ? "driver" : "presence");
    setMe({ ...current, online });
  }, []);

  // On a call this app does not show (an operator assigned it, or another tab caught it).
  const [onCall, setOnCall] = useState(false);
  const tripShown = useRef(trip);
  tripShown.current = trip;

  const feed = useFeed(signedIn, {
    onAvailability: (online, busy, callId) => {
      heard.current = { online, seq: heard.current.seq + 1 };
      availability(online, requested.current === online);
      setOnCall(busy);
      // A call the API names (an assigned one): shown as the trip, as if caught here.
      if (busy && callId && !tripShown.current) {
        saveTrip(callId);
        setTrip({ callId, initial: null });
      }
    },
    onMessage: setMessage,
    onExpired: expire,
    onStream: (up) => setStreamDown(!up),
  });

  // Online again: the list is read afresh rather than the one from before shown.
  const online = me?.online ?? false;
  const wasOnline = useRef(online);
  useEffect(() => {
    if (online !== wasOnline.current && online) feed.reload();
    wasOnline.current = online;
  }, [online]);

  function signOut() {
    session.clear();
    saveTrip(null);
    setTrip(null);
    setMe(null);
    setSignedIn(false);
    setMessage(null);
    setOfflineReason("driver");
    setOnCall(false);
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
            offlineReason={offlineReason}
            onRetry={() => void loadMe()}
            onRequested={(online) => {
              requested.current = online;
            }}
            onChanged={(online) => availability(online, true)}
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
          ) : (
            me && (
              <Offers
                offers={feed.offers}
                online={me.online}
                onCall={onCall}
                onGone={feed.drop}
                onCaught={caught}
                onMessage={setMessage}
                onExpired={expire}
              />
            )
          )}
          <Earnings completed={completed} onExpired={expire} />
        </>
      )}
    </Frame>
  );
}

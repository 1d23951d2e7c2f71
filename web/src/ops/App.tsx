// The operations console: sign in, then one page of stacked sections kept live by the
// all-calls stream (`/dashboards/events`).
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { callIdOf, follow, watchNetwork } from "../shared/live";
import { PasswordSignIn } from "../shared/PasswordSignIn";
import { NETWORK_DOWN, SESSION_EXPIRED } from "../shared/report";
import { ErrorMessage, Frame } from "../shared/ui";
import { api, makeOps, session, type DriverRecord, type Ops } from "./api";
import { CallDetail } from "./CallDetail";
import { Calls } from "./Calls";
import { Counts } from "./Counts";
import { Drivers } from "./Drivers";
import { Health } from "./Health";

const TITLE = "대리운전 운영 콘솔";

/** Events within this window refresh once. */
const DEBOUNCE_MS = 300;
/** A stream down this long is started afresh (a refused stream does not retry on its own). */
const RESTART_MS = 10_000;
/** How often the drivers list (their online state) is re-read. */
const DRIVERS_EVERY_MS = 15_000;

/** What changed: `tick` counts refreshes; `calls` are the calls the events named (empty = all). */
export interface Change {
  tick: number;
  calls: Set<string>;
}

export function App() {
  const [signedIn, setSignedIn] = useState(() => session.token !== null);
  const [error, setError] = useState<string | null>(null);

  const expire = useCallback(() => {
    session.clear();
    setSignedIn(false);
    setError(SESSION_EXPIRED);
  }, []);
  const ops = useMemo(() => makeOps(expire, setError), [expire]);

  if (!signedIn) {
    return (
      <Frame title={TITLE}>
        <div class="ops-alert">
          <ErrorMessage message={error} />
        </div>
        <PasswordSignIn
          title="운영자 로그인"
          role="operator"
          wrongRole="운영자 계정으로 로그인해 주세요."
          session={session}
          api={api}
          actions
          onMessage={ops.report}
          onSignedIn={() => setSignedIn(true)}
        />
      </Frame>
    );
  }
  return (
    <Console
      error={error}
      ops={ops}
      clearNetwork={() => setError((e) => (e === NETWORK_DOWN ? null : e))}
      onSignOut={() => {
        session.clear();
        setError(null);
        setSignedIn(false);
      }}
    />
  );
}

function Console(props: {
  error: string | null;
  ops: Ops;
  clearNetwork: () => void;
  onSignOut: () => void;
}) {
  const { ops } = props;
  const [change, setChange] = useState<Change>({ tick: 0, calls: new Set() });
  const [open, setOpen] = useState<{ callId: string; workflowUrl?: string | null } | null>(null);
  const [drivers, setDrivers] = useState<DriverRecord[]>([]);
  const [online, setOnline] = useState(() => navigator.onLine);
  const [streamUp, setStreamUp] = useState<boolean | null>(null);
  const [generation, setGeneration] = useState(0);

  // Refresh everything that reads calls, at most once per DEBOUNCE_MS.
  const pending = useRef<{ timer: number | null; calls: Set<string>; all: boolean }>({
    timer: null,
    calls: new Set(),
    all: false,
  });
  const refresh = useCallback((callId?: string) => {
    const p = pending.current;
    if (callId) p.calls.add(callId);
    else p.all = true;
    if (p.timer !== null) return;
    p.timer = window.setTimeout(() => {
      const calls = p.all ? new Set<string>() : p.calls;
      p.timer = null;
      p.calls = new Set();
      p.all = false;
      setChange((c) => ({ tick: c.tick + 1, calls }));
    }, DEBOUNCE_MS);
  }, []);
  useEffect(() => () => {
    if (pending.current.timer !== null) clearTimeout(pending.current.timer);
  }, []);

  // The live stream of every call's events.
  useEffect(() => {
    let wasDown = false;
    const stop = follow(
      session,
      "/dashboards/events",
      // An event that names no call (a keep-alive or a comment) refreshes everything.
      (event) => refresh(callIdOf(event)),
      (connected) => {
        setStreamUp(connected);
        if (!connected) wasDown = true;
        // Back after a break: what happened meanwhile is read afresh (a 401 also shows here).
        if (connected && wasDown) refresh();
        if (!connected) refresh();
      },
    );
    return stop;
  }, [generation, refresh]);

  // A stream that stays down is started again.
  useEffect(() => {
    if (streamUp !== false) return;
    const timer = window.setTimeout(() => setGeneration((g) => g + 1), RESTART_MS);
    return () => clearTimeout(timer);
  }, [streamUp, generation]);

  // The browser's own idea of the network.
  useEffect(
    () =>
      watchNetwork((up) => {
        setOnline(up);
        if (up) refresh();
      }),
    [refresh],
  );

  // One message slot: the network sentence while down, cleared once back (unless newer).
  const down = !online || streamUp === false;
  useEffect(() => {
    if (down) ops.report(NETWORK_DOWN);
    else props.clearNetwork();
  }, [down]);

  const loadDrivers = useCallback(async () => {
    const r = await ops.run(api.GET("/drivers"));
    if (r.ok) setDrivers(r.data);
    else ops.fail(r);
  }, [ops]);
  useEffect(() => {
    void loadDrivers();
    // Drivers go online and offline on their own: re-read the list now and then.
    const timer = window.setInterval(() => void loadDrivers(), DRIVERS_EVERY_MS);
    return () => clearInterval(timer);
  }, [loadDrivers]);

  const driverNames = useMemo(
    () => new Map(drivers.map((d) => [d.username, d.name] as const)),
    [drivers],
  );

  return (
    <Frame title={TITLE} who={`운영자 ${session.subject ?? ""}`.trim()} onSignOut={props.onSignOut}>
      <div class="ops-alert">
        <ErrorMessage message={props.error} />
      </div>
      <div class="ops-grid">
        <div class="ops-col">
          <Counts ops={ops} change={change} />
          <Calls
            ops={ops}
            change={change}
            driverNames={driverNames}
            openId={open?.callId ?? null}
            onOpen={(callId, workflowUrl) => setOpen({ callId, workflowUrl })}
          />
          {open && (
            <CallDetail
              key={open.callId}
              ops={ops}
              callId={open.callId}
              workflowUrl={open.workflowUrl ?? null}
              change={change}
              driverNames={driverNames}
              drivers={drivers}
              reloadDrivers={loadDrivers}
              onChanged={() => {
                refresh();
                void loadDrivers();
              }}
              onClose={() => setOpen(null)}
            />
          )}
        </div>
        <div class="ops-col">
          <Drivers ops={ops} drivers={drivers} reload={loadDrivers} />
          <Health ops={ops} />
        </div>
      </div>
    </Frame>
  );
}

// The places the tariff knows (`GET /places`), offered as suggestions on both place inputs: the
// API takes the names, the Korean label beside each helps people pick.
import { useEffect, useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { signedOut, type Report } from "../shared/report";
import { api, type Place } from "./session";

export const PLACES_LIST_ID = "known-places";

/** How long to wait before asking again after the list could not be read. */
const RETRY_MS = 10_000;

/**
 * The tariff's places, in its order; empty until read (or while the API cannot be reached: the
 * inputs still take any text, the suggestions come once the list does). A 401 signs out.
 */
export function usePlaces(report: Report): Place[] {
  const [places, setPlaces] = useState<Place[]>([]);
  useEffect(() => {
    let alive = true;
    let retry = 0;
    async function load() {
      const r = await attempt<Place[]>(api.GET("/places"));
      if (!alive) return;
      if (r.ok) {
        setPlaces(r.data);
      } else if (!signedOut(r, report.expired)) {
        // Suggestions are a help, not a step: no message, just another try later.
        retry = window.setTimeout(() => void load(), RETRY_MS);
      }
    }
    void load();
    return () => {
      alive = false;
      window.clearTimeout(retry);
    };
  }, []);
  return places;
}

/** The `<datalist>` both place inputs point at: each name, with its Korean label beside it. */
export function PlaceList({ places }: { places: Place[] }) {
  return (
    <datalist id={PLACES_LIST_ID}>
      {places.map((p) => (
        <option key={p.name} value={p.name} label={p.label && p.label !== p.name ? p.label : undefined} />
      ))}
    </datalist>
  );
}

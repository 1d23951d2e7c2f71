// The driver app's session, client and the shapes it reads (spec sections 7 and 9).
// The interfaces below are what the screens rely on; `attempt<T>(api...)` checks at compile time
// that the API's generated types still fit them.
import { Session, apiClient } from "../shared/client";

export const session = new Session("driver.token");
export const api = apiClient(session);

/** Where the active trip's call id is kept, so a reload resumes the trip. */
export const TRIP_KEY = "driver.trip";

/** The signed-in driver (`GET /drivers/me`). */
export interface Me {
  username: string;
  name: string;
  areas: string[];
  online: boolean;
}

/** An open offer (`GET /catches`, `offers` events). */
export interface Offer {
  callId: string;
  location: string;
  destination?: string | null;
  payAmount: number;
  receivedAt: string;
}

/** The caught call as the driver sees it (the customer's number masked). */
export interface TripView {
  callId: string;
  status: string;
  mobile: string;
  location: string;
  destination?: string | null;
  payAmount: number;
  noShowFrom?: string | null;
}

/** One of today's completed trips. */
export interface EarnedTrip {
  callId: string;
  location: string;
  destination?: string | null;
  payAmount: number;
  completedAt: string;
}

/** Today's completed trips and their total (`GET /drivers/me/earnings`). */
export interface Earnings {
  day: string;
  trips: EarnedTrip[];
  total: number;
}

/** The call's id from the session, if a trip was under way in this tab. */
export function savedTrip(): string | null {
  return sessionStorage.getItem(TRIP_KEY);
}

export function saveTrip(callId: string | null): void {
  if (callId) sessionStorage.setItem(TRIP_KEY, callId);
  else sessionStorage.removeItem(TRIP_KEY);
}

/** A destination as a readout. */
export function destinationOf(destination: string | null | undefined): string {
  return destination && destination.trim() ? destination : "목적지 미정";
}

// The driver app's session, client and the shapes it reads (spec sections 7 and 9), named from
// the API's generated types.
import { Session, apiClient, type Schemas } from "../shared/client";

export const session = new Session("driver.token");
export const api = apiClient(session);

/** Where the active trip's call id is kept, so a reload resumes the trip. */
export const TRIP_KEY = "driver.trip";

/** The signed-in driver (`GET /drivers/me`). */
export type Me = Schemas["DriverRecord"];

/** Whether the driver is online (`PUT /drivers/me/availability`, `availability` events). */
export type Availability = Schemas["Availability"];

/** An open offer (`GET /catches`, `offers` events). */
export type Offer = Schemas["OpenOffer"];

/** The caught call as the driver sees it (the customer's number masked). */
export type TripView = Schemas["CallView"];

/** Today's completed trips and their total (`GET /drivers/me/earnings`). */
export type Earnings = Schemas["Earnings"];

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

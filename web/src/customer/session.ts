// The customer app's session, API client and the small helpers every screen of it shares.
import { apiClient, Session, type Schemas } from "../shared/client";

export const session = new Session("customer.token");
export const api = apiClient(session);

export type CallView = Schemas["CallView"];
export type Quote = Schemas["Quote"];
export type CallSummary = Schemas["CallSummary"];
export type TimelineEvent = Schemas["TimelineEvent"];
/** A place the tariff knows (`GET /places`): the name the API takes, its Korean label, its area. */
export type Place = Schemas["PlaceAnswer"];

/** The call this tab is following, so a reload comes back to it. */
const CALL_KEY = "customer.callId";

export const currentCall = {
  get(): string | null {
    return sessionStorage.getItem(CALL_KEY);
  },
  set(callId: string | null): void {
    if (callId) sessionStorage.setItem(CALL_KEY, callId);
    else sessionStorage.removeItem(CALL_KEY);
  },
};

/** Statuses a customer may still cancel from (spec section 3). */
export const CANCELLABLE = new Set(["CREATED", "PAID", "DISPATCHED", "CAUGHT", "ARRIVED"]);

// Ordering a driver: pickup and destination, the quote (fare and breakdown), an optional tip,
// then the call itself (CREATED; paying is the next step, on the live call).
import { useState } from "preact/hooks";
import { attempt } from "../shared/client";
import { reportFailure, type Report } from "../shared/report";
import { hms, useNow } from "../shared/time";
import { Field, won } from "../shared/ui";
import { PLACES_LIST_ID, PlaceList, usePlaces } from "./places";
import { api, type CallView, type Place, type Quote } from "./session";

/** A breakdown line's name (`base`, `distance 12.4 km`, ...) in Korean. */
function itemLabel(item: string): string {
  const distance = /^distance\s+(.+)$/i.exec(item);
  if (distance) return `거리 요금 (${distance[1]})`;
  switch (item.toLowerCase()) {
    case "base":
      return "기본 요금";
    case "late-night surcharge":
      return "심야 할증";
    case "rounding":
      return "1,000원 단위 반올림";
    case "minimum fare":
      return "최저 요금 보정";
    default:
      return item;
  }
}

/** A place the tariff does not know (422): the sentence, with a few names of `places` as examples. */
function unknownPlace(places: Place[]): string {
  const examples = places
    .slice(0, 4)
    .map((p) => p.name)
    .join(", ");
  return `출발지나 도착지를 찾을 수 없습니다. 목록에 있는 장소 이름으로 입력해 주세요${examples ? ` (예: ${examples})` : ""}.`;
}
const QUOTE_EXPIRED = "견적이 만료되었습니다. 요금을 다시 확인해 주세요.";

export function Order(props: { report: Report; onCalled: (view: CallView) => void }) {
  const { report } = props;
  const places = usePlaces(report);
  const [pickup, setPickup] = useState("");
  const [destination, setDestination] = useState("");
  const [quote, setQuote] = useState<Quote | null>(null);
  const [tip, setTip] = useState("");
  const [busy, setBusy] = useState(false);
  const now = useNow(quote !== null);
  const expired = quote !== null && Date.parse(quote.expiresAt) <= now;

  function changePlace(set: (v: string) => void) {
    return (value: string) => {
      set(value);
      setQuote(null); // a quote is for the places it was given
    };
  }

  async function getQuote() {
    const location = pickup.trim();
    const dest = destination.trim();
    if (!location || !dest) {
      report.error("출발지와 도착지를 입력해 주세요.");
      return;
    }
    setBusy(true);
    const r = await attempt(api.POST("/quotes", { body: { location, destination: dest } }));
    setBusy(false);
    if (r.ok) {
      report.error(null);
      setQuote(r.data);
      return;
    }
    setQuote(null);
    reportFailure(r, report, { 422: unknownPlace(places) });
  }

  async function requestCall() {
    if (!quote) return;
    const tipText = tip.trim();
    const tipAmount = tipText === "" ? 0 : Number(tipText);
    if (!Number.isInteger(tipAmount) || tipAmount < 0) {
      report.error("팁은 0원 이상의 정수로 입력해 주세요.");
      return;
    }
    if (expired) {
      report.error(QUOTE_EXPIRED);
      return;
    }
    setBusy(true);
    const r = await attempt(
      api.POST("/calls", { body: { quoteId: quote.quoteId, tip: tipAmount, payType: "CARD" } }),
    );
    setBusy(false);
    if (r.ok) {
      report.error(null);
      props.onCalled(r.data);
      return;
    }
    if (!r.ok && r.status === 422 && Date.parse(quote.expiresAt) <= Date.now()) {
      setQuote(null);
      report.error(QUOTE_EXPIRED);
      return;
    }
    reportFailure(r, report);
  }

  const tipAmount = Number(tip.trim() || "0");
  const total = quote ? quote.fare + (Number.isFinite(tipAmount) && tipAmount > 0 ? tipAmount : 0) : 0;

  return (
    <section aria-labelledby="order-title">
      <h2 id="order-title">대리운전 부르기</h2>
      <PlaceList places={places} />
      <Field
        label="출발지"
        testid="pickup"
        list={PLACES_LIST_ID}
        autoComplete="off"
        placeholder="예: Kangnam station"
        value={pickup}
        onInput={changePlace(setPickup)}
      />
      <Field
        label="도착지"
        testid="destination"
        list={PLACES_LIST_ID}
        autoComplete="off"
        placeholder="예: Bundang"
        value={destination}
        onInput={changePlace(setDestination)}
      />
      <div class="actions">
        <button type="button" class="secondary" data-testid="get-quote" disabled={busy} onClick={getQuote}>
          요금 확인
        </button>
      </div>

      {quote && (
        <div class="quote" aria-live="polite">
          <p class="fare">
            예상 요금 <strong data-testid="quote-fare">{won(quote.fare)}</strong>
          </p>
          <ul class="breakdown" data-testid="quote-breakdown" aria-label="요금 내역">
            {quote.breakdown.map((line, i) => (
              <li key={i}>
                <span>{itemLabel(line.item)}</span>
                <span>{won(line.amount)}</span>
              </li>
            ))}
          </ul>
          <p class="muted" data-testid="quote-expires">
            {expired
              ? QUOTE_EXPIRED
              : `이 요금은 ${hms(quote.expiresAt)}까지 유효합니다.`}
          </p>
          <Field
            label="팁 (선택, 원) — 더 빨리 배차됩니다"
            testid="tip"
            type="number"
            inputMode="numeric"
            placeholder="0"
            value={tip}
            onInput={setTip}
          />
          <p>
            결제할 금액 <strong data-testid="order-total">{won(total)}</strong>
          </p>
          <div class="actions">
            <button type="button" data-testid="request-call" disabled={busy} onClick={requestCall}>
              이 요금으로 호출하기
            </button>
          </div>
        </div>
      )}
    </section>
  );
}

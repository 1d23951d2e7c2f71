// A call's timeline in Korean: one `timeline-event` per event, oldest first.
import { clock } from "../shared/ui";

/** What each timeline event (spec sections 3 and 9) means, for the customer. */
const EVENT_LABELS: Record<string, string> = {
  CallMade: "호출을 접수했습니다",
  QuoteAccepted: "견적 요금으로 호출했습니다",
  PaymentApproved: "결제가 승인되었습니다",
  PaymentRejected: "결제가 거절되었습니다",
  CallPayed: "결제가 완료되었습니다",
  CallReceived: "주변 기사님께 호출을 보냈습니다",
  OfferWidened: "더 넓은 지역의 기사님께 호출을 보냈습니다",
  CallCaught: "기사님이 배정되었습니다",
  CatchDenied: "배차가 취소되었습니다",
  CallDenied: "호출이 거절되었습니다",
  CallCancelled: "호출을 취소했습니다",
  PaymentCancelled: "결제를 취소하고 환불했습니다",
  PaymentDisabled: "결제를 무효로 하고 환불했습니다",
  DriverArrived: "기사님이 출발지에 도착했습니다",
  TripStarted: "운행을 시작했습니다",
  TripCompleted: "운행을 마쳤습니다",
  CallExpired: "시간이 지나 호출이 만료되었습니다",
  CancellationFeeCharged: "취소 수수료를 받고 나머지를 환불했습니다",
  NoShow: "기사님을 만나지 못해 노쇼로 처리되었습니다",
};

export function eventLabel(event: string, description?: string): string {
  return EVENT_LABELS[event] ?? description ?? event;
}

export interface TimelineItem {
  seq: number;
  event: string;
  at: string;
  description?: string;
}

/** The events as an ordered list; `testid` names the list (`timeline` or `mypage-timeline`). */
export function Timeline(props: { events: TimelineItem[]; testid: string; id?: string; label?: string }) {
  const events = [...props.events].sort((a, b) => a.seq - b.seq);
  return (
    <ol class="timeline" data-testid={props.testid} id={props.id} aria-label={props.label}>
      {events.map((e) => (
        <li key={e.seq} data-testid="timeline-event" data-event={e.event}>
          <time dateTime={e.at} class="when">
            {clock(e.at)}
          </time>{" "}
          {eventLabel(e.event, e.description)}
        </li>
      ))}
    </ol>
  );
}

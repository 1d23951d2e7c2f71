// The customer's journey in the customer app (/app/), with a driver in the driver app (/driver/)
// in a second browser context: sign in with the code, quote, request, pay, follow the call live
// to its end, and find it on myPage; then a cancel that costs a fee, and the payment failures.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DRIVER_PASSWORD,
  PATIENCE,
  api,
  asOperator,
  byTestId,
  checkScreen,
  eventually,
  sharedBrowser,
  newestCallOf,
  open,
  paymentOf,
  registerDriver,
  requestCall,
  sandboxMode,
  signInCustomer,
  signInWithPassword,
  uniqueMobile,
  waitForError,
  waitForStatus,
} from "./support.mjs";

const browser = sharedBrowser();

/** Counts the main frame's navigations from now on: following a call live must need none. */
function countReloads(page) {
  let reloads = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) reloads += 1;
  });
  return () => reloads;
}

test("a customer requests, pays and follows a call live to the end, then finds it on myPage", async () => {
  const customer = await open(browser(), "/app/");
  await checkScreen(customer, "customer-sign-in");
  const mobile = uniqueMobile();
  await signInCustomer(customer.page, mobile);
  await checkScreen(customer, "customer-order");
  const reloads = countReloads(customer.page);

  const { page } = customer;
  await byTestId(page, "pickup").fill("Kangnam");
  await byTestId(page, "destination").fill("Seoul station");
  await byTestId(page, "get-quote").click();
  await byTestId(page, "quote-fare").waitFor({ timeout: PATIENCE });
  const fareText = await byTestId(page, "quote-fare").textContent();
  assert.match(fareText, /\d{1,3}(,\d{3})+원/, "the fare in won");
  await checkScreen(customer, "customer-quote");
  await byTestId(page, "request-call").click();
  await waitForStatus(page, "call-status", "CREATED");
  await byTestId(page, "pay").click();
  await waitForStatus(page, "call-status", "DISPATCHED");
  const callId = await newestCallOf(mobile);

  // A driver of the area catches it in the driver app.
  const name = "김기사";
  const username = await registerDriver(name, ["kangnam"]);
  const driver = await open(browser(), "/driver/");
  await checkScreen(driver, "driver-sign-in");
  await signInWithPassword(driver.page, username, DRIVER_PASSWORD, "go-online");
  await byTestId(driver.page, "go-online").click();
  const offer = driver.page.locator(`[data-testid="offer-item"][data-call-id="${callId}"]`);
  await offer.waitFor({ timeout: PATIENCE });
  await checkScreen(driver, "driver-offers");
  await byTestId(offer, "catch").click();
  await waitForStatus(driver.page, "trip-status", "CAUGHT");

  // The customer sees who comes, without a reload.
  await waitForStatus(page, "call-status", "CAUGHT");
  await eventually("the driver's name", async () =>
    (await byTestId(page, "driver-name").textContent())?.includes(name),
  );
  assert.match(await byTestId(page, "driver-mobile").textContent(), /010-\*{4}-\d{4}/);
  await checkScreen(customer, "customer-live");

  await byTestId(driver.page, "arrive").click();
  await waitForStatus(driver.page, "trip-status", "ARRIVED");
  await waitForStatus(page, "call-status", "ARRIVED");
  await byTestId(driver.page, "start-trip").click();
  await waitForStatus(driver.page, "trip-status", "DRIVING");
  await checkScreen(driver, "driver-trip");
  await byTestId(driver.page, "complete-trip").click();
  await waitForStatus(driver.page, "trip-status", "COMPLETED");
  await waitForStatus(page, "call-status", "COMPLETED");
  const events = await byTestId(byTestId(page, "timeline"), "timeline-event").count();
  assert.ok(events >= 8, `the live timeline shows the whole trip (${events} events)`);

  // The driver's day counts the trip and its fare.
  const fare = fareText.replace(/[^\d,]/g, "");
  await eventually("today's earnings to include the trip", async () =>
    (await byTestId(driver.page, "earnings-today").textContent())?.includes(fare),
  );
  await checkScreen(driver, "driver-earnings");

  // myPage lists the call with its timeline.
  const listed = page.locator(`[data-testid="mypage-call"][data-call-id="${callId}"]`);
  await listed.waitFor({ timeout: PATIENCE });
  await eventually("myPage to show the call completed", async () =>
    (await listed.locator('[data-status="COMPLETED"]').count()) > 0,
  );
  await listed.locator("button").first().click();
  await eventually("the call's timeline on myPage", async () =>
    (await byTestId(listed, "timeline-event").count()) >= 8,
  );
  await checkScreen(customer, "customer-mypage");
  assert.equal(reloads(), 0, "the customer never reloaded");
  await customer.context.close();
  await driver.context.close();
});

test("a cancel after the grace shows the fee first and refunds the rest", async () => {
  const customer = await open(browser(), "/app/");
  const mobile = uniqueMobile();
  await signInCustomer(customer.page, mobile);
  const { page } = customer;
  await requestCall(page, "Mapo", "Gwanghwamun");
  await byTestId(page, "pay").click();
  await waitForStatus(page, "call-status", "DISPATCHED");
  const callId = await newestCallOf(mobile);

  // A driver catches it in the driver app, and will see the cancel live.
  const username = await registerDriver("이기사", ["mapo"]);
  const driver = await open(browser(), "/driver/");
  await signInWithPassword(driver.page, username, DRIVER_PASSWORD, "go-online");
  await byTestId(driver.page, "go-online").click();
  const offer = driver.page.locator(`[data-testid="offer-item"][data-call-id="${callId}"]`);
  await offer.waitFor({ timeout: PATIENCE });
  await byTestId(offer, "catch").click();
  await waitForStatus(driver.page, "trip-status", "CAUGHT");
  await waitForStatus(page, "call-status", "CAUGHT");

  // Told of the fee before cancelling, once the grace has passed.
  const view = await api("GET", `/calls/${callId}`, await asOperator());
  const appliesFrom = Date.parse(view.body.cancellationFee.appliesFrom);
  const notice = byTestId(page, "cancel-fee-notice");
  await notice.waitFor({ timeout: PATIENCE });
  await eventually("the grace to pass", async () => Date.now() > appliesFrom + 1500, 30_000);
  const told = await notice.textContent();
  assert.match(told, /5,000원/, `the notice names the fee: ${told}`);
  await checkScreen(customer, "customer-cancel-fee");
  await byTestId(page, "cancel-call").click();
  await waitForStatus(page, "call-status", "CANCELLED");
  await waitForStatus(driver.page, "trip-status", "CANCELLED");
  await checkScreen(driver, "driver-trip-cancelled");
  const payment = await eventually("the partial refund", async () => {
    const paid = await paymentOf(callId);
    return paid?.status === "PARTIALLY_REFUNDED" ? paid : undefined;
  });
  assert.equal(payment.fee, 5000);
  assert.equal(payment.refundedAmount, payment.payAmount - 5000);
  await customer.context.close();
  await driver.context.close();
});

test("the customer app explains a wrong code, a declined card, an unavailable payment and a lost network", async () => {
  const customer = await open(browser(), "/app/");
  const { page } = customer;
  const mobile = uniqueMobile();

  // A wrong code is refused; the right one still works.
  await byTestId(page, "otp-mobile").fill(mobile);
  await byTestId(page, "otp-send").click();
  await byTestId(page, "otp-code").fill("000000");
  await byTestId(page, "sign-in").click();
  await waitForError(page, /인증번호/);
  await signInCustomer(page, mobile);

  // The payment service is down: "try again shortly" with the wait; the call stays payable.
  await sandboxMode("failing");
  try {
    await requestCall(page, "Nowon", "Seoul station");
    await byTestId(page, "pay").click();
    const told = await waitForError(page, /다시 시도/);
    assert.match(told, /\d+초/, `the wait is named: ${told}`);
    await waitForStatus(page, "call-status", "CREATED");
    await checkScreen(customer, "customer-payment-unavailable");
  } finally {
    await sandboxMode("normal");
  }
  // Pay again (at most once a second, as a person would) until the breaker lets it through.
  let lastTry = 0;
  await eventually("the payment to go through once the service is back", async () => {
    if ((await page.locator('[data-testid="call-status"][data-status="DISPATCHED"]').count()) > 0) {
      return true;
    }
    const pay = byTestId(page, "pay");
    if (Date.now() - lastTry > 1000 && (await pay.isVisible()) && (await pay.isEnabled())) {
      lastTry = Date.now();
      await pay.click();
    }
    return false;
  }, 30_000);

  // A card that declines (above the sandbox's limit): told so, and the call ends.
  await byTestId(page, "cancel-call").click();
  await waitForStatus(page, "call-status", "CANCELLED");
  await startNewOrder(page);
  await requestCall(page, "Dongjak", "Kangnam", 1_000_000);
  await byTestId(page, "pay").click();
  await waitForError(page, /거절/);
  await waitForStatus(page, "call-status", "PAYMENT_REJECTED");
  await checkScreen(customer, "customer-payment-rejected");

  // The network goes and comes back.
  await customer.context.setOffline(true);
  await waitForError(page, /네트워크/);
  await customer.context.setOffline(false);
  await eventually("the network message to go", async () =>
    !/네트워크/.test((await byTestId(page, "error-message").allTextContents()).join(" ")),
  );
  await customer.context.close();
});

/** From a finished call back to a new order. */
async function startNewOrder(page) {
  await page.getByRole("button", { name: "새 호출" }).click();
  await byTestId(page, "pickup").waitFor({ timeout: PATIENCE });
}

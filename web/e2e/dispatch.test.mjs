// Dispatch (spec section 9) as people see it: a driver gets offers only while online, and an
// operator assigns an open call to a driver in the console (강제배차), which the customer sees.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DRIVER_PASSWORD,
  OPERATOR_PASSWORD,
  PATIENCE,
  api,
  asOperator,
  byTestId,
  checkScreen,
  customerToken,
  eventually,
  newestCallOf,
  open,
  paidCall,
  registerDriver,
  requestCall,
  screenshotPart,
  sharedBrowser,
  signInCustomer,
  signInWithPassword,
  uniqueMobile,
  waitForError,
  waitForStatus,
} from "./support.mjs";

const browser = sharedBrowser();

/** `callId`'s offer in `page`'s list. */
function offerOf(page, callId) {
  return page.locator(`[data-testid="offer-list"] [data-testid="offer-item"][data-call-id="${callId}"]`);
}

/** A driver signed in to the driver app and online. */
async function onlineDriver(name, areas) {
  const username = await registerDriver(name, areas);
  const driver = await open(browser(), "/driver/");
  await signInWithPassword(driver.page, username, DRIVER_PASSWORD, "go-online");
  await byTestId(driver.page, "go-online").click();
  await byTestId(driver.page, "go-offline").waitFor({ timeout: PATIENCE });
  return { ...driver, username, name };
}

test("a driver sees offers only while online: offline, a new call passes them by; online, it appears; disabled, signed out", async () => {
  // Two drivers of one area: one goes offline, the other stays online and shows when the offer
  // is out (so the offline one's empty list is checked once it would have had it).
  const resting = await onlineDriver("한기사", ["nowon"]);
  const witness = await onlineDriver("유기사", ["nowon"]);
  await byTestId(resting.page, "go-offline").click();
  await byTestId(resting.page, "go-online").waitFor({ timeout: PATIENCE });
  const notice = byTestId(resting.page, "offline-notice");
  await notice.waitFor({ timeout: PATIENCE });
  assert.match(await notice.textContent(), /오프라인/);
  assert.equal(await byTestId(resting.page, "availability").getAttribute("data-online"), "false");

  // A paid call from the drivers' area: the online driver gets the offer, the offline one not.
  const callId = await paidCall(await customerToken(uniqueMobile()), "Nowon", "Jongro");
  await offerOf(witness.page, callId).waitFor({ timeout: PATIENCE });
  assert.equal(await offerOf(resting.page, callId).count(), 0, "no offer while offline");
  assert.equal(
    await byTestId(byTestId(resting.page, "offer-list"), "offer-item").count(),
    0,
    "the offline driver's list is empty",
  );
  await checkScreen(resting, "driver-offline");

  // Online again: the open call's offer comes, without a reload.
  await byTestId(resting.page, "go-online").click();
  await byTestId(resting.page, "go-offline").waitFor({ timeout: PATIENCE });
  await offerOf(resting.page, callId).waitFor({ timeout: PATIENCE });
  assert.equal(await byTestId(resting.page, "offline-notice").count(), 0, "the notice goes");

  // Leave no open call behind for the next journeys.
  const denied = await api("POST", `/catches/${callId}/deny`, await asOperator(), {
    reason: "테스트 정리",
  });
  assert.ok(denied.status < 300, `deny: ${denied.status} ${JSON.stringify(denied.body)}`);
  await eventually("the offer to leave both lists", async () =>
    (await offerOf(resting.page, callId).count()) === 0 &&
    (await offerOf(witness.page, callId).count()) === 0,
  );
  await resting.context.close();

  // An operator disables the other driver: their app, still open, says so and signs them out.
  const disabled = await api("POST", `/drivers/${witness.username}/disable`, await asOperator());
  assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
  await byTestId(witness.page, "username").waitFor({ timeout: PATIENCE });
  await waitForError(witness.page, /사용 중지/);
  await checkScreen(witness, "driver-disabled");
  await witness.context.close();
});

test("an operator assigns an open call to an online driver in the console; the customer sees it caught", async () => {
  // A driver of another area, online in the driver app (so available, but never offered it).
  const driver = await onlineDriver("강기사", ["dongjak"]);
  // One registered but never online: the API refuses to assign them.
  const absent = await registerDriver("노기사", ["dongjak"]);

  // The customer requests and pays a call from Bundang: it is DISPATCHED, waiting for a driver.
  const customer = await open(browser(), "/app/");
  const mobile = uniqueMobile();
  await signInCustomer(customer.page, mobile);
  // The place suggestions are the tariff's (`GET /places`), each with its Korean label.
  await customer.page
    .locator('datalist#known-places option[value="Seoul station"][label="서울역"]')
    .waitFor({ state: "attached", timeout: PATIENCE });
  await requestCall(customer.page, "Bundang", "Pangyo");
  await byTestId(customer.page, "pay").click();
  await waitForStatus(customer.page, "call-status", "DISPATCHED");
  const callId = await newestCallOf(mobile);

  // The operator finds it and opens its detail.
  const ops = await open(browser(), "/ops/");
  const { page } = ops;
  await signInWithPassword(page, "ops", OPERATOR_PASSWORD, "status-counts");
  await byTestId(page, "call-search").fill(mobile);
  await byTestId(page, "call-search").press("Enter");
  const row = page.locator(`[data-testid="call-row"][data-call-id="${callId}"]`);
  await row.waitFor({ timeout: PATIENCE });
  await row.locator("button").first().click();
  await waitForStatus(page, "detail-status", "DISPATCHED");
  const select = byTestId(page, "assign-driver");
  await select.waitFor({ timeout: PATIENCE });
  assert.ok(
    await page.getByLabel("배정할 기사").isVisible(),
    "the driver picker is labelled 배정할 기사",
  );
  for (const username of [driver.username, absent]) {
    await select.locator(`option[value="${username}"]`).waitFor({ state: "attached", timeout: PATIENCE });
  }

  await select.selectOption(driver.username);
  await checkScreen(ops, "ops-assign");
  await screenshotPart(page, byTestId(page, "call-detail"), "ops-assign-form");

  // A driver who is not online: refused, and the console says why.
  await select.selectOption(absent);
  await byTestId(page, "assign-call").click();
  await waitForError(page, /강제배차할 수 없습니다/);
  await waitForStatus(page, "detail-status", "DISPATCHED");
  await checkScreen(ops, "ops-assign-refused");
  await screenshotPart(page, byTestId(page, "assign-call"), "ops-assign-refused-view", { viewport: true });

  // The online driver: the call is theirs.
  await select.selectOption(driver.username);
  await byTestId(page, "assign-call").click();
  await waitForStatus(page, "detail-status", "CAUGHT");
  await eventually("the detail to name the driver", async () =>
    (await byTestId(page, "detail-driver").textContent())?.includes(driver.name),
  );
  assert.equal(await byTestId(page, "assign-driver").count(), 0, "no assigning a caught call");
  await eventually("the timeline to show the assignment", async () =>
    /CallAssigned/.test(await byTestId(page, "call-timeline").textContent()),
  );
  await checkScreen(ops, "ops-assigned");
  await screenshotPart(page, byTestId(page, "detail-driver"), "ops-assigned-view", { viewport: true });

  // The customer sees who comes, live.
  await waitForStatus(customer.page, "call-status", "CAUGHT");
  await eventually("the customer to see the driver's name", async () =>
    (await byTestId(customer.page, "driver-name").textContent())?.includes(driver.name),
  );
  const view = await api("GET", `/calls/${callId}`, await asOperator());
  assert.equal(view.body.driver?.driverId, driver.username);

  // The driver's app, open all along, stops offering calls: they are on one (shown as the trip
  // when the API names it, else said).
  await eventually("the driver's app to know of the assigned call", async () =>
    (await driver.page.locator('[data-testid="trip-status"][data-status="CAUGHT"]').count()) > 0 ||
    (await byTestId(driver.page, "on-call-notice").count()) > 0,
  );
  await checkScreen(driver, "driver-assigned");

  await ops.context.close();
  await customer.context.close();
  await driver.context.close();
});

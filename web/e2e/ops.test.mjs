// The operator's console: counts that move live as calls do, a search that finds a call, a deny
// that ends it DENIED, a driver registered there who can then sign in to the driver app, and the
// health of the workers and the payment breaker.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  OPERATOR_PASSWORD,
  PATIENCE,
  api,
  asOperator,
  byTestId,
  checkScreen,
  customerToken,
  eventually,
  sharedBrowser,
  open,
  uniqueMobile,
  uniqueUsername,
  signInWithPassword,
  waitForStatus,
} from "./support.mjs";

const browser = sharedBrowser();

/** The number the console shows for `status`. */
async function shownCount(page, status) {
  const text = await page
    .locator(`[data-testid="status-count"][data-status="${status}"]`)
    .textContent();
  return Number((text ?? "").replace(/[^\d]/g, ""));
}

test("an operator watches counts move, finds a call, denies it and registers a driver", async () => {
  const ops = await open(browser(), "/ops/");
  await checkScreen(ops, "ops-sign-in");
  const { page } = ops;
  await signInWithPassword(page, "ops", OPERATOR_PASSWORD, "status-counts");
  await page.locator('[data-testid="status-count"][data-status="DISPATCHED"]').waitFor();
  const dispatchedBefore = await shownCount(page, "DISPATCHED");

  // A customer's call is paid and dispatched: the count moves without a reload.
  const mobile = uniqueMobile();
  const token = await customerToken(mobile);
  const quote = await api("POST", "/quotes", token, { location: "Bundang", destination: "Kangnam" });
  const made = await api("POST", "/calls", token, { quoteId: quote.body.quoteId, payType: "CARD" });
  const callId = made.body.callId;
  assert.equal((await api("POST", `/calls/${callId}/pay`, token)).status, 200);
  await eventually("the DISPATCHED count to go up", async () =>
    (await shownCount(page, "DISPATCHED")) > dispatchedBefore,
  );

  // Search by the customer's number finds it, linked to its workflow in the Web UI.
  await byTestId(page, "call-search").fill(mobile);
  await byTestId(page, "call-search").press("Enter");
  const row = page.locator(`[data-testid="call-row"][data-call-id="${callId}"]`);
  await row.waitFor({ timeout: PATIENCE });
  const link = await byTestId(row, "temporal-link").getAttribute("href");
  assert.match(link, new RegExp(`/namespaces/default/workflows/call-${callId}$`));
  await checkScreen(ops, "ops-console");

  // Deny it: it ends DENIED, and the timeline shows it.
  await row.locator("button").first().click();
  await byTestId(page, "call-timeline").waitFor({ timeout: PATIENCE });
  await byTestId(page, "deny-reason").fill("테스트 거절");
  await byTestId(page, "deny-call").click();
  await eventually("the call to end DENIED", async () => {
    const view = await api("GET", `/calls/${callId}`, await asOperator());
    return view.body.status === "DENIED";
  });
  await eventually("the timeline to show the deny", async () =>
    /CallDenied|거절/.test(await byTestId(page, "call-timeline").textContent()),
  );
  await checkScreen(ops, "ops-call-detail");

  // The workers and the breaker, as they are.
  await eventually("the breaker's state", async () =>
    (await byTestId(page, "breaker-state").getAttribute("data-state")) === "closed",
  );
  for (const queue of ["driver-call", "payment", "catcher", "dashboard"]) {
    const health = page.locator(`[data-testid="worker-health"] [data-task-queue="${queue}"]`);
    await eventually(`workers polling ${queue}`, async () =>
      (await health.getAttribute("data-state")) === "up",
    );
  }

  // A driver registered here signs in to the driver app.
  const username = uniqueUsername("new");
  const password = "a long new driver password";
  await byTestId(page, "driver-username").fill(username);
  await byTestId(page, "driver-name").fill("정기사");
  await byTestId(page, "driver-mobile").fill(uniqueMobile());
  await byTestId(page, "driver-password").fill(password);
  await byTestId(page, "driver-areas").fill("kangnam, bundang");
  await byTestId(page, "register-driver").click();
  await page.locator(`[data-username="${username}"]`).waitFor({ timeout: PATIENCE });
  const driver = await open(browser(), "/driver/");
  await signInWithPassword(driver.page, username, password, "go-online");
  await byTestId(driver.page, "go-online").click();
  await byTestId(driver.page, "go-offline").waitFor({ timeout: PATIENCE });
  await checkScreen(driver, "driver-online");
  await driver.context.close();
  await ops.context.close();
});

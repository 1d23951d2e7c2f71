// Two drivers' apps see the same offer appear; both press catch; exactly one gets the trip, the
// other is told another driver took it and the offer leaves their list.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DRIVER_PASSWORD,
  PATIENCE,
  byTestId,
  checkScreen,
  customerToken,
  eventually,
  sharedBrowser,
  open,
  paidCall,
  registerDriver,
  signInWithPassword,
  uniqueMobile,
  waitForError,
} from "./support.mjs";

const browser = sharedBrowser();

test("two drivers race for one offer: one wins the trip, the other is told and the offer goes", async () => {
  const drivers = [];
  for (const name of ["박기사", "최기사"]) {
    const username = await registerDriver(name, ["jongro"]);
    const driver = await open(browser(), "/driver/");
    await signInWithPassword(driver.page, username, DRIVER_PASSWORD, "go-online");
    await byTestId(driver.page, "go-online").click();
    await byTestId(driver.page, "go-offline").waitFor({ timeout: PATIENCE });
    drivers.push(driver);
  }

  // The offer appears in both lists without a reload.
  const callId = await paidCall(await customerToken(uniqueMobile()), "Jongro", "Mapo");
  const offers = drivers.map((d) =>
    d.page.locator(`[data-testid="offer-item"][data-call-id="${callId}"]`),
  );
  await Promise.all(offers.map((offer) => offer.waitFor({ timeout: PATIENCE })));

  // Both press catch at once.
  await Promise.all(offers.map((offer) => byTestId(offer, "catch").click()));
  const outcomes = await Promise.all(
    drivers.map(async ({ page }) =>
      eventually("the catch's outcome", async () => {
        if ((await page.locator('[data-testid="trip-status"][data-status="CAUGHT"]').count()) > 0) {
          return "won";
        }
        const told = (await byTestId(page, "error-message").allTextContents()).join(" ");
        return /다른 기사/.test(told) ? "lost" : undefined;
      }),
    ),
  );
  assert.deepEqual([...outcomes].sort(), ["lost", "won"], `one winner: ${outcomes}`);

  const loser = drivers[outcomes.indexOf("lost")];
  await waitForError(loser.page, /다른 기사님이 먼저/);
  await eventually("the offer to leave the loser's list", async () =>
    (await offers[outcomes.indexOf("lost")].count()) === 0,
  );
  await checkScreen(loser, "driver-lost-race");
  for (const driver of drivers) await driver.context.close();
});

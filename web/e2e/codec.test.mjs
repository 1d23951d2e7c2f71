// The Temporal Web UI and the API's codec server (docs/privacy.md): a call's payloads reach
// Temporal encrypted; the Web UI shows them decoded to an operator signed in to the console in
// the same browser, and encrypted to anyone else. Run by tests/tests/privacy.rs against the
// embedded default (scripts/supervise, whose dev server's Web UI has the API's codec endpoint).
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  API,
  OPERATOR_PASSWORD,
  PATIENCE,
  api,
  customerToken,
  eventually,
  launch,
  signInWithPassword,
  uniqueMobile,
} from "./support.mjs";

const UI = process.env.TEMPORAL_UI_URL;
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? "../target/app-screenshots";

/**
 * The codec setting an operator makes once in the Web UI (the dev server cannot make it): this
 * browser's codec endpoint is the API's, with the browser's credentials (the console's cookie).
 */
async function codecSetting(context) {
  await context.addInitScript(
    ({ ui, endpoint }) => {
      if (window.location.origin !== ui) return;
      window.localStorage.setItem("overrideRemoteCodecConfiguration", "true");
      window.localStorage.setItem("endpoint", JSON.stringify(endpoint));
      window.localStorage.setItem("includeCredentials", "true");
    },
    { ui: UI, endpoint: `${API}/codec` },
  );
}

/** The call's workflow page in the Web UI, as `context`'s person sees it, and its text. */
async function workflowPage(context, callId, name) {
  const page = await context.newPage();
  await page.goto(`${UI}/namespaces/default/workflows/call-${callId}`);
  await page.getByText("DriverCallWorkflow").first().waitFor({ timeout: PATIENCE });
  mkdirSync(SCREENSHOTS, { recursive: true });
  return { page, shot: () => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true }) };
}

test("an operator signed in to the console sees a call decoded in the Web UI; nobody else does", async () => {
  assert.ok(UI, "TEMPORAL_UI_URL is set");
  const mobile = uniqueMobile();
  const token = await customerToken(mobile);
  const made = await api("POST", "/calls", token, {
    mobile,
    location: "Kangnam Yeoksam-ro 427",
    destination: "Bundang Jeongja-ro 178",
    payType: "CARD",
    payAmount: 23000,
  });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const callId = made.body.callId;

  const browser = await launch();
  try {
    // The operator: signed in to the console, then the Web UI in the same browser.
    const operator = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await codecSetting(operator);
    const ops = await operator.newPage();
    await ops.goto(`${API}/ops/`);
    await signInWithPassword(ops, "ops", OPERATOR_PASSWORD, "status-counts");
    const seen = await workflowPage(operator, callId, "web-ui-operator-decoded");
    await seen.page.getByText(mobile, { exact: false }).first().waitFor({ timeout: PATIENCE });
    await seen.page.getByText("Yeoksam-ro 427", { exact: false }).first().waitFor({ timeout: PATIENCE });
    await seen.shot();

    // Anyone else (the same codec setting, no operator's cookie): the codec server says 401 and
    // the Web UI shows the input as the server holds it, ciphertext.
    const stranger = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await codecSetting(stranger);
    const refused = new Promise((resolve) => {
      stranger.on("response", (response) => {
        if (response.url().includes("/codec/decode")) resolve(response.status());
      });
    });
    const hidden = await workflowPage(stranger, callId, "web-ui-stranger-encrypted");
    assert.equal(await refused, 401, "the codec server refuses a stranger");
    const ciphertext = await eventually("the input shown as ciphertext", async () => {
      const text = await hidden.page.locator("body").innerText();
      return /[A-Za-z0-9+/]{200,}={0,2}/.test(text) ? text : undefined;
    });
    assert.ok(!ciphertext.includes(mobile), "a stranger sees the number");
    assert.ok(!ciphertext.includes("Yeoksam-ro 427"), "a stranger sees the pickup");
    await hidden.shot();
  } finally {
    await browser.close();
  }
});

// What every browser test shares: Debian's chromium driven by playwright-core (no browser
// download), a phone-sized page that records console errors and requests to other hosts, the
// axe-core check and the screenshot of a screen, and the API calls a test makes to set the scene.
// The Rust test tests/tests/apps.rs starts the real stack and runs these with its addresses.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before } from "node:test";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);

export const API = process.env.API_URL ?? "http://127.0.0.1:8080";
export const SANDBOX = process.env.SANDBOX_URL;
export const OPERATOR_PASSWORD = process.env.OPERATOR_PASSWORD;
const SCREENSHOTS = process.env.SCREENSHOT_DIR ?? "../target/app-screenshots";

/** How long a person waits for a screen to show something. */
export const PATIENCE = 20_000;

/** The browser's log line for an answer the app handles and tells the person about. */
const EXPECTED_ANSWER = /^Failed to load resource: the server responded with a status of (401|402|404|409|422|429|503)/;

/** The phone every test holds: 360×740. */
const PHONE = { width: 360, height: 740 };

function chromiumPath() {
  if (process.env.CHROMIUM) return process.env.CHROMIUM;
  return execFileSync("sh", ["-c", "command -v chromium"], { encoding: "utf8" }).trim();
}

/** One browser for a test file: launched before its tests, closed after; call inside a test. */
export function sharedBrowser() {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });
  return () => browser;
}

export async function launch() {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

/**
 * A new person (browser context) on `path` of the API's apps. `problems()` lists every console
 * error, page error and request to a host other than the API's seen so far.
 */
export async function open(browser, path) {
  const context = await browser.newContext({ viewport: PHONE, locale: "ko-KR" });
  const page = await context.newPage();
  const seen = [];
  const apiHost = new URL(API).host;
  page.on("console", (message) => {
    // Chromium logs every 4xx/5xx answer as "Failed to load resource"; the answers a person is
    // told about (a lost race, a declined card, ...) are expected, so only the app's own errors
    // count.
    if (message.type() === "error" && !EXPECTED_ANSWER.test(message.text())) {
      seen.push(`console error: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => seen.push(`page error: ${error.message}`));
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.protocol.startsWith("http") && url.host !== apiHost) {
      seen.push(`request to another host: ${request.url()}`);
    }
  });
  await page.goto(`${API}${path}`);
  return { page, context, problems: () => [...seen] };
}

/**
 * The screen as it is now: a screenshot under target/, then no console error, no request to
 * another host and no serious or critical axe-core violation.
 */
export async function checkScreen(person, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await person.page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  await person.page.addScriptTag({ path: require.resolve("axe-core/axe.min.js") });
  const violations = await person.page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations
      .filter((v) => v.impact === "serious" || v.impact === "critical")
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
  });
  assert.deepEqual(violations, [], `${name}: accessibility`);
  assert.deepEqual(person.problems(), [], `${name}: console errors or foreign requests`);
}

/**
 * A screenshot of part of the screen under target/: `locator`'s element, or (`viewport`) the
 * phone's screen scrolled to it, for a form far down a long page.
 */
export async function screenshotPart(page, locator, name, { viewport = false } = {}) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  if (viewport) {
    await locator.scrollIntoViewIfNeeded();
    await page.screenshot({ path });
  } else {
    await locator.screenshot({ path });
  }
}

/** The element with `testid` once it shows (within the page, or within `scope`). */
export function byTestId(scope, testid) {
  return scope.locator(`[data-testid="${testid}"]`);
}

/** Waits until the readout `testid` carries `data-status` = `status`. */
export async function waitForStatus(page, testid, status, timeout = PATIENCE) {
  await page.waitForSelector(`[data-testid="${testid}"][data-status="${status}"]`, { timeout });
}

/** Waits until `error-message` shows text matching `pattern`. */
export async function waitForError(page, pattern, timeout = PATIENCE) {
  const message = byTestId(page, "error-message");
  await message.first().waitFor({ timeout });
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = (await message.allTextContents()).join(" ");
    if (pattern.test(text)) return text;
    assert.ok(Date.now() < deadline, `error-message ${JSON.stringify(text)} never matched ${pattern}`);
    await page.waitForTimeout(100);
  }
}

/** Polls `check` until it gives a value (not undefined/false), or fails after `timeout`. */
export async function eventually(what, check, timeout = PATIENCE) {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false && value !== null) return value;
    assert.ok(Date.now() < deadline, `${what} did not happen within ${timeout} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** An API request as `token`'s bearer: the status and the JSON body. */
export async function api(method, path, token, body) {
  const response = await fetch(`${API}${path}`, {
    method,
    headers: {
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { "Content-Type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

let operatorToken;
/** The bootstrap operator's token. */
export async function asOperator() {
  if (!operatorToken) {
    const answer = await api("POST", "/auth/token", null, {
      grantType: "password",
      username: "ops",
      password: OPERATOR_PASSWORD,
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    operatorToken = answer.body.accessToken;
  }
  return operatorToken;
}

let counter = 0;
/** A mobile number nobody has used. */
export function uniqueMobile() {
  counter += 1;
  const n = (Date.now() % 1_000_000) * 100 + counter;
  return `010${String(n).padStart(8, "0").slice(-8)}`;
}

/** A new username. */
export function uniqueUsername(prefix) {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}`;
}

/** A password the policy accepts. */
export const DRIVER_PASSWORD = "a long driver password 1";

/** Registers a driver (through the API, as the operator) and returns their username. */
export async function registerDriver(name, areas) {
  const username = uniqueUsername("drv");
  const answer = await api("POST", "/drivers", await asOperator(), {
    username,
    name,
    mobile: uniqueMobile(),
    password: DRIVER_PASSWORD,
    areas,
  });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return username;
}

/** How many messages the development outbox holds for `mobile`. */
async function outboxSize(mobile) {
  const answer = await api("GET", `/dev/sms?mobile=${mobile}`);
  return answer.status === 200 ? answer.body.length : 0;
}

/**
 * The code of the message sent after the outbox held `seen` messages for `mobile` (newest first):
 * an older code is replaced by the newer and no longer signs in.
 */
export async function smsCode(mobile, seen = 0) {
  return eventually(`a new code for ${mobile}`, async () => {
    const answer = await api("GET", `/dev/sms?mobile=${mobile}`);
    return answer.status === 200 && answer.body.length > seen ? answer.body[0].code : undefined;
  });
}

/** Signs a customer in on the customer app with the code from the outbox. */
export async function signInCustomer(page, mobile) {
  await byTestId(page, "otp-mobile").fill(mobile);
  const seen = await outboxSize(mobile);
  await byTestId(page, "otp-send").click();
  const code = await smsCode(mobile, seen);
  await byTestId(page, "otp-code").fill(code);
  await byTestId(page, "sign-in").click();
  await byTestId(page, "pickup").waitFor({ timeout: PATIENCE });
}

/** Signs a driver or operator in with a username and password. */
export async function signInWithPassword(page, username, password, readyTestId) {
  await byTestId(page, "username").fill(username);
  await byTestId(page, "password").fill(password);
  await byTestId(page, "sign-in").click();
  await byTestId(page, readyTestId).first().waitFor({ timeout: PATIENCE });
}

/** Quotes `from` → `to` on the customer app, adds `tip`, and requests the call. */
export async function requestCall(page, from, to, tip) {
  await byTestId(page, "pickup").fill(from);
  await byTestId(page, "destination").fill(to);
  await byTestId(page, "get-quote").click();
  await byTestId(page, "quote-fare").waitFor({ timeout: PATIENCE });
  if (tip) await byTestId(page, "tip").fill(String(tip));
  await byTestId(page, "request-call").click();
  await waitForStatus(page, "call-status", "CREATED");
}

/** Puts the payment sandbox in `mode` (normal, failing, ...). */
export async function sandboxMode(mode) {
  assert.ok(SANDBOX, "SANDBOX_URL is set");
  const response = await fetch(`${SANDBOX}/sandbox/mode`, {
    method: "PUT",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ mode, delayMs: 0 }),
  });
  assert.equal(response.status, 200);
}

/** The id of the newest call of `mobile`, as the operator finds it on the customer's myPage. */
export async function newestCallOf(mobile) {
  const token = await asOperator();
  return eventually(`a call of ${mobile}`, async () => {
    const answer = await api("GET", `/dashboards?mobile=${mobile}`, token);
    return answer.status === 200 && answer.body.length > 0 ? answer.body[0].callId : undefined;
  });
}

/** The payment of `callId` as the operator reads it. */
export async function paymentOf(callId) {
  const answer = await api("GET", `/payments?callId=${callId}`, await asOperator());
  return answer.status === 200 ? answer.body : undefined;
}

/** Signs a customer in through the API (for tests where the customer is not the one watched). */
export async function customerToken(mobile) {
  const seen = await outboxSize(mobile);
  const sent = await api("POST", "/auth/otp", null, { mobile });
  assert.equal(sent.status, 202, JSON.stringify(sent.body));
  const code = await smsCode(mobile, seen);
  const signedIn = await api("POST", "/auth/token", null, { grantType: "otp", mobile, code });
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  return signedIn.body.accessToken;
}

/** A quoted call from `from` to `to`, made and paid through the API by `token`'s customer. */
export async function paidCall(token, from, to) {
  const quote = await api("POST", "/quotes", token, { location: from, destination: to });
  assert.equal(quote.status, 201, JSON.stringify(quote.body));
  const made = await api("POST", "/calls", token, { quoteId: quote.body.quoteId, payType: "CARD" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const paid = await api("POST", `/calls/${made.body.callId}/pay`, token);
  assert.equal(paid.status, 200, JSON.stringify(paid.body));
  return made.body.callId;
}

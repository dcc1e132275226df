// The sales unit's kiosk UI in a real browser, run by
// rsu-app/tests/kiosk.rs against a unit whose server is a live raffled:
//
//   node kiosk.mjs <KIOSK URL> <NETWORK SWITCH URL> <STAFF ID> <PIN> [SCREENSHOT DIR]
//
// On a 390 px phone the operator signs in, sells a 3-number package for
// cash (it prints), goes offline (the switch cuts the unit's network) and
// sells again, comes back online and syncs ("All sales uploaded"), waits
// for the early bird's cutoff and seals for it, and switches to French.
// Every state is checked with axe-core (serious and critical) and for
// horizontal scrolling. Prints one JSON object; the Rust test judges it.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const [base, network, staff, pin, shots] = process.argv.slice(2);
if (shots) mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const result = { pages: [], violations: [], overflow: [], steps: {} };
// axe-core is injected as a script, which the page's CSP forbids.
const context = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true });
const page = await context.newPage();

async function inspect(name) {
  result.pages.push({ name, url: page.url() });
  await page.addScriptTag({ path: axePath });
  const axe = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) })));
  for (const v of axe) result.violations.push({ name, ...v });
  const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
  if (scroll > client) result.overflow.push({ name, scroll, client });
  if (shots) await page.screenshot({ path: `${shots}/kiosk-${name}.png`, fullPage: true });
}

async function submit(selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

const text = async () => page.evaluate(() => document.body.innerText);

await page.goto(base + "/");
await inspect("sign-in");
await page.fill("#staff", staff);
await page.fill("#pin", pin);
await submit("form[action='/sign-in'] button");
result.steps.signed_in = (await text()).includes("Sell");
await inspect("selling");

// A 3-number package for cash.
await page.check("input[name=package][value=p3]");
await page.fill("input[name=tendered]", "20.00");
await submit("form[action='/sell'] button[type=submit]");
const sold = await text();
result.steps.sold = sold.includes("Sale 1") && sold.includes("Change: 10.00 CAD");
result.steps.printed = !sold.includes("Ticket not printed");
await inspect("sold");

// Offline: the sale is journaled and printed; the upload waits.
await fetch(network + "/cut", { method: "POST" });
await page.check("input[name=package][value=p1]");
await page.fill("input[name=tendered]", "5");
await submit("form[action='/sell'] button[type=submit]");
await submit("form[action='/sync'] button");
const offline = await text();
result.steps.offline_sale = offline.includes("Sale 2") || (offline.includes("Offline") && offline.includes("sales waiting to upload"));
await inspect("offline");

// Back online: everything uploads.
await fetch(network + "/restore", { method: "POST" });
await submit("form[action='/sync'] button");
result.steps.uploaded = (await text()).includes("All sales uploaded");
await inspect("uploaded");

// The early bird's cutoff passes: seal for it.
for (let i = 0; i < 60; i++) {
  if (await page.$("text=Seal for the draw")) break;
  await new Promise((r) => setTimeout(r, 1000));
  await page.goto(base + "/");
}
await submit("text=Seal for the draw");
result.steps.sealed = (await text()).includes("Sealed");
await inspect("sealed");

await submit("form[action='/lang'] button");
result.steps.french = (await text()).includes("Vendre");
await inspect("french");

await browser.close();
console.log(JSON.stringify(result));

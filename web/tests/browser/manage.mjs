// A raffle run through the admin console in a real browser, run by
// web/tests/browser.rs against a live raffled:
//
//   node manage.mjs <BASE URL> <USERS JSON> [SCREENSHOT DIR]
//
// USERS JSON: {"manager": {user, password, code}, "finance": {...},
// "approver": {...}, "admin": {...}, "newcomer": {user, password}}
// (each code is the user's current TOTP code; the newcomer has not
// enrolled yet: they choose a password and read their secret off the
// enrolment page).
//
// The manager (on a 390 px phone) signs in with TOTP, creates a raffle
// whose sales end 25 s later, opens it; a buyer buys a package on the
// public page; the manager closes sales. Once the draw's cutoff has
// passed, finance acknowledges the reconciliation with its figures shown
// and a second finance user approves it; the manager freezes and performs
// the draw on the draw screen and validates the winner's claim by typing
// the validation number. Every console page is checked with axe-core
// (serious and critical violations) and, on the phone, for horizontal
// scrolling. Prints one JSON object; the Rust test judges it.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";
import { mkdirSync } from "node:fs";
import { createHmac } from "node:crypto";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const [base, usersJson, shots] = process.argv.slice(2);
const users = JSON.parse(usersJson);
if (shots) mkdirSync(shots, { recursive: true });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const result = { pages: [], violations: [], overflow: [] };
const phone = { width: 390, height: 844 };
const desktop = { width: 1280, height: 800 };

async function inspect(page, name, device) {
  result.pages.push({ name, url: page.url() });
  await page.addScriptTag({ path: axePath });
  const axe = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ id: v.id, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 3) })));
  for (const v of axe) result.violations.push({ name, ...v });
  if (device === "phone") {
    const [scroll, client] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
    if (scroll > client) result.overflow.push({ name, scroll, client });
  }
  if (shots) await page.screenshot({ path: `${shots}/console-${name}-${device}.png`, fullPage: true });
}

async function submit(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

async function signIn(who, viewport) {
  // axe-core is injected as a script, which the CSP forbids: these pages
  // are inspected with the CSP bypassed (the HTTP tests check the header).
  const context = await browser.newContext({ viewport, bypassCSP: true, extraHTTPHeaders: { "accept-language": "en" } });
  const page = await context.newPage();
  const { user, password, code } = users[who];
  await page.goto(`${base}/console/sign-in?lang=en`);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.fill("#code", code);
  await submit(page, "main button[type=submit]");
  result[`${who}Home`] = await page.textContent("main");
  return page;
}

// The current TOTP code of a base32 secret (RFC 6238: SHA-1, 6 digits,
// 30 s), as the user's authenticator app would show it now.
function totp(secret) {
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

// A time `seconds` from now as a datetime-local value in Toronto.
function toronto(seconds) {
  const t = new Date(Date.now() + seconds * 1000);
  return new Intl.DateTimeFormat("sv-SE", {
    timeZone: "America/Toronto", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  }).format(t).replace(" ", "T");
}

const manager = await signIn("manager", phone);
const finance = await signIn("finance", desktop);
const approver = await signIn("approver", desktop);
await inspect(manager, "home", "phone");

// The manager creates a draft: sales from a minute ago until 25 s from now.
const salesEnd = Date.now() + 25_000;
await manager.goto(`${base}/console/raffles/new?lang=en`);
await inspect(manager, "new-raffle", "phone");
await manager.fill("#name", "Browser 50/50");
await manager.fill("#organisation", "Browser Foundation");
await manager.fill("#sales_start", toronto(-60));
await manager.fill("#sales_end", toronto(25));
await manager.fill("[id='draw0.cutoff']", toronto(25));
await manager.fill("[id='draw0.at']", toronto(3600));
await submit(manager, "form[action^='/console/raffles'] button[type=submit]");
result.created = await manager.textContent("p.done");
const raffle = new URL(manager.url()).pathname.split("/").pop();
result.raffle = raffle;
await inspect(manager, "raffle-draft", "phone");
await submit(manager, "form[action*='/open'] button");
result.opened = await manager.textContent("p.done");

// A buyer buys three tickets on the public page.
const buyer = await (await browser.newContext({ viewport: desktop })).newPage();
await buyer.goto(`${base}/raffles/${raffle}?lang=en`);
await buyer.check("#package-p3");
await buyer.check("#age");
await submit(buyer, "form[action*='/buy'] button[type=submit]");
const validation = (await buyer.textContent(".vn")).trim();

// The manager closes sales early (GLI-31 2.6.2).
await manager.goto(`${base}/console/raffles/${raffle}?lang=en`);
await inspect(manager, "raffle-open", "phone");
await submit(manager, "form[action*='/close'] button");
result.closed = await manager.textContent("p.done");

// The draw's cutoff passes.
await new Promise((r) => setTimeout(r, Math.max(0, salesEnd - Date.now()) + 1500));

// Finance acknowledges the reconciliation, with the figures in front of them.
const draw = `${base}/console/raffles/${raffle}/draws/main`;
await finance.goto(`${draw}/reconciliation?lang=en`);
await inspect(finance, "reconciliation", "desktop");
result.figures = { sales: await finance.textContent("#rec-sales"), net: await finance.textContent("#rec-net") };
await finance.check("input[name=confirm]");
await submit(finance, "form[action*='/reconciliation'] button[type=submit]");
result.requested = await finance.textContent("p.done");

// A second finance user approves it from the queue (GLI-31 5.2.4).
await approver.goto(`${base}/console/approvals?lang=en`);
await inspect(approver, "approvals", "desktop");
await submit(approver, "button[value=approve]");
result.approved = await approver.textContent("p.done");

// The manager runs the draw screen: freeze, then draw.
await manager.goto(`${draw}?lang=en`);
await submit(manager, "form[action*='/freeze'] button");
result.frozen = await manager.textContent("p.done");
result.eligible = await manager.textContent("#eligible");
await submit(manager, "form[action*='/perform'] button");
result.performed = await manager.textContent("p.done");
result.winner = await manager.textContent("#winning-number");
result.replay = await manager.textContent("#replay");
await inspect(manager, "draw", "phone");

// The winner's claim, validated by the number typed in (GLI-31 2.7.1).
await manager.goto(`${base}/console/claims?lang=en`);
await inspect(manager, "claims", "phone");
await manager.fill("#validation_number", validation);
await submit(manager, "form[action^='/console/claims'] button[type=submit]");
result.claim = await manager.textContent("main .done");
await inspect(manager, "claim-paid", "phone");

// The other console pages, checked the same way: finance's voids page,
// and an administrator's users, events and jurisdiction texts (on a phone).
await finance.goto(`${base}/console/voids?lang=fr-CA`);
await inspect(finance, "voids-fr", "desktop");
const admin = await signIn("admin", phone);
for (const name of ["users", "events", "settings"]) {
  await admin.goto(`${base}/console/${name}?lang=en`);
  await inspect(admin, name, "phone");
}

// A user created in the console signs in for the first time with the
// one-time enrolment code alone, chooses a password and sets up their
// authenticator from the QR code.
{
  const context = await browser.newContext({ viewport: phone, bypassCSP: true, extraHTTPHeaders: { "accept-language": "en" } });
  const page = await context.newPage();
  const { user, password } = users.newcomer;
  await page.goto(`${base}/console/sign-in?lang=en`);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await submit(page, "main button[type=submit]");
  // Step one: a password of their own (no secret is shown before it).
  await inspect(page, "enrol-password", "phone");
  await page.fill("#password", "newcomer's own password");
  await page.fill("#password2", "newcomer's own password");
  await submit(page, "form[action^='/console/enrol'] button[type=submit]");
  // Step two: the QR code of the secret made just now, and its first code.
  result.enrolQr = (await page.$("figure.qr svg")) !== null;
  await inspect(page, "enrol", "phone");
  const shown = (await page.textContent("code.vn")).trim();
  await page.fill("#code", totp(shown));
  await submit(page, "form[action^='/console/enrol'] button[type=submit]");
  result.enrolled = await page.textContent("p.done");
}

await browser.close();
console.log(JSON.stringify(result));

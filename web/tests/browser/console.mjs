// The console's sign-in in a real browser, in two phases run by
// web/tests/browser.rs (which expires the session in the database between):
//
//   node console.mjs sign-in <BASE> <USER> <PASSWORD> <CODE> <STATE FILE>
//   node console.mjs expired <BASE> <STATE FILE>
//
// sign-in: the manager signs in with password and TOTP code; the console
// home is checked with axe-core. expired: the same browser state finds its
// session ended; a form posted without its CSRF token is refused.
import { chromium } from "playwright-core";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const [phase, base, ...rest] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", args: ["--no-sandbox"] });
const result = {};

async function axe(page) {
  await page.addScriptTag({ path: axePath });
  return page.evaluate(async () => (await window.axe.run(document, { resultTypes: ["violations"] })).violations
    .filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id));
}

if (phase === "sign-in") {
  const [user, password, code, stateFile] = rest;
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${base}/console`);
  result.redirected = page.url();
  result.signInViolations = await axe(page);
  await page.fill("#username", user);
  await page.fill("#password", password);
  await page.fill("#code", code);
  await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  result.home = await page.textContent("main");
  result.homeViolations = await axe(page);
  await context.storageState({ path: stateFile });
} else if (phase === "expired") {
  const [stateFile] = rest;
  const context = await browser.newContext({ storageState: stateFile });
  const page = await context.newPage();
  const response = await page.goto(`${base}/console`);
  result.expiredStatus = response.status();
  result.expired = await page.textContent("main");
  // A form post without its CSRF token.
  await page.evaluate(() => document.querySelector("input[name=csrf]").remove());
  await page.fill("#username", "mia");
  await page.fill("#password", "x");
  await page.fill("#code", "123456");
  const [post] = await Promise.all([page.waitForNavigation(), page.click("button[type=submit]")]);
  result.noTokenStatus = post.status();
  result.noToken = await page.textContent("main");
}
await browser.close();
console.log(JSON.stringify(result));

// A buyer pays by card in a real browser (Debian's Chromium, driven by
// playwright-core), run by web/tests/browser.rs against a live raffled
// taking cards from the fake Stripe:
//
//   node card.mjs <BASE URL> <RAFFLE ID> <E-MAIL>
//
// The raffle page's form (card, an e-mail address) goes to the fake's
// hosted page; a declined card is refused there; the good card sends the
// browser back to the order page, which follows the order until the
// receipt shows. Prints one JSON object; the Rust test judges it.

import { chromium } from "playwright-core";

const [base, raffle, email] = process.argv.slice(2);
if (!base || !raffle || !email) {
  console.error("usage: node card.mjs <BASE URL> <RAFFLE ID> <E-MAIL>");
  process.exit(2);
}
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const page = await browser.newPage();
const consoleErrors = [];
page.on("console", (m) => {
  if (m.type() === "error") consoleErrors.push(m.text());
});

await page.goto(`${base}/raffles/${raffle}?lang=en`);
await page.check("#package-p3");
await page.check("#age");
await page.selectOption("#payment", "card");
await page.fill("#email", email);
await Promise.all([page.waitForNavigation(), page.click("form[action*='/buy'] button[type=submit]")]);
const stripePage = page.url();
const amount = (await page.textContent("#amount")).trim();
// A declined card first: the page says so and stays.
await page.fill("#card", "4000 0000 0000 0002");
await Promise.all([page.waitForNavigation(), page.click("#pay")]);
const declined = (await page.textContent("#error")).trim();
await page.fill("#card", "4242 4242 4242 4242");
await Promise.all([page.waitForNavigation(), page.click("#pay")]);
const returned = page.url();
// The order page refreshes itself until the tickets are issued.
const deadline = Date.now() + 20000;
while (!(await page.$(".vn")) && Date.now() < deadline) {
  await page.waitForTimeout(250);
  if (!(await page.$(".vn"))) await page.reload();
}
const vn = await page.$(".vn");
const result = {
  stripePage,
  amount,
  declined,
  returned,
  title: await page.textContent("h1"),
  validation: vn ? (await vn.textContent()).trim() : null,
  receipt: vn ? await page.textContent("dl.receipt") : null,
  consoleErrors,
};
await browser.close();
console.log(JSON.stringify(result));

// Opens the live page of a `warpflow serve` in headless Chromium and walks through STEPS while
// the service runs, printing what the page showed as one JSON line:
//   expect:NAME[+NAME...]  wait until exactly these streams have cards (sorted; "-" for none)
//   remove:NAME            DELETE /streams/NAME on the server (with the page's token)
//   node service_page.cjs URL SCREENSHOT.png STEP[,STEP...] [TIMEOUT_S]
// Exits 0 when every step held in time, 1 when one did not, 2 on bad use.
"use strict";
const { launchChromium } = require("./chromium.cjs");

const [url, screenshot, steps, timeout_s = "45"] = process.argv.slice(2);
if (!url || !screenshot || !steps) {
  console.error("usage: node service_page.cjs URL SCREENSHOT.png STEP[,STEP...] [TIMEOUT_S]");
  process.exit(2);
}
(async () => {
  const browser = await launchChromium();
  const done = [];
  let names = [];
  let states = {};
  let ok = true;
  const messages = [];
  // A picture asked for just before its stream's removal may be answered 404 after it: the
  // page cannot know of a removal another client makes before its next look at /streams.
  // Such answers are counted apart; any other error fails the walk.
  const removed = new Set();
  let lateRemovedPictures = 0;
  const isRemovedPicture = (address) => {
    const parsed = address ? new URL(address) : null;
    return parsed?.pathname === "/picture" && removed.has(parsed.searchParams.get("stream"));
  };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      if (m.text().includes("status of 404") && isRemovedPicture(m.location().url)) lateRemovedPictures += 1;
      else messages.push(m.text());
    });
    page.on("pageerror", (e) => messages.push(String(e)));
    await page.goto(url);
    const token = new URL(url).searchParams.get("token");
    for (const step of steps.split(",")) {
      const [what, arg] = step.split(":");
      if (what === "remove") {
        removed.add(arg);
        const target = new URL(`/streams/${encodeURIComponent(arg)}`, url);
        const response = await fetch(target, {
          method: "DELETE",
          headers: token ? { Authorization: `Bearer ${token}` } : {},
        });
        if (!response.ok) { ok = false; break; }
        done.push(step);
        continue;
      }
      const wanted = arg === "-" ? "" : arg.split("+").sort().join("+");
      const deadline = Date.now() + 1000 * Number(timeout_s);
      let held = false;
      while (Date.now() < deadline) {
        ({ names, states } = await page.evaluate(() => ({
          names: window.warpflowPage.streamNames(),
          states: Object.fromEntries([...document.querySelectorAll("#streams article")].map((card) =>
            [card.querySelector("h2").textContent, card.querySelector('dd[data-k="state"]').textContent])),
        })));
        if ([...names].sort().join("+") === wanted) { held = true; break; }
        await page.waitForTimeout(200);
      }
      if (!held) { ok = false; break; }
      done.push(step);
    }
    await page.screenshot({ path: screenshot, fullPage: true });
  } finally {
    await browser.close();
  }
  if (messages.length) ok = false;
  console.log(JSON.stringify({ ok, done, names, states, errors: messages, late_removed_pictures: lateRemovedPictures }));
  process.exit(ok ? 0 : 1);
})().catch((error) => { console.error(String(error)); process.exit(1); });

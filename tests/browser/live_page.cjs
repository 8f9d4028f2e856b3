// Opens warpflow's live page in headless Chromium, waits until the named plots have points,
// drops the page's connection and checks that it comes back without missing an event, saves a
// screenshot and prints what the page showed as one JSON line. PLOT is a canvas id
// (path, offset, tempo, confidence), "cue" for the current-cue box, or "picture" for a stream's
// picture with the region of its offset boxed over it.
//   node live_page.cjs URL SCREENSHOT.png PLOT[,PLOT...] [TIMEOUT_S]
// Exits 0 when every named plot received points, 1 when one stayed empty, 2 on bad use.
"use strict";
const { launchChromium } = require("./chromium.cjs");

const [url, screenshot, plots, timeout_s = "45"] = process.argv.slice(2);
if (!url || !screenshot || !plots) {
  console.error("usage: node live_page.cjs URL SCREENSHOT.png PLOT[,PLOT...] [TIMEOUT_S]");
  process.exit(2);
}
(async () => {
  const browser = await launchChromium();
  const wanted = plots.split(",");
  let shown = { connected: false, points: {} };
  let ok = false;
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const messages = [];
    page.on("console", (m) => { if (m.type() === "error") messages.push(m.text()); });
    page.on("pageerror", (e) => messages.push(String(e)));
    await page.goto(url);
    const deadline = Date.now() + 1000 * Number(timeout_s);
    while (Date.now() < deadline) {
      shown = await page.evaluate(() => ({
        connected: window.warpflowPage.connected(),
        points: window.warpflowPage.points(),
        cue: document.getElementById("cue").textContent,
        log_lines: document.getElementById("log").children.length,
        command: document.getElementById("command").textContent,
        pictures: window.warpflowPage.pictures(),
        regions: window.warpflowPage.regions(),
      }));
      // "cue" stands for the cue box (it shows the cue in force), "picture" for a thumbnail
      // that loaded with its region shown.
      const has = (p) => (p === "cue" ? shown.cue.length > 0
        : p === "picture" ? shown.pictures > 0 && shown.regions > 0 : shown.points[p] > 0);
      if (shown.connected && wanted.every(has)) { ok = true; break; }
      await page.waitForTimeout(250);
    }
    // The connection drops: the page must come back by itself and resume without a gap.
    if (ok) {
      const before = await page.evaluate(() => window.warpflowPage.connections());
      await page.evaluate(() => window.warpflowPage.dropConnection());
      const back = Date.now() + 15000;
      while (Date.now() < back &&
             !(await page.evaluate((n) => window.warpflowPage.connections() > n && window.warpflowPage.connected(), before))) {
        await page.waitForTimeout(100);
      }
      // A few more seconds of data make the screenshot say something.
      await page.waitForTimeout(3000);
    }
    shown = { ...shown, ...(await page.evaluate(() => ({
      points: window.warpflowPage.points(),
      ranges: window.warpflowPage.ranges(),
      last_offset_ms: window.warpflowPage.lastOffset_ms(),
      cue_bar_visible: window.warpflowPage.visible("cue"),
      subtitle_switch_visible: window.warpflowPage.visible("subtitle-mode"),
      connections: window.warpflowPage.connections(),
      seq_gaps: window.warpflowPage.seqGaps(),
    }))), errors: messages };
    await page.screenshot({ path: screenshot, fullPage: true });
    shown.cue = await page.evaluate(() => document.getElementById("cue").textContent);
    if (messages.length || shown.connections < 2 || shown.seq_gaps > 0) ok = false;
  } finally {
    await browser.close();
  }
  console.log(JSON.stringify({ ok, wanted, ...shown }));
  process.exit(ok ? 0 : 1);
})().catch((error) => { console.error(String(error)); process.exit(1); });

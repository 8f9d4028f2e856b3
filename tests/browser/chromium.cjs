// Debian's headless Chromium through playwright-core, as the browser tests open it.
"use strict";
const path = require("path");

const modules = process.env.WARPFLOW_BROWSER_MODULES;
const { chromium } = require(modules ? path.join(modules, "playwright-core") : "playwright-core");

// A browser to open pages in; the caller closes it.
function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    // No sandbox as root; no background networking: the machine has no internet.
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

module.exports = { launchChromium };

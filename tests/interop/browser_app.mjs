// A browser app for the interop tests: Debian's Chromium (/usr/bin/chromium, never a
// downloaded browser), headless, driven by playwright-core, showing the page of
// browser_page.mjs (served by the test) bound to a room of a p2psync daemon. Driven by
// JSON lines on stdin, it answers each with what the page holds, read from the page
// with page.evaluate, as one JSON line on stdout.
//
//   node browser_app.mjs '{"server": ..., "room": ..., "params": {...}}' PAGE_URL
//
// stdin, one command a line:
//   {"op": "read"}                          answer only
//   {"op": "type", "at": N, "text": "..."}  caret at N in the textarea, then type the
//                                           text on the keyboard (Enter for "\n")
//   {"op": "close"}                         close the browser and exit
// stdout: {"synced", "client", "text", "textarea", "caret", "others", "closes",
// "console"}: the doc's text, the textarea's, the caret, the awareness states of the
// other apps, the close codes the provider saw, and the page's console messages.
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";

const [where, pageUrl] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", headless: true });
const page = await browser.newPage();
const messages = [];
page.on("console", (message) => messages.push(message.text()));
page.on("pageerror", (error) => messages.push(`page error: ${error.message}`));
await page.goto(pageUrl);
await page.evaluate((where) => window.app.connect(where), JSON.parse(where));

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.op === "type") {
    await page.evaluate((index) => window.app.caret(index), command.at);
    await page.keyboard.type(command.text);
  } else if (command.op === "close") {
    break;
  }
  const seen = await page.evaluate(() => window.app.seen());
  process.stdout.write(JSON.stringify({ ...seen, console: messages }) + "\n");
}
await browser.close();
process.exit(0);

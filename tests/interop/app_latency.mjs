// App-to-app latency for bench/bench_apps.py: two stock y-websocket WebsocketProviders
// (over ws), app A and app B, each bound to its own server URL (two p2psync daemons),
// or both to the stock y-websocket server (@y/websocket-server) started here, the
// anchor. Prints {"text": [ms...], "awareness": [ms...], "cell": [ms...]}: for each
// sample, the time from A's change to B seeing it (an insert into the Y.Text
// "content"; an awareness state field; a cell set in a TinyBase store that
// createYjsPersister binds to a second doc, until B's store holds it).
//
//   node app_latency.mjs SAMPLES '{"a": URL, "b": URL, "storeA": URL, "storeB": URL}'
//   node app_latency.mjs SAMPLES stock
// where URL is {server, room, params} (what `p2psync doc url --json` prints).
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import WebSocket from "ws";
import { stockServer as stockServer_ } from "./stock_server.mjs";
import { performance } from "node:perf_hooks";

const [samplesArg, where] = process.argv.slice(2);
const samples = Number(samplesArg);
const WARMUP = 5;

async function stockServer() {
  const { at, server } = await stockServer_();
  return { a: at("bench"), b: at("bench"), storeA: at("store"), storeB: at("store"), server };
}

function app({ server, room, params }) {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(server, room, doc, {
    params, WebSocketPolyfill: WebSocket, disableBc: true,
  });
  return { doc, provider, text: doc.getText("content") };
}

function synced(provider) {
  return provider.synced ? Promise.resolve() : new Promise((resolve) => provider.once("sync", resolve));
}

function within(seen, what, ms = 10_000) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not seen in ${ms} ms`)), ms);
  });
  return Promise.race([seen, late]).finally(() => clearTimeout(timer));
}

function until(emitter, event, condition) {
  return new Promise((resolve) => {
    const check = () => {
      if (condition()) {
        emitter.off(event, check);
        resolve();
      }
    };
    emitter.on(event, check);
    check();
  });
}

const urls = where === "stock" ? await stockServer() : JSON.parse(where);
const a = app(urls.a);
const b = app(urls.b);
await Promise.all([synced(a.provider), synced(b.provider)]);

const text = [];
for (let i = 0; i < samples + WARMUP; i++) {
  const wanted = b.text.length + 1;
  const seen = until(b.doc, "update", () => b.text.length >= wanted);
  const start = performance.now();
  a.text.insert(a.text.length, "x");
  await within(seen, `insert ${i}`);
  if (i >= WARMUP) text.push(performance.now() - start);
}

const awareness = [];
for (let i = 0; i < samples + WARMUP; i++) {
  const at = () => b.provider.awareness.getStates().get(a.doc.clientID)?.cursor;
  const seen = until(b.provider.awareness, "change", () => at() === i);
  const start = performance.now();
  a.provider.awareness.setLocalStateField("cursor", i);
  await within(seen, `awareness ${i}`);
  if (i >= WARMUP) awareness.push(performance.now() - start);
}

async function store(doc) {
  const { createStore } = await import("tinybase");
  const { createYjsPersister } = await import("tinybase/persisters/persister-yjs");
  const made = createStore();
  const persister = createYjsPersister(made, doc);
  await persister.startAutoLoad();
  await persister.startAutoSave();
  return made;
}

const storeA = app(urls.storeA);
const storeB = app(urls.storeB);
await Promise.all([synced(storeA.provider), synced(storeB.provider)]);
const [tablesA, tablesB] = await Promise.all([store(storeA.doc), store(storeB.doc)]);
function cellSeen(name, value) {
  return new Promise((resolve) => {
    const listener = tablesB.addCellListener("pets", "fido", name, () => {
      if (tablesB.getCell("pets", "fido", name) === value) {
        tablesB.delListener(listener);
        resolve();
      }
    });
  });
}

// Each store saves itself into its doc as it starts; a cell set while the other
// store's first save is being loaded is replaced by it. Set one until it holds.
for (let k = 0; ; k++) {
  const seen = cellSeen("ready", k);
  tablesA.setCell("pets", "fido", "ready", k);
  try {
    await within(seen, "the first cell", 2000);
    break;
  } catch {}
}

const cell = [];
for (let i = 0; i < samples + WARMUP; i++) {
  const seen = cellSeen("seen", i);
  const start = performance.now();
  tablesA.setCell("pets", "fido", "seen", i);
  await within(seen, `cell ${i}`);
  if (i >= WARMUP) cell.push(performance.now() - start);
}

process.stdout.write(JSON.stringify({ text, awareness, cell }) + "\n");
for (const one of [a, b, storeA, storeB]) one.provider.destroy();
process.exit(0);

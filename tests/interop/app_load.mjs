// Many apps editing one doc at once, for bench/bench_appload.py: CLIENTS apps in this
// process, placed in turn on the given servers (two p2psync daemons), or all on the
// stock y-websocket server (@y/websocket-server) started here, the anchor. Each sets
// its own key of the Y.Map "load" to the time RATE times a second for SECONDS (after
// a second of warm-up). PROBES of them are stock y-websocket WebsocketProviders that
// record how long each other app's value took to reach them; the others send their
// edits as y-websocket Update messages over a plain WebSocket and take what the server
// sends them without decoding it, so that this one process can make the load.
//
//   node app_load.mjs CLIENTS RATE SECONDS '[URL, URL]'   (URL: {server, room, params})
//   node app_load.mjs CLIENTS RATE SECONDS stock
//
// Prints "load" when the measured edits start, then one JSON line when they end:
// {"all": {p50, p90, p99, max, count}, "across": {...}, "sent", "expected", "cpu_s",
// "seconds"}: latencies in ms over every (sender, probe) pair, and over the pairs on
// different servers; the edits made; the values the probes should have seen; this
// process's CPU seconds over the measured edits.
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import WebSocket from "ws";
import { stockServer as stockServer_ } from "./stock_server.mjs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

const [clientsArg, rateArg, secondsArg, where] = process.argv.slice(2);
const clients = Number(clientsArg);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const WARMUP_MS = 1000;
const PROBES = 6;
const DRAIN_MS = 1000;

async function stockServer() {
  const { at } = await stockServer_();
  return [at("load")];
}

const servers = where === "stock" ? await stockServer() : JSON.parse(where);
let measuring = false;
const all = [];
const across = [];

function url({ server, room, params }) {
  const query = new URLSearchParams(params).toString();
  return `${server}/${room}${query ? `?${query}` : ""}`;
}

function varUint(n) {
  const bytes = [];
  while (n > 0x7f) {
    bytes.push(0x80 | (n & 0x7f));
    n >>>= 7;
  }
  bytes.push(n);
  return bytes;
}

function probe(index, at, doc) {
  const provider = new WebsocketProvider(servers[at].server, servers[at].room, doc, {
    params: servers[at].params, WebSocketPolyfill: WebSocket, disableBc: true,
  });
  const map = doc.getMap("load");
  map.observe((event) => {
    const now = performance.now();
    for (const key of event.keysChanged) {
      const value = map.get(key);
      if (!measuring || value === undefined || value.from === index || !value.measured) continue;
      all.push(now - value.t);
      if (value.at !== at) across.push(now - value.t);
    }
  });
  return provider.synced ? null : new Promise((resolve) => provider.once("sync", resolve));
}

function plain(doc, at) {
  // y-websocket's Update message: messageSync (0), messageYjsUpdate (2), the update.
  const socket = new WebSocket(url(servers[at]));
  doc.on("update", (update) => {
    if (socket.readyState === WebSocket.OPEN) {
      socket.send(new Uint8Array([0, 2, ...varUint(update.length), ...update]));
    }
  });
  return new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
}

function app(index) {
  const at = index % servers.length;
  const doc = new Y.Doc();
  const ready = index < PROBES ? probe(index, at, doc) : plain(doc, at);
  return { index, at, doc, map: doc.getMap("load"), ready };
}

const apps = Array.from({ length: clients }, (_, i) => app(i));
await Promise.all(apps.map(({ ready }) => ready));

let sent = 0;
let expected = 0;
let stopped = false;
function edit(one, measured) {
  one.map.set(`c${one.index}`, { from: one.index, at: one.at, t: performance.now(), measured });
  if (measured) {
    sent += 1;
    expected += one.index < PROBES ? PROBES - 1 : PROBES;
  }
}

const period = 1000 / rate;
const timers = apps.map((one) => new Promise((resolve) => {
  setTimeout(() => {
    const timer = setInterval(() => {
      if (stopped) {
        clearInterval(timer);
        resolve();
      } else {
        edit(one, measuring);
      }
    }, period);
  }, (one.index * period) / clients);
}));

await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
measuring = true;
process.stdout.write("load\n");
const cpu = process.cpuUsage();
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const start = performance.now();
await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
stopped = true;
await Promise.all(timers);
const used = process.cpuUsage(cpu);
const elapsed = (performance.now() - start) / 1000;
await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
measuring = false;

function summary(values) {
  values.sort((x, y) => x - y);
  const at = (q) => values[Math.min(values.length - 1, Math.floor(q * values.length))];
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: values[values.length - 1],
    count: values.length };
}

process.stdout.write(JSON.stringify({
  all: summary(all), across: summary(across), sent, expected,
  cpu_s: (used.user + used.system) / 1e6, seconds: elapsed,
  loop_delay_p99_ms: loop.percentile(99) / 1e6,
}) + "\n");
process.exit(0);

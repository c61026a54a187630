// App-to-app latency for bench/bench_apps.py: two stock y-websocket WebsocketProviders
// (over ws), app A and app B, each bound to its own server URL (two p2psync daemons),
// or both to the stock y-websocket server (@y/websocket-server) started here, the
// anchor. Prints {"text": [ms...], "awareness": [ms...]}: for each sample, the time
// from A's change to B seeing it (an insert into the Y.Text "content"; an awareness
// state field).
//
//   node app_latency.mjs SAMPLES '{"a": {server, room, params}, "b": {...}}'
//   node app_latency.mjs SAMPLES stock
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import WebSocket, { WebSocketServer } from "ws";
import http from "node:http";
import { performance } from "node:perf_hooks";

const [samplesArg, where] = process.argv.slice(2);
const samples = Number(samplesArg);
const WARMUP = 5;

async function stockServer() {
  const { setupWSConnection } = await import("@y/websocket-server/utils");
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", setupWSConnection);
  const server = http.createServer((_, response) => response.end("okay"));
  server.on("upgrade", (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = { server: `ws://127.0.0.1:${server.address().port}`, room: "bench", params: {} };
  return { a: url, b: url, server };
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
  await seen;
  if (i >= WARMUP) text.push(performance.now() - start);
}

const awareness = [];
for (let i = 0; i < samples + WARMUP; i++) {
  const at = () => b.provider.awareness.getStates().get(a.doc.clientID)?.cursor;
  const seen = until(b.provider.awareness, "change", () => at() === i);
  const start = performance.now();
  a.provider.awareness.setLocalStateField("cursor", i);
  await seen;
  if (i >= WARMUP) awareness.push(performance.now() - start);
}

process.stdout.write(JSON.stringify({ text, awareness }) + "\n");
a.provider.destroy();
b.provider.destroy();
process.exit(0);

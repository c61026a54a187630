// One Yjs app for the interop tests: the stock y-websocket WebsocketProvider (over
// `ws`) bound to a room of a p2psync daemon, driven by JSON lines on stdin and
// reporting what it sees as JSON lines on stdout.
//
//   node app_client.mjs '{"server": ..., "room": ..., "params": {...}}' [tinybase]
//
// stdin, one command a line:
//   {"op": "insert", "index": N, "text": "..."}   edit the root Y.Text "content"
//   {"op": "aware", "state": {...} | null}        set this app's awareness state
//   {"op": "cell", "table": T, "row": R, "cell": C, "value": V}   (tinybase) set a cell
//   {"op": "close"}                               disconnect and exit
// stdout, after every change: {"synced", "client", "text", "others", "tables"}: the
// text, the awareness states of the other apps (by client ID) and, with tinybase,
// the store's tables (bound with TinyBase's createYjsPersister).
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import WebSocket from "ws";
import { createInterface } from "node:readline";

const [where, mode] = process.argv.slice(2);
const { server, room, params } = JSON.parse(where);
const doc = new Y.Doc();
const provider = new WebsocketProvider(server, room, doc, {
  params,
  WebSocketPolyfill: WebSocket,
  disableBc: true,
});
const text = doc.getText("content");
let store = null;

if (mode === "tinybase") {
  const { createStore } = await import("tinybase");
  const { createYjsPersister } = await import("tinybase/persisters/persister-yjs");
  store = createStore();
  const persister = createYjsPersister(store, doc);
  await persister.startAutoLoad();
  await persister.startAutoSave();
  store.addDidFinishTransactionListener(() => report());
}

function report() {
  const others = {};
  for (const [client, state] of provider.awareness.getStates()) {
    if (client !== doc.clientID) others[client] = state;
  }
  const seen = {
    synced: provider.synced,
    client: doc.clientID,
    text: text.toString(),
    others,
    tables: store ? store.getTables() : null,
  };
  process.stdout.write(JSON.stringify(seen) + "\n");
}

provider.on("sync", () => report());
provider.awareness.on("change", () => report());
doc.on("update", () => report());

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line);
  if (command.op === "insert") {
    text.insert(command.index, command.text);
  } else if (command.op === "aware") {
    provider.awareness.setLocalState(command.state);
  } else if (command.op === "cell") {
    store.setCell(command.table, command.row, command.cell, command.value);
  } else if (command.op === "close") {
    break;
  }
  report();
}
provider.destroy();
process.exit(0);

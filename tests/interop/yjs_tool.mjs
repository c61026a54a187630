// Small command-line bridge to the real Yjs library for the interop tests.
//   node yjs_tool.mjs make OUT TEXT     write a Yjs v1 update inserting TEXT into the root Y.Text "content"
//   node yjs_tool.mjs text IN           print the "content" text of the doc a v1 update describes
//   node yjs_tool.mjs make-v2 OUT TEXT  the same edit encoded as a Yjs v2 update
//   node yjs_tool.mjs tinybase IN       print the tables of the TinyBase store a v1 update
//                                       holds (as createYjsPersister saves it), as JSON
import * as Y from "yjs";
import { readFileSync, writeFileSync } from "node:fs";

const [mode, file, text] = process.argv.slice(2);
const doc = new Y.Doc();
if (mode === "make" || mode === "make-v2") {
  doc.getText("content").insert(0, text);
  const update = mode === "make" ? Y.encodeStateAsUpdate(doc) : Y.encodeStateAsUpdateV2(doc);
  writeFileSync(file, update);
} else if (mode === "text") {
  Y.applyUpdate(doc, new Uint8Array(readFileSync(file)));
  process.stdout.write(doc.getText("content").toString());
} else if (mode === "tinybase") {
  Y.applyUpdate(doc, new Uint8Array(readFileSync(file)));
  const { createStore } = await import("tinybase");
  const { createYjsPersister } = await import("tinybase/persisters/persister-yjs");
  const store = createStore();
  await createYjsPersister(store, doc).load();
  process.stdout.write(JSON.stringify(store.getTables()));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exit(2);
}

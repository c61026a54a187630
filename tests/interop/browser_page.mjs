// The page of the browser interop test (test_browser.py): the stock `yjs` and
// `y-websocket` in Chromium, bundled by esbuild when the test runs. A textarea is
// bound to the root Y.Text "content" of a text file's doc, as an editor binding does:
// what is typed goes into the doc as the smallest edit, a change from elsewhere is
// shown with the caret kept in its place, and the caret is this app's awareness cursor.
//
// window.app.connect({server, room, params})  open the room (what `doc url --json` prints)
// window.app.caret(index)                      focus the textarea, caret at index
// window.app.seen()                            what the page holds and shows now
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";

const area = document.querySelector("textarea");
const doc = new Y.Doc();
const text = doc.getText("content");
const closes = [];
let provider = null;

// Where `index` of the old text is after a change (Y.Text's delta, UTF-16 units as
// the textarea counts): text inserted before it pushes it on, deleted text pulls it back.
function moved(index, delta) {
  let old = 0;
  let shift = 0;
  for (const op of delta) {
    if (old >= index) break;
    if (op.retain) {
      old += op.retain;
    } else if (op.insert) {
      shift += op.insert.length;
    } else if (op.delete) {
      shift -= Math.min(op.delete, index - old);
      old += op.delete;
    }
  }
  return index + shift;
}

function showCursor() {
  const cursor = { anchor: area.selectionStart, head: area.selectionEnd };
  provider.awareness.setLocalStateField("cursor", cursor);
}

area.addEventListener("input", () => {
  const before = text.toString();
  const after = area.value;
  let start = 0;
  while (start < before.length && start < after.length && before[start] === after[start]) start++;
  let end = 0;
  while (end < before.length - start && end < after.length - start
         && before[before.length - 1 - end] === after[after.length - 1 - end]) end++;
  doc.transact(() => {
    text.delete(start, before.length - start - end);
    text.insert(start, after.slice(start, after.length - end));
  }, area);
  showCursor();
});

text.observe((event, transaction) => {
  if (transaction.origin === area) return;
  const anchor = moved(area.selectionStart, event.delta);
  const head = moved(area.selectionEnd, event.delta);
  area.value = text.toString();
  area.setSelectionRange(anchor, head);
  showCursor();
});

window.app = {
  connect({ server, room, params }) {
    provider = new WebsocketProvider(server, room, doc, { params, disableBc: true });
    provider.on("connection-close", (event) => closes.push(event ? event.code : null));
    provider.awareness.setLocalStateField("user", { name: "chromium" });
  },
  caret(index) {
    area.focus();
    area.setSelectionRange(index, index);
    showCursor();
  },
  seen() {
    const others = {};
    for (const [client, state] of provider.awareness.getStates()) {
      if (client !== doc.clientID) others[client] = state;
    }
    return {
      synced: provider.synced,
      client: doc.clientID,
      text: text.toString(),
      textarea: area.value,
      caret: area.selectionEnd,
      others,
      closes,
    };
  },
};

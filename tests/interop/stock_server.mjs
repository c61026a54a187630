// The stock y-websocket server (@y/websocket-server), the anchor of bench/bench_apps.py:
// `stockServer()` starts one on a free loopback port in this process. Run alone, it
// prints its URL ({server, room, params}) as a JSON line and serves until stdin closes.
//
//   node stock_server.mjs ROOM
import { WebSocketServer } from "ws";
import http from "node:http";
import { fileURLToPath } from "node:url";

export async function stockServer() {
  const { setupWSConnection } = await import("@y/websocket-server/utils");
  const wss = new WebSocketServer({ noServer: true });
  wss.on("connection", setupWSConnection);
  const server = http.createServer((_, response) => response.end("okay"));
  server.on("upgrade", (request, socket, head) => {
    wss.handleUpgrade(request, socket, head, (ws) => wss.emit("connection", ws, request));
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    at: (room) => ({ server: `ws://127.0.0.1:${server.address().port}`, room, params: {} }),
    server,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { at } = await stockServer();
  process.stdout.write(JSON.stringify(at(process.argv[2] ?? "bench")) + "\n");
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}

// WebSocket load for bench/ws.py (not a test): connect time, then one sender and N listeners in
// one chat room. Uses the runtime's own `ws` package (TELNYX_EDGE_NODE_PACKAGES).
//
//   node bench/ws_load.mjs WS_URL LISTENERS SECONDS WINDOW
// Prints one JSON line: connect p50/p99 (ms), messages sent/s, deliveries/s (to all members),
// and send-to-ack p50/p99 (ms).

import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.TELNYX_EDGE_NODE_PACKAGES, "package.json"));
const WebSocket = require("ws");
const [url, listenersArg, secondsArg, windowArg] = process.argv.slice(2);
const listeners = Number(listenersArg);
const seconds = Number(secondsArg);
const window = Number(windowArg);

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

function open(user) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const ws = new WebSocket(`${url}?user=${user}`);
    ws.once("message", () => resolve([ws, performance.now() - t0])); // the welcome
    ws.once("error", reject);
  });
}

const connectMs = [];
const members = [];
for (let i = 0; i < listeners; i++) {
  const [ws, ms] = await open(`l${i}`);
  connectMs.push(ms);
  members.push(ws);
}
let deliveries = 0;
let counting = false;
for (const ws of members) ws.on("message", () => { if (counting) deliveries++; });

const [sender] = await open("sender");
const sentAt = new Map();
const ackMs = [];
let sent = 0;
let acked = 0;
let stop = false;
let next = 0;
const send = () => {
  const id = next++;
  sentAt.set(id, performance.now());
  sender.send(JSON.stringify({ text: `m${id}` }));
  sent++;
};
sender.on("message", (data) => {
  const msg = JSON.parse(data);
  if (msg.type === "message" && counting) deliveries++;
  if (msg.type !== "sent") return;
  const id = Number(acked++);
  const t = sentAt.get(id);
  sentAt.delete(id);
  if (counting && t !== undefined) ackMs.push(performance.now() - t);
  if (!stop) send();
});
// Warm up for 1 s, then measure.
for (let i = 0; i < window; i++) send();
await new Promise((r) => setTimeout(r, 1000));
counting = true;
const ackedBefore = acked;
const t0 = performance.now();
await new Promise((r) => setTimeout(r, seconds * 1000));
const elapsed = (performance.now() - t0) / 1000;
counting = false;
stop = true;
const ackedIn = acked - ackedBefore;
console.log(JSON.stringify({
  connect_p50_ms: pct(connectMs, 0.5), connect_p99_ms: pct(connectMs, 0.99),
  messages_per_s: ackedIn / elapsed, deliveries_per_s: deliveries / elapsed,
  ack_p50_ms: pct(ackMs, 0.5), ack_p99_ms: pct(ackMs, 0.99),
}));
for (const ws of [...members, sender]) ws.terminate();
process.exit(0);

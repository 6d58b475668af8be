// A lean HTTP load client for bench/actors.py: keep-alive sockets, fixed concurrency,
// closed loop (each worker sends its next request when the previous one is answered).
// Node's http client costs the shared CPUs far less per request than a Python client.
//
// usage: node bench/load.mjs URL CONCURRENCY SECONDS ACCOUNTS [WARMUP_SECONDS] [HOST_HEADER]
// prints one JSON line: {requests, errors, seconds, rps, p50_ms, p99_ms}
import http from "node:http";

const [base, cArg, sArg, nArg, wArg, hostHeader] = process.argv.slice(2);
const url = new URL(base);
const concurrency = Number(cArg);
const seconds = Number(sArg);
const accounts = Number(nArg);
const warmup = Number(wArg ?? 1);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const body = Buffer.from(JSON.stringify({ amount: 1 }));

function debit(i) {
  return new Promise((resolve) => {
    const name = accounts === 1 ? "hot" : `acct${i % accounts}`;
    const req = http.request({
      host: url.hostname, port: url.port, path: `/accounts/${name}/debit`, method: "POST", agent,
      headers: {
        "content-type": "application/json", "content-length": body.length,
        ...(hostHeader ? { host: hostHeader } : {}),
      },
    }, (res) => {
      let ok = res.statusCode === 200;
      res.on("data", () => {});
      res.on("end", () => resolve(ok));
    });
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

let counter = 0;
let measuring = false;
let stop = false;
const latencies = [];
let errors = 0;

async function worker() {
  while (!stop) {
    const t0 = process.hrtime.bigint();
    const ok = await debit(counter++);
    if (measuring) {
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (!ok) errors++;
    }
  }
}

const workers = Array.from({ length: concurrency }, worker);
await new Promise((r) => setTimeout(r, warmup * 1000));
measuring = true;
const t0 = process.hrtime.bigint();
await new Promise((r) => setTimeout(r, seconds * 1000));
measuring = false;
const elapsed = Number(process.hrtime.bigint() - t0) / 1e9;
const done = latencies.length;
stop = true;
await Promise.all(workers);
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0;
console.log(JSON.stringify({
  requests: done, errors, seconds: elapsed, rps: done / elapsed,
  p50_ms: pct(0.5), p99_ms: pct(0.99),
}));
agent.destroy();

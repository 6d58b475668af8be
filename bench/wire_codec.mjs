// Our hand-written MessagePack (runtime/js/msgpack.mjs) against the maintained @msgpack/msgpack,
// on the frames of a warm debit (not a test). The runtime keeps its own codec only while it is
// the faster one (DEVELOPERS.md); docs/performance.md has the figures.
//
// usage: npm install --prefix /tmp/mp @msgpack/msgpack@3 && node bench/wire_codec.mjs /tmp/mp
import path from "node:path";
import { createRequire } from "node:module";
import { encodeFrame, Decoder } from "../telnyx_edge/runtime/js/msgpack.mjs";

const M = createRequire(path.join(path.resolve(process.argv[2] ?? "."), "package.json"))("@msgpack/msgpack");
const frames = [
  ["fetch", 12345, "POST", "http://127.0.0.1:8787/accounts/acct42/debit",
    ["host", "127.0.0.1:8787", "content-type", "application/json", "content-length", "12"], Buffer.from('{"amount":1}')],
  ["fetch_done", 12345, 200, ["content-type", "application/json"], Buffer.from('{"account":"acct42","ok":true,"balance":999999}')],
];
const N = 200_000;
function time(fn) {
  for (let i = 0; i < 20_000; i++) fn(i);
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn(i);
  return Number(process.hrtime.bigint() - t) / N;
}
const enc = new M.Encoder();
const dec = new M.Decoder();
const encoded = frames.map((f) => encodeFrame(f));
const cases = {
  "encode, ours": (i) => encodeFrame(frames[i & 1]),
  "encode, @msgpack/msgpack": (i) => {
    const body = enc.encode(frames[i & 1]);
    const out = Buffer.allocUnsafe(body.length + 4);
    out.writeUInt32BE(body.length, 0);
    out.set(body, 4);
    return out;
  },
  "decode, ours": (i) => { const b = encoded[i & 1]; return new Decoder(b, 4, b.length).value(); },
  "decode, @msgpack/msgpack": (i) => dec.decode(encoded[i & 1].subarray(4)),
};
const runs = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let r = 0; r < 5; r++) for (const [k, fn] of Object.entries(cases)) runs[k].push(time(fn));
console.log("| codec, per frame | median of 5 runs |\n| --- | ---: |");
for (const [k, v] of Object.entries(runs)) console.log(`| ${k} | ${v.sort((a, b) => a - b)[2].toFixed(0)} ns |`);

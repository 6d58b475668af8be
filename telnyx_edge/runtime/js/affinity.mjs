// Affinity: which Worker of a pool should run a request's fetch handler, so that the actor the
// handler calls is local to it (an actor lives on the Worker its name hashes to, placement.mjs)
// and the call needs no hop through the main thread (two postMessages each way, and three
// threads woken instead of one).
//
// Two sources, both learned from the calls that did hop (a local call is never seen here):
// - routes: request path -> the slot its handler's actor lives on;
// - names: actor names seen in those calls -> their slot. A path never seen before is predicted
//   from them when one of its segments is a known actor name (`/accounts/NAME/debit`), which is
//   how most projects address actors.
// Both are hints: a wrong one costs one hop, never correctness. Both are bounded (forgotten all
// at once when full), so a scan over endless paths or names cannot grow memory.

const MAX_ENTRIES = 10_000;
// How much busier (requests running) than the least busy Worker the expected one may be and
// still get the request. A hop costs three threads' time, queueing behind a few requests costs
// none: at 64 connections, spread over 1,000 actors, a slack of 8 to 64 gave 10-30 % more debits
// per second than a slack of 1 (bench/actors.py, interleaved runs, 2026-11-30).
export const AFFINITY_SLACK = 8;
const NONE = -1; // a path scanned for known names that has none (until a call teaches otherwise)

export class Affinity {
  constructor() {
    this.routes = new Map(); // path -> slot index, or NONE
    this.names = new Map(); // actor name -> slot index
  }

  /** The slot index `route`'s handler is expected to call into, or undefined. */
  slotFor(route) {
    let slot = this.routes.get(route);
    if (slot === undefined && this.names.size) {
      slot = this.predict(route);
      remember(this.routes, route, slot);
    }
    return slot === NONE ? undefined : slot;
  }

  predict(route) {
    let start = 1;
    while (start < route.length) {
      let end = route.indexOf("/", start);
      if (end < 0) end = route.length;
      if (end > start) {
        const slot = this.names.get(route.slice(start, end));
        if (slot !== undefined) return slot;
      }
      start = end + 1;
    }
    return NONE;
  }

  /** A call to actor `name`, hosted on slot `target`, hopped out of a Worker whose requests in
   * flight are `sinks` (each with its `route`, undefined for calls). The call belongs to the one
   * request if there is one, else to the only path that names the actor as a segment. */
  learn(sinks, count, name, target) {
    remember(this.names, name, target);
    let route;
    if (count === 1) {
      route = sinks.next().value?.route;
    } else {
      for (const sink of sinks) {
        const r = sink.route;
        if (r === undefined || r === route || !namesSegment(r, name)) continue;
        if (route !== undefined) return; // two paths name it: nothing to learn
        route = r;
      }
    }
    if (route !== undefined) remember(this.routes, route, target);
  }
}

function remember(map, key, value) {
  if (map.size >= MAX_ENTRIES && !map.has(key)) map.clear();
  map.set(key, value);
}

/** Whether `name` is one whole segment of `path` ("/a/NAME/b", "/a/NAME"). */
export function namesSegment(path, name) {
  if (!name) return false;
  let at = path.indexOf(name);
  while (at > 0) {
    const end = at + name.length;
    if (path.charCodeAt(at - 1) === 47 && (end === path.length || path.charCodeAt(end) === 47)) return true;
    at = path.indexOf(name, at + 1);
  }
  return false;
}

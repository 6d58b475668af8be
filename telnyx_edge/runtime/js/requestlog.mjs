// The request log, main-thread side: one record per HTTP request the data plane answered
// (logrecords.mjs, ["request", ts_ms, function, method, path, status, duration_ms]), taken when
// the response has closed. The path is kept without its query string (it may carry tokens).
// A request that never reached a function (a bad Host) is not recorded; one whose client went
// away before any response was written is recorded with status 499.

/** Record the request `req` answered by `res` (`res.edgeFunction` set once routed), begun at `started` (performance.now()). */
export function logRequest(log, req, res, started) {
  const fn = res.edgeFunction;
  if (fn === undefined) return;
  const url = req.url;
  const q = url.indexOf("?");
  const now = performance.now();
  log.push(["request", Math.round(performance.timeOrigin + started), fn, req.method, q < 0 ? url : url.slice(0, q),
    res.headersSent ? res.statusCode : 499, Math.round((now - started) * 10) / 10]);
}

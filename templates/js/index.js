import * as http from "node:http";

// A classic function owns its HTTP server. The platform probes /health and the paths
// under it: answer those before anything else.
const server = http.createServer((req, res) => {
  if (req.url === "/health" || req.url?.startsWith("/health/")) {
    res.writeHead(200);
    res.end();
    return;
  }
  res.writeHead(200, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ message: "Hello from Telnyx Edge Compute!" }));
});

server.listen(Number(process.env.PORT ?? 8080));

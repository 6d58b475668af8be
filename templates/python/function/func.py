"""A classic Python function: an ASGI app. The platform runs the server and answers the
health probes itself, so they never reach handle()."""

import json


class Function:
    async def handle(self, scope, receive, send):
        body = json.dumps({"message": "Hello from Telnyx Edge Compute!"}).encode()
        await send({
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        })
        await send({"type": "http.response.body", "body": body})


def new():
    return Function()

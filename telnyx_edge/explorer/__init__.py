"""The local explorer: a page and a JSON API on loopback that show and edit every actor of a
running `dev` or `serve` (docs/explorer.md).

`server.py` serves it (aiohttp, in the runtime's event loop, on its own port); `api.py` answers
the JSON API from the runtime's parts (registry, instance index, log store, data plane);
`runtime_file.py` lets the CLI find a running explorer; `client.py` is the CLI's core
(`actors storage ...`, `actors alarm ...`). Reads come from the actor's database file;
every action is a turn of the actor in the data plane (js/explorer-turns.mjs).
"""

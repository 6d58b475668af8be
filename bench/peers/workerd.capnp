# workerd config for bench/peers/run.py: worker.mjs and its Account Durable Object, SQLite-backed,
# stored on disk in the directory service `do-disk` (run.py points it at a temporary folder with
# `-d do-disk=PATH` and hands over a bound socket with `-S http=FD`).
# ACCOUNT is the KV Account (storage.get/put); workerd-sql.capnp binds the SQL one.
#   workerd serve -d do-disk=/tmp/x -s http=127.0.0.1:8787 bench/peers/workerd.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .account),
    (name = "do-disk", disk = (path = "do-storage", writable = true)),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const account :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.mjs")],
  compatibilityDate = "2026-04-01",
  durableObjectNamespaces = [(className = "Account", uniqueKey = "bench-account", enableSql = true)],
  durableObjectStorage = (localDisk = "do-disk"),
  bindings = [(name = "ACCOUNT", durableObjectNamespace = "Account")],
);

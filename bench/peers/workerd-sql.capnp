# workerd config for bench/peers/run.py: worker.mjs and its Account Durable Object, SQLite-backed,
# stored on disk in the directory service `do-disk` (run.py points it at a temporary folder with
# `-d do-disk=PATH` and hands over a bound socket with `-S http=FD`).
# ACCOUNT is the SQL Account (sql.exec); workerd.capnp binds the KV one.
#   workerd serve -d do-disk=/tmp/x -s http=127.0.0.1:8787 bench/peers/workerd-sql.capnp
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
  durableObjectNamespaces = [(className = "AccountSql", uniqueKey = "bench-account-sql", enableSql = true)],
  durableObjectStorage = (localDisk = "do-disk"),
  bindings = [(name = "ACCOUNT", durableObjectNamespace = "AccountSql")],
);

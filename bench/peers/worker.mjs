// The Account of tests/fixtures/projects/account{,-sql} (spec 9.1) as a Cloudflare Durable Object,
// for bench/peers/run.py. Same routes, same bodies, same replies as ours; the Worker calls the
// object over JS RPC (stub.debit(amount)), as our fetch handler calls the actor's stub.
// Account keeps the balance through the KV API (ctx.storage.get/put, which a SQLite-backed object
// stores in its own SQLite database); AccountSql keeps it in a table, a debit being one conditional
// UPDATE. Which class the ACCOUNT binding names is chosen by the config (workerd.capnp, miniflare.mjs).
import { DurableObject } from "cloudflare:workers";

export class Account extends DurableObject {
  async _stored() {
    return (await this.ctx.storage.get("balance")) ?? 0;
  }

  async deposit(amount) {
    const balance = (await this._stored()) + amount;
    await this.ctx.storage.put("balance", balance);
    return { balance };
  }

  async debit(amount) {
    const balance = await this._stored();
    if (amount > balance) return { ok: false, balance };
    await this.ctx.storage.put("balance", balance - amount);
    return { ok: true, balance: balance - amount };
  }

  async balance() {
    return { balance: await this._stored() };
  }
}

export class AccountSql extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS account (id INTEGER PRIMARY KEY CHECK (id = 1), balance INTEGER NOT NULL);" +
        "INSERT OR IGNORE INTO account (id, balance) VALUES (1, 0)",
    );
  }

  _balance() {
    return this.ctx.storage.sql.exec("SELECT balance FROM account WHERE id = 1").one().balance;
  }

  async deposit(amount) {
    this.ctx.storage.sql.exec("UPDATE account SET balance = balance + ? WHERE id = 1", amount);
    return { balance: this._balance() };
  }

  async debit(amount) {
    const cursor = this.ctx.storage.sql.exec("UPDATE account SET balance = balance - ? WHERE id = 1 AND balance >= ?", amount, amount);
    return { ok: cursor.rowsWritten === 1, balance: this._balance() };
  }

  async balance() {
    return { balance: this._balance() };
  }
}

const ROUTE = /^\/accounts\/([^/]+)\/(deposit|debit|balance)$/;

async function amountOf(req) {
  const body = await req.json().catch(() => ({}));
  return typeof body.amount === "number" ? body.amount : undefined;
}

export default {
  async fetch(req, env) {
    const { pathname } = new URL(req.url);
    if (pathname === "/health/liveness" || pathname === "/health/readiness") return new Response("ok");
    const match = ROUTE.exec(pathname);
    if (!match) return new Response("not found", { status: 404 });
    const [, id, action] = match;
    const account = env.ACCOUNT.get(env.ACCOUNT.idFromName(id));
    if (action === "balance" && req.method === "GET") {
      return Response.json({ account: id, ...(await account.balance()) });
    }
    if ((action === "deposit" || action === "debit") && req.method === "POST") {
      const amount = await amountOf(req);
      if (amount === undefined) return Response.json({ error: "amount (number) required" }, { status: 400 });
      const result = action === "deposit" ? await account.deposit(amount) : await account.debit(amount);
      return Response.json({ account: id, ...result });
    }
    return new Response("not found", { status: 404 });
  },
};

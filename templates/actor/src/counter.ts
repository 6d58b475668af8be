import { StatefulActor } from "@telnyx/edge-runtime";

/** One counter per name. Calls to one name run one at a time, so read-modify-write is safe. */
export class Counter extends StatefulActor {
  async increment(by: number = 1): Promise<number> {
    const next = ((await this.ctx.storage.get<number>("value")) ?? 0) + by;
    await this.ctx.storage.put("value", next);
    return next;
  }

  async value(): Promise<number> {
    return (await this.ctx.storage.get<number>("value")) ?? 0;
  }
}

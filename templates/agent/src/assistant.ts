import { Agent, type StoredMessage, type TaskRecord } from "@telnyx/edge-runtime";

export interface AssistantState extends Record<string, unknown> {
  status: "idle" | "thinking" | "answered";
  replies: number;
  lastMessageAt: number;
}

const FOLLOW_UP_SECONDS = 3600;

/**
 * One agent per conversation. Methods of one name run one at a time, and everything a method
 * writes (state, messages, tasks) commits when it returns, or not at all when it throws.
 */
export class Assistant extends Agent<Record<string, unknown>, AssistantState> {
  protected override initialState(): AssistantState {
    return { status: "idle", replies: 0, lastMessageAt: 0 };
  }

  /** Record the message and return at once; the answer is a task. Resolves to its seq. */
  async receive(text: string): Promise<number> {
    const seq = await this.messages.add("user", text);
    await this.setState({ status: "thinking", lastMessageAt: Date.now() });
    await this.queue("respond");
    return seq;
  }

  /** Task: answer the newest message. A real agent calls a model with this.messages.toOpenAI(). */
  async respond(): Promise<void> {
    const last = await this.messages.last();
    if (!last || last.role !== "user") return; // already answered (tasks run at least once)
    await this.messages.add("assistant", `You said: ${last.content}`);
    const state = await this.getState();
    await this.setState({ status: "answered", replies: state.replies + 1 });
    // A stable id: a newer message moves the pending follow-up instead of adding one.
    await this.schedule(FOLLOW_UP_SECONDS, "followUp", null, { id: "follow-up" });
  }

  /** Task: nudge once, unless the user wrote after our answer. */
  async followUp(): Promise<void> {
    const last = await this.messages.last();
    if (last?.role === "assistant") await this.messages.add("assistant", "Anything else I can help with?");
  }

  async inspect(): Promise<{ state: AssistantState; messages: StoredMessage[]; pending: TaskRecord[] }> {
    return { state: await this.getState(), messages: await this.messages.last(20), pending: await this.listSchedules() };
  }
}

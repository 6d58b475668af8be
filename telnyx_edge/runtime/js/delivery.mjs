// Which of the requests the main thread sent a Worker that Worker took, and which it began: when a
// Worker hangs or exits, the main thread sends again, to its replacement, what it never began
// (group.mjs), and fails the rest. A request that began may have done anything (written, called
// other actors, answered someone), so it must never run twice; one that did not begin did nothing.
//
// The marks: one Int32Array on a SharedArrayBuffer per Worker, written only by that Worker (an
// atomic store per request and per turn: no message, nothing on the normal path waits), read by
// the main thread only once the Worker's thread has ended (its 'exit' event), when nothing can
// change them any more.
// - [0], TAKEN: the id of the last request the Worker took off its port. Requests are posted and
//   taken in id order (one port, one outbox per Worker), so no id above it was ever seen there.
// - [1 + id % RING]: the id of a request whose work began. A fetch handler (or an upgrade, or an
//   explorer action) begins as it is taken; a turn of an actor's mailbox (a call, an alarm, an
//   actor's fetch) when the mailbox starts it, so the calls waiting behind a turn are not begun.
//
// A request more than RING ids below TAKEN may have had its mark overwritten by a later one, so
// it counts as begun. Ids are compared modulo 2^32 (a slot may pass 2^31 requests).

const RING = 4096; // a power of two
const TAKEN = 0;

/** Marks for a new Worker (group.mjs passes them in its config). */
export function newMarks() {
  return new Int32Array(new SharedArrayBuffer(4 * (1 + RING)));
}

/** Worker: request `id` was taken off the port. */
export function took(marks, id) {
  Atomics.store(marks, TAKEN, id);
}

/** Worker: the work of request `id` began (it may now have effects). */
export function began(marks, id) {
  Atomics.store(marks, 1 + (id & (RING - 1)), id);
}

/** Main thread, after the Worker's thread ended: whether request `id` may have begun there. */
export function mayHaveBegun(marks, id) {
  const behind = (Atomics.load(marks, TAKEN) - id) | 0; // how far the last taken id is past this one
  if (behind < 0) return false; // never taken
  if (behind >= RING) return true; // its mark may have been overwritten: assume it began
  return Atomics.load(marks, 1 + (id & (RING - 1))) === (id | 0);
}

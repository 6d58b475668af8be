// Which Worker of a revision's pool hosts an activation: a stable hash of the actor's name.
//
// Invariant: for a given pool size, slotOf(name) never changes, so an activation lives on exactly
// one Worker of its owner's revision (promise 1 of DESIGN.md). Types do not take part: every type
// a function owns is spread the same way.

/** FNV-1a (32 bit) over the name's UTF-16 code units, reduced to [0, slots). */
export function slotOf(name, slots) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % slots;
}

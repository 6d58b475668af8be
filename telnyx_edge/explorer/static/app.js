// The explorer page: plain DOM, no framework, no network beyond this explorer's own API.
// Every piece of user data is put on the page with textContent (never parsed as HTML).
// Live: the open views are read again every second; an edit in progress is left alone.

const $ = (sel) => document.querySelector(sel);
const state = { type: null, name: null, search: "", editing: null, table: null, offset: 0, busy: false, kv: [] };
const PAGE = 25;
const SHOWN = 500; // characters of one value on the page; Edit has it whole

// Characters that would hide or reorder what is shown (control, bidi override, zero-width):
// shown as \uXXXX, so a name or key looks like what it is ("bidi-\u202Eevil" never reads "bidi-live").
const HIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const visible = (text) => String(text).replace(HIDDEN, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`);

/** A name or key as text: hidden characters escaped, the empty string shown as "", a long one cut. */
function label(text) {
  if (text === "") return '""';
  const shown = visible(text.length > 200 ? text.slice(0, 200) : text);
  return text.length > 200 ? `${shown}… (${text.length.toLocaleString("en-US")} characters)` : shown;
}

/** Text of at most SHOWN characters: a 2 MiB value would make the page megabytes tall. */
function cut(text) {
  return text.length <= SHOWN ? text : `${text.slice(0, SHOWN)}… (${text.length.toLocaleString("en-US")} characters; Edit shows it whole)`;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child ?? "")));
  return node;
}

async function api(path, body) {
  const init = body === undefined ? {} : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    // The runtime stopped (or restarted: its explorer then has a new URL, printed under `Ready on`).
    throw new Error("the explorer is not answering: is telnyx-edge dev (or serve) still running? A restarted one prints its new Explorer URL");
  }
  const data = await res.json();
  if (!res.ok) throw new Error(`${data.error}: ${data.message}`);
  return data;
}

function when(ms) {
  if (!ms) return "-"; // none, or 0: not reported yet (never 1970)
  const d = new Date(ms);
  const delta = Math.round((ms - Date.now()) / 1000);
  const rel = Math.abs(delta) < 90 ? `${Math.abs(delta)} s` : Math.abs(delta) < 5400 ? `${Math.round(Math.abs(delta) / 60)} min` : `${Math.round(Math.abs(delta) / 3600)} h`;
  return `${d.toISOString().replace("T", " ").slice(0, 19)}Z (${delta === 0 ? "now" : delta > 0 ? "in " + rel : rel + " ago"})`;
}

/** "date time (relative)" as two lines, for the narrow instances column. */
const twoLines = (text) => text.replace(" (", "\n(");

/** A typed JSON value (docs/explorer.md, "Values") as one readable line. */
function show(v) {
  if (v === null) return "null";
  if (Array.isArray(v)) return `[${v.map(show).join(", ")}]`;
  if (typeof v === "string") return visible(JSON.stringify(v));
  if (typeof v !== "object") return String(v);
  switch (v.type) {
    case "Date": return v.value;
    case "BigInt": return `${v.value}n`;
    case "Map": return `Map(${v.entries.length}) {${v.entries.map(([k, x]) => `${show(k)} => ${show(x)}`).join(", ")}}`;
    case "Set": return `Set(${v.values.length}) {${v.values.map(show).join(", ")}}`;
    case "bytes": return `${v.view ?? "bytes"} (${(v.length ?? atob(v.base64).length).toLocaleString("en-US")} bytes) ${v.base64.slice(0, 64)}${v.base64.length > 64 ? "…" : ""}`;
    case "number": return v.value;
    case "undefined": return "undefined";
    case "RegExp": return visible(`/${v.source}/${v.flags}`);
    case "Object": return show(Object.fromEntries(Object.entries(v.value)));
    default: return `{${Object.entries(v).map(([k, x]) => `${visible(JSON.stringify(k))}: ${show(x)}`).join(", ")}}`;
  }
}

function say(text, ok = false) {
  const m = $("#message");
  m.textContent = visible(text);
  m.className = ok ? "ok" : "error";
}

// -- overview ---------------------------------------------------------------------------------

async function loadOverview() {
  const o = await api("/api/overview");
  $("#mode").textContent = o.mode;
  $("#state-dir").textContent = o.state_dir;
  const fns = $("#functions");
  fns.replaceChildren(...o.functions.map((f) => el("li", {},
    el("strong", {}, visible(f.name)), el("span", { class: "small" }, f.hosts.join(", ")),
    f.revision ? el("span", { class: "small" }, `revision ${f.revision}`) : "",
  )));
  const types = $("#types");
  types.replaceChildren(...o.types.map((t) => el("li", {
    class: `type${t.type === state.type ? " selected" : ""}`, "data-type": t.type, onclick: () => selectType(t.type),
  },
  el("strong", { class: "mono" }, t.type),
  el("span", { class: "small" }, `owner: ${t.owner ?? "(none)"}`),
  el("span", { class: "small" }, `references: ${t.references.map((r) => `${r.function} (${r.binding})`).join(", ") || "-"}`),
  )));
  if (!state.type && o.types.length === 1) selectType(o.types[0].type);
}

function selectType(type) {
  state.type = type;
  state.name = null;
  $("#instances-type").textContent = type;
  $("#instances-pane").hidden = false;
  $("#actor-pane").hidden = true;
  for (const li of document.querySelectorAll("#types li")) li.classList.toggle("selected", li.dataset.type === type);
  refresh();
}

// -- instances ----------------------------------------------------------------------------------

async function loadInstances() {
  if (!state.type) return;
  const q = new URLSearchParams({ type: state.type, q: state.search });
  const data = await api(`/api/instances?${q}`);
  const shown = data.instances.length < data.matched ? ` (first ${data.instances.length} shown: search by name to narrow)` : "";
  $("#instances-count").textContent = `${data.matched} of ${data.total}${shown}`;
  $("#instances tbody").replaceChildren(...data.instances.map((i) => el("tr", {
    class: i.name === state.name ? "selected" : "", "data-name": i.name, onclick: () => selectInstance(i.name),
  }, el("td", { class: "mono key" }, label(i.name)), el("td", {}, i.last_activity_ms ? i.keys : "-"),
  el("td", { class: "when" }, i.last_activity_ms ? twoLines(when(i.last_activity_ms)) : "not yet indexed"), el("td", { class: "when" }, twoLines(when(i.alarm_ms))))));
}

function selectInstance(name) {
  state.name = name;
  state.editing = null;
  state.table = null;
  $("#actor-pane").hidden = false;
  $("#actor-title").textContent = `${state.type} ${visible(JSON.stringify(name))}`;
  $("#message").textContent = "";
  $("#query-result").replaceChildren();
  $("#table-view").replaceChildren();
  for (const tr of document.querySelectorAll("#instances tbody tr")) tr.classList.toggle("selected", tr.dataset.name === name);
  refresh();
}

// -- one instance -------------------------------------------------------------------------------

async function act(body, done) {
  try {
    const out = await api("/api/actor/action", { type: state.type, name: state.name, ...body });
    if (out.conflict) {
      say(`Not saved: the value changed meanwhile (now ${out.absent ? "absent" : show(out.current.value)}). Edit again from the current value.`);
    } else if (out.ok === false) {
      say(out.error ?? "refused");
    } else {
      say(done(out), true);
    }
    state.editing = null;
  } catch (err) {
    say(err.message);
  }
  await refresh();
}

function kvRow(pair) {
  const editing = state.editing?.key === pair.key;
  const valueCell = el("td", { class: "value" });
  if (editing) {
    const box = el("textarea", { class: "edit-box mono", "data-edit": pair.key });
    box.value = state.editing.text;
    box.addEventListener("input", () => { state.editing.text = box.value; });
    valueCell.append(box);
  } else {
    valueCell.textContent = pair.omitted
      ? `${pair.preview === null ? "" : show(pair.preview).slice(0, SHOWN) + "… "}(a large value: ${pair.bytes.toLocaleString("en-US")} bytes; Edit loads it whole)`
      : cut(show(pair.value));
  }
  const actions = el("td", { class: "actions" });
  if (editing) {
    actions.append(
      el("button", { type: "button", class: "save", onclick: () => saveEdit() }, "Save"),
      el("button", { type: "button", onclick: () => { state.editing = null; renderKv(); } }, "Cancel"),
    );
  } else {
    actions.append(
      el("button", { type: "button", class: "edit", onclick: () => startEdit(pair) }, "Edit"),
      el("button", { type: "button", class: "delete", onclick: async () => {
        const whole = await wholePair(pair);
        if (whole) act({ action: "delete", key: pair.key, expect: whole.value }, () => `Deleted ${label(pair.key)}`);
      } }, "Delete"),
    );
  }
  return el("tr", { "data-key": pair.key }, el("td", { class: "mono key" }, label(pair.key)), el("td", {}, el("span", { class: "type-tag" }, pair.type)), valueCell, actions);
}

/** The pair with its value: a large one the instance view left out is read alone. */
async function wholePair(pair) {
  if (!pair.omitted) return pair;
  try {
    return await api(`/api/actor/value?${new URLSearchParams({ type: state.type, name: state.name, key: pair.key })}`);
  } catch (err) {
    say(err.message);
    return null;
  }
}

async function startEdit(pair) {
  const whole = await wholePair(pair);
  if (!whole) return;
  state.editing = { key: pair.key, expect: whole.value, text: visible(JSON.stringify(whole.value)) };
  renderKv();
}

/** The KV rows from the last read: Edit and Cancel show at once, even with the runtime gone. */
function renderKv() {
  $("#kv tbody").replaceChildren(...state.kv.map(kvRow));
}

function saveEdit() {
  const { key, expect, text } = state.editing;
  let value;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return say(`Not JSON: ${err.message}`);
  }
  act({ action: "put", key, value, expect }, () => `Saved ${label(key)}`);
}

function renderTable(node, columns, rows) {
  node.replaceChildren(el("table", {},
    el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", {}, visible(c))))),
    el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { class: "value" }, cut(c !== null && typeof c === "object" ? show(c) : c === null ? "NULL" : visible(String(c)))))))),
  ));
}

async function loadTable() {
  if (!state.table) return;
  const q = new URLSearchParams({ type: state.type, name: state.name, table: state.table, offset: state.offset, limit: PAGE });
  const t = await api(`/api/actor/table?${q}`);
  const view = $("#table-view");
  const grid = el("div");
  renderTable(grid, t.columns, t.rows);
  view.replaceChildren(
    el("div", { class: "pager" },
      el("strong", {}, visible(t.table)),
      el("span", { class: "muted" }, `rows ${t.total ? t.offset + 1 : 0}-${t.offset + t.rows.length} of ${t.total}`),
      el("button", { type: "button", onclick: () => { state.offset = Math.max(0, state.offset - PAGE); refresh(); } }, "Previous"),
      el("button", { type: "button", onclick: () => { if (state.offset + PAGE < t.total) { state.offset += PAGE; refresh(); } } }, "Next"),
    ),
    grid,
  );
}

async function loadActor() {
  if (!state.name) return;
  const a = await api(`/api/actor?${new URLSearchParams({ type: state.type, name: state.name })}`);
  state.kv = a.kv;
  $("#kv-note").textContent = a.kv_truncated ? "Only the first 1,000 keys (in key order) are shown; Add / replace works on any key." : "";
  if (!state.editing || !document.querySelector("#kv textarea")) renderKv();
  const alarm = $("#alarm");
  alarm.textContent = a.alarm
    ? `Next fire: ${when(a.alarm.fire_ms)} · set for ${when(a.alarm.alarm_ms)} · retries: ${a.alarm.retries}`
    : "No alarm set.";
  $("#tables").replaceChildren(...(a.tables.length ? a.tables.map((t) => el("button", {
    type: "button", class: "table-name", "data-table": t.name, onclick: () => { state.table = t.name; state.offset = 0; refresh(); },
  }, `${visible(t.name)} (${t.rows})`)) : [el("span", { class: "muted" }, "No SQL tables.")]));
  $("#calls tbody").replaceChildren(...a.calls.map((c) => el("tr", {},
    el("td", {}, when(c.ts_ms)), el("td", { class: "mono" }, visible(c.method)),
    el("td", { class: c.outcome === "ok" ? "" : "outcome-bad" }, c.outcome), el("td", {}, `${c.duration_ms} ms`),
  )));
  await loadTable();
}

// -- wiring ---------------------------------------------------------------------------------------

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    await loadInstances();
    await loadActor();
    $("#live").classList.remove("stale");
    $("#live").textContent = "live";
  } catch (err) {
    $("#live").classList.add("stale");
    $("#live").textContent = `not updating: ${err.message}`;
  } finally {
    state.busy = false;
  }
}

function wire() {
  $("#search").addEventListener("input", (e) => { state.search = e.target.value; refresh(); });
  $("#add-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const key = $("#add-key").value;
    let value;
    try { value = JSON.parse($("#add-value").value); } catch (err) { return say(`Not JSON: ${err.message}`); }
    act({ action: "put", key, value }, () => `Saved ${label(key)}`);
  });
  $("#alarm-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const raw = $("#alarm-time").value.trim();
    act({ action: "alarm_set", time: /^\d+$/.test(raw) ? Number(raw) : raw }, () => "Alarm set");
  });
  $("#alarm-delete").addEventListener("click", () => act({ action: "alarm_delete" }, () => "Alarm deleted"));
  $("#alarm-fire").addEventListener("click", () => act({ action: "alarm_fire" }, () => "Alarm fired"));
  $("#evict").addEventListener("click", () => act({ action: "evict" }, (out) => (out.evicted ? "Evicted" : out.busy ? "Busy: not evicted" : "Not active")));
  $("#query-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    try {
      const r = await api("/api/actor/query", { type: state.type, name: state.name, sql: $("#query").value });
      renderTable($("#query-result"), r.columns, r.rows);
      if (r.truncated) $("#query-result").prepend(el("p", { class: "muted" }, `The first ${r.rows.length} rows (add a LIMIT or a WHERE for others).`));
    } catch (err) {
      $("#query-result").replaceChildren(el("p", { class: "outcome-bad" }, err.message));
    }
  });
  $("#sql-write").addEventListener("click", () => act({ action: "sql", sql: $("#query").value }, (out) => `Done: ${out.rows_written} row(s) written`));
}

async function tick() {
  try {
    await loadOverview();
  } catch (err) {
    $("#live").classList.add("stale");
    $("#live").textContent = `not updating: ${err.message}`;
  }
  await refresh();
}

wire();
tick();
setInterval(refresh, 1000);
setInterval(() => loadOverview().catch(() => {}), 5000);

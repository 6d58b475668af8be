-- One actor's database (telnyx-edge per-actor storage, schema version 1). Read by the Node
-- side (actordb.mjs) and by the Python side (migration, index rebuild, inspection).
-- Reserved names start with __telnyx_; user SQL can never name them.
CREATE TABLE IF NOT EXISTS __telnyx_kv (
    key BLOB PRIMARY KEY,      -- WTF-8 bytes: memcmp order is code point order (keys.mjs)
    value BLOB NOT NULL        -- V8-serialized value (codec.mjs)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS __telnyx_meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    type TEXT NOT NULL,        -- the actor type, for inspection
    name BLOB NOT NULL,        -- the actor name, WTF-8
    alarm_ms INTEGER,          -- what getAlarm() returns; NULL: no alarm
    alarm_fire_ms INTEGER,     -- when it fires next (later than alarm_ms while retrying)
    alarm_retries INTEGER NOT NULL DEFAULT 0
);

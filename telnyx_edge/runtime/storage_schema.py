"""The on-disk layout of the storage engine: schema and the statements the writer runs.

`kv` holds every actor's keys (UTF-8 BLOBs, so memcmp order is code point order) and opaque
values. `actors` holds one row per actor that ever committed: last activity and its one alarm.
`alarm_ms` is what getAlarm() returns; `alarm_fire_ms` is when the scheduler fires next
(later than `alarm_ms` while retrying); `alarm_gen` grows with every SetAlarm, so the
scheduler's bookkeeping can name the exact alarm it means.
"""

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (type, name, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS actors (
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    last_activity_ms INTEGER NOT NULL,
    alarm_ms INTEGER,
    alarm_fire_ms INTEGER,
    alarm_retries INTEGER NOT NULL DEFAULT 0,
    alarm_gen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (type, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS actors_alarm_fire ON actors(alarm_fire_ms)
    WHERE alarm_fire_ms IS NOT NULL;
"""

TOUCH = (
    "INSERT INTO actors(type, name, last_activity_ms) VALUES (?, ?, ?) "
    "ON CONFLICT(type, name) DO UPDATE SET last_activity_ms = excluded.last_activity_ms"
)
PUT = "INSERT OR REPLACE INTO kv(type, name, key, value) VALUES (?, ?, ?, ?)"
DELETE = "DELETE FROM kv WHERE type = ? AND name = ? AND key = ?"
DELETE_ALL = "DELETE FROM kv WHERE type = ? AND name = ?"
SET_ALARM = (
    "UPDATE actors SET alarm_ms = ?, alarm_fire_ms = ?, alarm_retries = 0, "
    "alarm_gen = alarm_gen + 1 WHERE type = ? AND name = ?"
)
CLEAR_ALARM = (
    "UPDATE actors SET alarm_ms = NULL, alarm_fire_ms = NULL, alarm_retries = 0 "
    "WHERE type = ? AND name = ?"
)
CONSUME_ALARM = CLEAR_ALARM + " AND alarm_ms = ?"
EXPIRE_ALARM = CLEAR_ALARM + " AND alarm_gen = ? AND alarm_ms IS NOT NULL"
RETRY_ALARM = (
    "UPDATE actors SET alarm_retries = ?, alarm_fire_ms = ? "
    "WHERE type = ? AND name = ? AND alarm_gen = ? AND alarm_ms IS NOT NULL"
)
ALARM_COLUMNS = "type, name, alarm_ms, alarm_fire_ms, alarm_retries, alarm_gen"

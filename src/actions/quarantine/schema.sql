-- The quarantine manifest (`manifest.db`), schema version 3
-- (`PRAGMA user_version`). One row per file moved into the store; the row
-- is also the journal of the operation in progress on it (see `state`).
CREATE TABLE IF NOT EXISTS items (
    id TEXT PRIMARY KEY,
    -- pending | stored | done | restoring | restored | purging
    -- (`quarantine::manifest::State`, the only place that spells them).
    state TEXT NOT NULL,
    -- The original path, escaped losslessly (`report::names::escape_path`:
    -- `caf\xE9.csv`, `\\` for a backslash); likewise the restore paths.
    -- Real, unmasked: restore needs it. Every output masks it.
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    mode INTEGER NOT NULL,
    uid INTEGER NOT NULL,
    gid INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    mtime_nsec INTEGER NOT NULL,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    -- HMAC-SHA256 of `objects/<id>` as stored (ciphertext when encrypted),
    -- keyed with the store key (`key`). Never an unkeyed hash of the
    -- plaintext: that would let anyone holding the manifest brute-force a
    -- small file holding one number.
    mac TEXT,
    findings TEXT NOT NULL DEFAULT '[]',
    time TEXT NOT NULL,
    time_unix INTEGER NOT NULL,
    host TEXT NOT NULL,
    tombstone INTEGER NOT NULL DEFAULT 0,
    -- A restore in progress: the temporary file, the destination, and the
    -- temporary file's device and inode (what lands at the destination).
    restore_temp TEXT,
    restore_to TEXT,
    restore_dev INTEGER,
    restore_ino INTEGER,
    restored_to TEXT,
    encrypted INTEGER NOT NULL DEFAULT 0
);

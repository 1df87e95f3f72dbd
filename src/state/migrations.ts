/**
 * Versioned schema migrations for the gateway's state database. Append only: never edit a released step,
 * add a new one. PRAGMA user_version holds the number of steps applied.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the ledger, sealed segments and the sealing queue.
  `
  CREATE TABLE ledger (
    seq   INTEGER PRIMARY KEY,
    hash  TEXT NOT NULL UNIQUE,
    type  TEXT NOT NULL,
    time  TEXT NOT NULL,
    line  TEXT NOT NULL
  );
  CREATE INDEX ledger_type ON ledger(type);

  -- A finished plaintext segment waiting to be sealed. Its row goes in the same transaction as its manifest.
  CREATE TABLE pending_segments (
    name        TEXT PRIMARY KEY,
    plain_path  TEXT NOT NULL,
    meta        TEXT NOT NULL,
    created_at  TEXT NOT NULL
  );

  -- Sealed segments on local storage, one per manifest entry.
  CREATE TABLE segments (
    name          TEXT PRIMARY KEY,
    ledger_seq    INTEGER NOT NULL REFERENCES ledger(seq),
    session_id    TEXT NOT NULL,
    source_id     TEXT NOT NULL,
    file          TEXT NOT NULL,
    stored_size   INTEGER NOT NULL,
    stored_sha256 TEXT NOT NULL,
    start_time    TEXT NOT NULL,
    end_time      TEXT NOT NULL,
    local_state   TEXT NOT NULL DEFAULT 'present' CHECK (local_state IN ('present', 'deleted'))
  );
  CREATE INDEX segments_session ON segments(session_id);

  CREATE TABLE kv (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // 2: recording sessions, their interruptions, and per-source segment numbering.
  `
  CREATE TABLE sessions (
    session_id  TEXT PRIMARY KEY,
    context     TEXT NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('recording', 'paused', 'closed')),
    opened_at   TEXT NOT NULL,
    closed_at   TEXT,
    closed_by   TEXT CHECK (closed_by IN ('stopped', 'terminated')),
    -- Spans in which the session was recording, as JSON [[startMs, endMs|null], ...].
    spans       TEXT NOT NULL,
    statement   INTEGER NOT NULL DEFAULT 0
  );
  CREATE TABLE interruptions (
    interruption_id TEXT PRIMARY KEY,
    session_id      TEXT NOT NULL REFERENCES sessions(session_id),
    reason          TEXT NOT NULL,
    origin          TEXT NOT NULL CHECK (origin IN ('detected', 'declared')),
    sources         TEXT,
    text            TEXT,
    start_at        TEXT NOT NULL,
    end_at          TEXT
  );
  CREATE INDEX interruptions_open ON interruptions(session_id, end_at);
  CREATE TABLE source_seq (
    session_id  TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    next_seq    INTEGER NOT NULL,
    -- After a resume: the first segment starting at or after this time (ms) carries the spoken explanation.
    explain_from INTEGER,
    PRIMARY KEY (session_id, source_id)
  );
  `,
  // 3: the upload queue. A sealed segment waits here, by deadline, until the agency's receipt is recorded.
  `
  CREATE TABLE uplink_files (
    name            TEXT PRIMARY KEY REFERENCES segments(name),
    deadline_ms     INTEGER NOT NULL,
    -- The receipt.received entry that recorded the agency's receipt, and when it came.
    receipt_seq     INTEGER REFERENCES ledger(seq),
    receipted_at_ms INTEGER
  );
  CREATE INDEX uplink_files_due ON uplink_files(receipt_seq, deadline_ms, name);
  -- Deadline alarms already raised, once per item and level.
  CREATE TABLE uplink_alarms (
    item  TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (item, level)
  );
  `,
  // 4: local console accounts (src/console). Logins live in memory only; a restart ends them.
  `
  CREATE TABLE console_users (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('technician', 'admin')),
    -- scrypt$<log2 N>$<r>$<p>$<salt base64>$<hash base64>: the parameters travel with the hash so they can be raised.
    password    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    created_by  TEXT,
    disabled    INTEGER NOT NULL DEFAULT 0
  );
  `,
  // 5: listening for the spoken explanation after a resume (src/recorder/explanation.ts). At most one window per
  // session is open; a later resume while it listens joins it. A session an explanation was not heard for lacks a
  // written statement until it has one, like a session that ended with an unresumed interruption.
  `
  CREATE TABLE explanation_windows (
    session_id        TEXT PRIMARY KEY REFERENCES sessions(session_id),
    -- JSON: the interruptions whose resume it listens for, and how each resumed (declared, detected, restart).
    interruption_ids  TEXT NOT NULL,
    kinds             TEXT NOT NULL,
    opened_at         INTEGER NOT NULL,
    until_ms          INTEGER NOT NULL
  );
  ALTER TABLE sessions ADD COLUMN unexplained INTEGER NOT NULL DEFAULT 0;
  `,
];

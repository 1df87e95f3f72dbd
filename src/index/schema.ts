/**
 * The agency index's schema, as versioned migrations (migrate.ts applies them). Append only: never edit a released
 * step, add one. `sql` runs on both databases; `postgres` and `sqlite` run after it on that one only.
 *
 * The index is a view of the store (`recgw index rebuild` makes it again from the evidence), so it has no foreign
 * keys: a rebuild replaces a device's rows in one transaction, table by table. Times are ms since 1970 (UTC), flags
 * 0/1, lists JSON text. Keys are the evidence's own (device, session, segment name, ledger seq), so two rebuilds of
 * the same store give the same rows. The search indexes lead with what the desk filters on and end with the page
 * order (start_ms, device_id, session_id), so a page is a short index range scan on millions of sessions.
 */
export interface IndexMigration {
  name: string;
  sql: string;
  postgres?: string;
  sqlite?: string;
}

export const INDEX_MIGRATIONS: readonly IndexMigration[] = [
  {
    name: 'evidence tables',
    sql: `
  CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    -- The device folder's name in the store.
    folder      TEXT NOT NULL,
    entries     BIGINT NOT NULL,
    sessions    BIGINT NOT NULL,
    segments    BIGINT NOT NULL
  );

  CREATE TABLE sessions (
    device_id        TEXT NOT NULL,
    session_id       TEXT NOT NULL,
    opened_seq       BIGINT NOT NULL,
    matter           TEXT NOT NULL,
    case_ref         TEXT NOT NULL,
    party            TEXT,
    place            TEXT,
    start_ms         BIGINT NOT NULL,
    -- NULL: never closed.
    end_ms           BIGINT,
    closed_by        TEXT CHECK (closed_by IN ('stopped', 'terminated')),
    -- [{"name", "badge"}], as session.opened lists them (session_officers is what is searched).
    officers         TEXT NOT NULL,
    declared_sources TEXT NOT NULL,
    -- Recorded time as recgw report counts it: camera footage, else microphone footage (recorded_basis).
    recorded_ms      BIGINT NOT NULL,
    recorded_basis   TEXT CHECK (recorded_basis IN ('camera', 'microphone')),
    segments         INTEGER NOT NULL,
    interruptions    INTEGER NOT NULL,
    -- Coverage as recgw verify finds it: spans of a source without footage, and those no interruption explains.
    gaps             INTEGER NOT NULL,
    unexplained_gaps INTEGER NOT NULL,
    -- Distinct officers (by badge) over its written statements: a terminated session needs two.
    statement_badges INTEGER NOT NULL,
    -- Its segments stored after the rule's deadline, and those without a receipt at all.
    late_segments    INTEGER NOT NULL,
    unreceipted      INTEGER NOT NULL,
    PRIMARY KEY (device_id, session_id)
  );
  CREATE INDEX sessions_by_start ON sessions (start_ms, device_id, session_id);
  CREATE INDEX sessions_by_device ON sessions (device_id, start_ms, session_id);
  CREATE INDEX sessions_by_matter ON sessions (matter, start_ms, device_id, session_id);
  CREATE INDEX sessions_by_case ON sessions (case_ref, start_ms, device_id, session_id);

  -- Each officer of a session twice, under each key the desk finds them by (their 执法证号 and their name), with
  -- the session's start: one key's sessions are then one range of the primary key, already in page order, however
  -- many sessions an officer has (an OR of badge and name could not be read in order from one index).
  CREATE TABLE session_officers (
    officer     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('badge', 'name')),
    start_ms    BIGINT NOT NULL,
    device_id   TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    PRIMARY KEY (officer, start_ms, device_id, session_id)
  );
  CREATE INDEX session_officers_by_session ON session_officers (device_id, session_id);

  CREATE TABLE segments (
    device_id   TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- The session its manifest names (a session this ledger never opened stays named here).
    session_id  TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('camera', 'microphone')),
    source_seq  BIGINT NOT NULL,
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    sha256      TEXT NOT NULL,
    ledger_seq  BIGINT NOT NULL,
    sealed_ms   BIGINT NOT NULL,
    pre_event   INTEGER NOT NULL,
    explanation INTEGER NOT NULL,
    -- The agency's deadline by the rule (24 h after the end; for a vehicle, 24 h after its signed return to base),
    -- and when the receiver stored it (NULL: no receipt).
    deadline_ms BIGINT NOT NULL,
    stored_ms   BIGINT,
    PRIMARY KEY (device_id, name)
  );
  CREATE INDEX segments_by_session ON segments (device_id, session_id, source_id, start_ms);
  CREATE INDEX segments_unreceipted ON segments (deadline_ms) WHERE stored_ms IS NULL;

  -- Spans of a source without footage within a session (recgw verify's gaps), explained or not.
  CREATE TABLE gaps (
    device_id   TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    source_id   TEXT NOT NULL,
    start_ms    BIGINT NOT NULL,
    end_ms      BIGINT NOT NULL,
    explained   INTEGER NOT NULL,
    reason      TEXT,
    PRIMARY KEY (device_id, session_id, source_id, start_ms)
  );

  -- One row per interruption.started entry (ledger_seq), with what its interruption.ended added.
  CREATE TABLE interruptions (
    device_id          TEXT NOT NULL,
    ledger_seq         BIGINT NOT NULL,
    session_id         TEXT NOT NULL,
    interruption_id    TEXT NOT NULL,
    reason             TEXT NOT NULL,
    -- declared: an officer paused; detected: the gateway found it (cause, technical say what).
    origin             TEXT NOT NULL CHECK (origin IN ('detected', 'declared')),
    start_ms           BIGINT NOT NULL,
    end_ms             BIGINT,
    sources            TEXT,
    text               TEXT,
    cause              TEXT,
    technical          TEXT,
    spoken_explanation INTEGER NOT NULL,
    ended_by           TEXT,
    PRIMARY KEY (device_id, ledger_seq)
  );
  CREATE INDEX interruptions_by_session ON interruptions (device_id, session_id, start_ms);
  CREATE INDEX interruptions_by_reason ON interruptions (reason, start_ms);

  CREATE TABLE statements (
    device_id   TEXT NOT NULL,
    ledger_seq  BIGINT NOT NULL,
    session_id  TEXT NOT NULL,
    text        TEXT NOT NULL,
    officers    TEXT NOT NULL,
    made_ms     BIGINT NOT NULL,
    PRIMARY KEY (device_id, ledger_seq)
  );
  CREATE INDEX statements_by_session ON statements (device_id, session_id);

  -- Officers' PIN confirmations as the statement carries them (recgw verify checks them against the roster).
  CREATE TABLE statement_confirmations (
    device_id   TEXT NOT NULL,
    ledger_seq  BIGINT NOT NULL,
    position    INTEGER NOT NULL,
    badge       TEXT NOT NULL,
    name        TEXT NOT NULL,
    via         TEXT NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (device_id, ledger_seq, position)
  );

  -- The agency's receipts (receipts.jsonl), one per item, the earliest storedAt when repeated. late_ms is judged
  -- against the rule's deadline_ms (NULL when it cannot be: a segment without a manifest); stated_deadline_ms is
  -- what the gateway said, kept to find gateways configured beyond the rule, never used to judge.
  CREATE TABLE receipts (
    device_id          TEXT NOT NULL,
    kind               TEXT NOT NULL CHECK (kind IN ('segment', 'entries')),
    item               TEXT NOT NULL,
    segment            TEXT,
    through_seq        BIGINT,
    receiver           TEXT NOT NULL,
    stored_ms          BIGINT NOT NULL,
    stated_deadline_ms BIGINT NOT NULL,
    deadline_ms        BIGINT,
    late_ms            BIGINT,
    PRIMARY KEY (device_id, kind, item)
  );
  CREATE INDEX receipts_by_stored ON receipts (stored_ms);

  -- A vehicle's signed returns (upload.deadline_extended): returned-to-base ones move the rule's deadline.
  CREATE TABLE vehicle_returns (
    device_id    TEXT NOT NULL,
    ledger_seq   BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    away_from_ms BIGINT NOT NULL,
    returned_ms  BIGINT NOT NULL,
    PRIMARY KEY (device_id, ledger_seq)
  );

  -- What the index was last built from, and when.
  CREATE TABLE index_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
    // Substring search on party and place (the desk types part of a name): trigram indexes, which need pg_trgm
    // (shipped with PostgreSQL, trusted: a database owner may create it). SQLite scans for these.
    postgres: `
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
  CREATE INDEX sessions_party_trgm ON sessions USING gin (party gin_trgm_ops);
  CREATE INDEX sessions_place_trgm ON sessions USING gin (place gin_trgm_ops);
  `,
  },
  {
    name: 'clock and spoken explanation',
    // How each segment's clock stood (evidence-format.md §7.1), and each session's resumes nobody was heard
    // explaining (explanation.missing): the report's `clock` and `unexplained` totals.
    sql: `
  ALTER TABLE segments ADD COLUMN clock TEXT NOT NULL DEFAULT 'synced' CHECK (clock IN ('synced', 'assumed', 'unsynchronised'));
  ALTER TABLE sessions ADD COLUMN unexplained_resumes INTEGER NOT NULL DEFAULT 0;
  `,
  },
  {
    name: 'desk accounts, sessions and audit',
    // The evidence desk's accounts, sign-ins and audit (docs/desk.md): not evidence and not rebuilt from the store, so
    // no rebuild touches them. Passwords as the console hashes them (scrypt, src/util/scrypt-hash.ts); sessions by the SHA-256 of the
    // cookie's token, so whoever reads the database cannot sign in with what it holds.
    sql: `
  CREATE TABLE desk_accounts (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('evidence-officer', 'leader', 'supervisor', 'read-only')),
    password_hash TEXT NOT NULL,
    created_ms    BIGINT NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
  );

  CREATE TABLE desk_sessions (
    token_sha256 TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    created_ms   BIGINT NOT NULL,
    -- Idle expiry, moved on by use; never past created_ms + the absolute lifetime.
    expires_ms   BIGINT NOT NULL
  );
  CREATE INDEX desk_sessions_by_name ON desk_sessions (name);
  CREATE INDEX desk_sessions_by_expiry ON desk_sessions (expires_ms);

  -- Every desk action (sign-in, failed sign-in, sign-out, a verifier run, an export): who, what, when, from where.
  -- Appended only; detail is JSON text.
  CREATE TABLE desk_audit (
    id      TEXT PRIMARY KEY,
    at_ms   BIGINT NOT NULL,
    name    TEXT NOT NULL,
    action  TEXT NOT NULL,
    ip      TEXT NOT NULL,
    detail  TEXT NOT NULL
  );
  CREATE INDEX desk_audit_by_time ON desk_audit (at_ms);
  `,
  },
  {
    name: 'desk verifier runs',
    // "Verify this session" on the desk: each run of the verifier over the session's device folder, with its date and
    // who asked (docs/desk.md). Not evidence and not rebuilt: the verifier can be run again at any time.
    sql: `
  CREATE TABLE desk_verifications (
    device_id     TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    ran_ms        BIGINT NOT NULL,
    name          TEXT NOT NULL,
    ok            INTEGER NOT NULL,
    took_ms       BIGINT NOT NULL,
    finding_count INTEGER NOT NULL,
    -- JSON: the device's findings (at most 100) and the session as the verifier found it.
    result        TEXT NOT NULL,
    PRIMARY KEY (device_id, session_id, ran_ms, name)
  );
  `,
  },
  {
    name: 'alerts and their acknowledgements',
    // The alerts the gateways sent as they happened (<store>/<device>/alerts.jsonl, uplink-protocol.md §8), as recgw
    // report lists them: rebuilt from the store like every evidence table. A record repeated by several receivers is
    // one row (the earliest). And who acknowledged which alert on the desk (docs/desk.md): not evidence, not rebuilt;
    // alert_key names the alert ("alert:<device>:<seq>:<kind>", "deadline-near:<device>:<session>", ...).
    sql: `
  CREATE TABLE alerts (
    device_id    TEXT NOT NULL,
    ledger_seq   BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('interruption-started', 'interruption-ended', 'session-ended-early')),
    session_id   TEXT,
    reason       TEXT,
    origin       TEXT,
    event_ms     BIGINT NOT NULL,
    received_ms  BIGINT NOT NULL,
    -- The gateway sent it more than 30 s after the entry was written (it waited for a connection).
    late         INTEGER NOT NULL
  );
  CREATE INDEX alerts_by_device ON alerts (device_id, ledger_seq);
  CREATE INDEX alerts_by_received ON alerts (received_ms);

  CREATE TABLE desk_alert_acks (
    alert_key TEXT PRIMARY KEY,
    name      TEXT NOT NULL,
    at_ms     BIGINT NOT NULL,
    note      TEXT NOT NULL
  );
  `,
  },
  {
    name: 'desk sample checks',
    // The supervisor's sample checks (制度 §22, docs/desk.md): each draw with its period, percentage and seed (the
    // same seed over the same sessions draws the same sample), the sampled sessions with their checklist (JSON), and
    // once signed, the report's canonical JSON and its signature. Not evidence and not rebuilt.
    sql: `
  CREATE TABLE desk_samples (
    id          TEXT PRIMARY KEY,
    drawn_ms    BIGINT NOT NULL,
    name        TEXT NOT NULL,
    from_ms     BIGINT NOT NULL,
    to_ms       BIGINT NOT NULL,
    percent     INTEGER NOT NULL,
    seed        TEXT NOT NULL,
    population  INTEGER NOT NULL,
    items       TEXT NOT NULL,
    signed_ms   BIGINT,
    signed_by   TEXT,
    report      TEXT,
    signature   TEXT
  );
  `,
  },
  {
    name: 'segment positions',
    // Where the gateway was when it sealed each segment (the manifest's GPS fix: degrees, WGS 84, and the fix's time),
    // NULL without a fix: the desk draws a session's track from them (docs/desk.md). Filled by the next rebuild.
    sql: `
  ALTER TABLE segments ADD COLUMN gps_lat DOUBLE PRECISION;
  ALTER TABLE segments ADD COLUMN gps_lon DOUBLE PRECISION;
  ALTER TABLE segments ADD COLUMN gps_ms BIGINT;
  `,
  },
  {
    name: 'desk gateway status',
    // Each gateway's latest status as the desk's watch on the broker saw it (recgw/<d>/status, uplink-protocol.md §7;
    // docs/desk.md): state, since when the desk has seen it in that state, when it last heard from it, the gateway's
    // own time, and the agency-log alarms it raised (JSON). Not evidence and not rebuilt: the next status replaces it.
    sql: `
  CREATE TABLE desk_gateway_status (
    device_id  TEXT PRIMARY KEY,
    state      TEXT NOT NULL CHECK (state IN ('online', 'offline')),
    since_ms   BIGINT NOT NULL,
    seen_ms    BIGINT NOT NULL,
    at_ms      BIGINT,
    log_alarms TEXT NOT NULL
  );
  `,
  },
  {
    name: 'sessions by start with place and party',
    // A part of a place or party found in many sessions is answered by walking sessions newest first and testing
    // each (the trigram index serves the rare ones): with place and party in an index of the page order, the walk
    // reads only this index, not every session row it passes (bench/index-search: place (part) p95 403 ms at 10^6).
    sql: `
  CREATE INDEX sessions_by_start_text ON sessions (start_ms, device_id, session_id, place, party);
  `,
  },
  {
    name: 'desk audit chain',
    // The desk's audit trail made tamper-evident (docs/desk.md §5): each row numbered (seq), with the SHA-256 of the
    // row before and of its own canonical record, and its signature by the desk's agency key (base64) with that key's
    // certificate (SHA-256 of its DER; the certificates in desk_audit_signers). Rows written before have no seq.
    sql: `
  ALTER TABLE desk_audit ADD COLUMN seq BIGINT;
  ALTER TABLE desk_audit ADD COLUMN prev_sha256 TEXT;
  ALTER TABLE desk_audit ADD COLUMN sha256 TEXT;
  ALTER TABLE desk_audit ADD COLUMN signature TEXT;
  ALTER TABLE desk_audit ADD COLUMN cert_sha256 TEXT;
  CREATE UNIQUE INDEX desk_audit_by_seq ON desk_audit (seq);

  CREATE TABLE desk_audit_signers (
    cert_sha256 TEXT PRIMARY KEY,
    pem         TEXT NOT NULL
  );
  `,
  },
  {
    name: 'sqlite trigram text of place and party',
    // Part of a place or party on SQLite: without an index for substrings each such search walked all sessions
    // testing LIKE (bench/index-search at 10^6: p95 0.8-0.95 s). An FTS5 table with the trigram tokenizer (case
    // sensitive, as LIKE is here) finds the sessions holding a fragment of 3 or more characters; it stores no text
    // (contentless, deletable by rowid), keyed by the session's rowid, and the triggers keep it in step with every
    // insert, update and delete (the rebuild's included). search.ts tests LIKE on what it finds, so it only narrows.
    // PostgreSQL has the pg_trgm indexes of the first step for this.
    sql: '',
    sqlite: `
  CREATE VIRTUAL TABLE sessions_text USING fts5 (place, party, content = '', contentless_delete = 1, tokenize = 'trigram case_sensitive 1');
  INSERT INTO sessions_text (rowid, place, party) SELECT rowid, place, party FROM sessions;
  CREATE TRIGGER sessions_text_insert AFTER INSERT ON sessions BEGIN
    INSERT INTO sessions_text (rowid, place, party) VALUES (new.rowid, new.place, new.party);
  END;
  CREATE TRIGGER sessions_text_delete AFTER DELETE ON sessions BEGIN
    DELETE FROM sessions_text WHERE rowid = old.rowid;
  END;
  CREATE TRIGGER sessions_text_update AFTER UPDATE OF place, party ON sessions BEGIN
    DELETE FROM sessions_text WHERE rowid = old.rowid;
    INSERT INTO sessions_text (rowid, place, party) VALUES (new.rowid, new.place, new.party);
  END;
  `,
  },
  {
    name: 'desk viewing requests',
    // Viewing under approval (004 规定 §12, 制度 §18; docs/desk.md §6): a request names the sessions (JSON
    // ["device/session", ...]), the reason and who asks; a leader other than the requester approves it for a window
    // (valid_from_ms..valid_until_ms) with a scope ('view' or 'export'), or refuses it with a reason. Not evidence and
    // not rebuilt; every act under it is registered in desk_audit.
    sql: `
  CREATE TABLE desk_view_requests (
    id             TEXT PRIMARY KEY,
    requested_ms   BIGINT NOT NULL,
    requester      TEXT NOT NULL,
    reason         TEXT NOT NULL,
    sessions       TEXT NOT NULL,
    scope_asked    TEXT NOT NULL CHECK (scope_asked IN ('view', 'export')),
    state          TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused')),
    decided_ms     BIGINT,
    decider        TEXT,
    decision_note  TEXT,
    scope          TEXT CHECK (scope IN ('view', 'export')),
    valid_from_ms  BIGINT,
    valid_until_ms BIGINT
  );
  CREATE INDEX desk_view_requests_by_time ON desk_view_requests (requested_ms);
  `,
  },
  {
    name: 'desk retention',
    // Retention by the rules (004 规定 §10, 制度 §16; docs/desk.md §10): requests to mark sessions as evidence (with
    // the case), to release them, and to delete expired non-evidence sessions, each decided by a leader other than
    // the requester and registered in desk_audit; the evidence marks in force; the sessions whose deletion was carried
    // out (applied_ms: by `recgw retention apply`). Not evidence and not rebuilt.
    sql: `
  CREATE TABLE desk_retention_requests (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL CHECK (kind IN ('evidence', 'release', 'delete')),
    requested_ms  BIGINT NOT NULL,
    requester     TEXT NOT NULL,
    reason        TEXT NOT NULL,
    sessions      TEXT NOT NULL,
    case_ref      TEXT,
    state         TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'refused')),
    decided_ms    BIGINT,
    decider       TEXT,
    decision_note TEXT,
    applied_ms    BIGINT
  );
  CREATE INDEX desk_retention_requests_by_time ON desk_retention_requests (requested_ms);
  CREATE TABLE desk_evidence_marks (
    device_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    case_ref   TEXT NOT NULL,
    request_id TEXT NOT NULL,
    marked_ms  BIGINT NOT NULL,
    PRIMARY KEY (device_id, session_id)
  );
  CREATE TABLE desk_retention_deleted (
    device_id  TEXT NOT NULL,
    session_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    deleted_ms BIGINT NOT NULL,
    files      INTEGER NOT NULL,
    PRIMARY KEY (device_id, session_id)
  );
  `,
  },
];

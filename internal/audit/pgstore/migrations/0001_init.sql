-- pat-rotator's store on PostgreSQL. Times the caller gives (an event's time,
-- a revoke's schedule, a token's expiry) are BIGINT unix nanoseconds, exactly
-- as given (the same as sqlitestore); times the store takes itself are the
-- database's clock, timestamptz.
CREATE TABLE events (
	attempt_id      TEXT PRIMARY KEY,
	time            BIGINT NOT NULL,
	recorded_at     TIMESTAMPTZ NOT NULL,
	outcome         TEXT NOT NULL,
	use_case        TEXT NOT NULL,
	target          TEXT NOT NULL,
	actor           TEXT NOT NULL,
	tool            TEXT NOT NULL,
	new_token_id    TEXT,
	outcome_unknown BOOLEAN NOT NULL DEFAULT false,
	body            TEXT NOT NULL -- the event as JSON (TEXT: JSONB refuses \u0000)
);
CREATE INDEX events_use_case_time ON events (use_case, time);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_new_token ON events (new_token_id);
CREATE INDEX events_started ON events (use_case) WHERE outcome = 'started';

CREATE TABLE current_tokens (
	use_case   TEXT PRIMARY KEY,
	target     TEXT NOT NULL,
	token_id   TEXT NOT NULL,
	prefix     TEXT NOT NULL,
	last_four  TEXT NOT NULL,
	expires_at BIGINT,
	written_at BIGINT,
	attempt_id TEXT NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE pending_revokes (
	token_id     TEXT PRIMARY KEY,
	use_case     TEXT NOT NULL,
	target       TEXT NOT NULL,
	revoke_after BIGINT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	next_try     BIGINT NOT NULL,
	added_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX pending_revokes_next_try ON pending_revokes (next_try);

-- A released lease keeps its row (holder '') so that the term only grows.
CREATE TABLE leases (
	use_case    TEXT PRIMARY KEY,
	holder      TEXT NOT NULL,
	term        BIGINT NOT NULL,
	acquired_at TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE mutation_slots (
	key     TEXT PRIMARY KEY,
	next_at TIMESTAMPTZ NOT NULL
);

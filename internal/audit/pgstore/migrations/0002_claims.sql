-- Claims, so that one replica of several sends a notification.
CREATE TABLE claims (
	key        TEXT PRIMARY KEY,
	claimed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

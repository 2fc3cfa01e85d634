-- A claim's holder, and whether its act is done: a claim whose holder died
-- before it was done is taken over. Claims made before are done.
ALTER TABLE claims ADD COLUMN holder TEXT NOT NULL DEFAULT '';
ALTER TABLE claims ADD COLUMN done BOOLEAN NOT NULL DEFAULT true;

-- Whom each offer reaches (dispatch tiers): the areas whose available drivers see it, the call's
-- own first, and whether it reaches every available driver.
CREATE TABLE IF NOT EXISTS offer_areas (
    call_id TEXT NOT NULL,
    area    TEXT NOT NULL,
    PRIMARY KEY (call_id, area)
);
INSERT INTO offer_areas (call_id, area) SELECT call_id, area FROM catches;
ALTER TABLE catches ADD COLUMN everyone BIGINT NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS catches_by_driver ON catches (driver_id, status);

-- Every change to an offer or a catch, numbered in commit order: the API's offers feed tails it
-- (one query per tick for a whole API process, however many drivers watch).
CREATE TABLE IF NOT EXISTS catch_changes (
    id      BIGSERIAL PRIMARY KEY,
    call_id TEXT NOT NULL
);

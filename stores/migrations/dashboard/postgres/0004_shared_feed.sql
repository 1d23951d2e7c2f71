-- Every dashboard worker shares the read model's feed: each call belongs to one of a fixed number
-- of shards (a hash of its id), and each shard is held by one worker at a time under a lease that
-- worker renews. checkpoint_ms is the `TimelineAt` (ms) up to which every change of the shard's
-- calls is projected: a worker that takes the shard over goes on from there.
CREATE TABLE IF NOT EXISTS feed_shards (
    shard         BIGINT PRIMARY KEY,
    holder        TEXT NOT NULL,
    expires_at_ms BIGINT NOT NULL,
    checkpoint_ms BIGINT NOT NULL
);

-- The dashboard workers alive (each renews its row with its shards), so each knows its fair
-- share of the shards: a worker that starts is given some, one that stops leaves its to the rest.
CREATE TABLE IF NOT EXISTS feed_workers (
    holder        TEXT PRIMARY KEY,
    expires_at_ms BIGINT NOT NULL
);

-- The change of each call the feed read last (its `TimelineAt` in ms and its history's length),
-- so a worker that starts or takes a shard over reads again only the calls changed since.
ALTER TABLE calls ADD COLUMN feed_at_ms BIGINT;
ALTER TABLE calls ADD COLUMN feed_length BIGINT;

-- Chat delivery: where each request came from, the durable outbox of outgoing messages,
-- and every copy of a request's card that was posted (so each can be updated).

-- {"platform": "slack", "workspace": "T0001", "channel": "C0001"}; NULL for console and API.
ALTER TABLE requests ADD COLUMN origin jsonb;

-- One outgoing message (or card update), written in the same transaction as the change that
-- caused it and delivered by a worker. `intent` is platform-neutral; the worker renders it.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    ref             text,
    intent          jsonb NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    dead_at         timestamptz
);
-- The worker's queue: undelivered, live messages in order.
CREATE INDEX outbox_queue ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_ref_pending ON outbox (ref, id) WHERE delivered_at IS NULL AND dead_at IS NULL;

-- Every posted copy of a card: the channel (or DM channel) and the platform's message id.
CREATE TABLE chat_messages (
    id         bigserial PRIMARY KEY,
    ref        text NOT NULL,
    platform   text NOT NULL,
    workspace  text,
    channel    text NOT NULL,
    message_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (platform, channel, message_id)
);
CREATE INDEX chat_messages_ref ON chat_messages (ref);

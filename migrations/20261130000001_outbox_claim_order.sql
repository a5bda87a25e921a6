-- The worker claims the oldest pending messages first (ORDER BY id LIMIT n). The queue index is
-- ordered by next_attempt_at, so under a backlog every claim sorted all pending rows; this one
-- hands them over in id order.
CREATE INDEX outbox_pending_id ON outbox (id) WHERE delivered_at IS NULL AND dead_at IS NULL;

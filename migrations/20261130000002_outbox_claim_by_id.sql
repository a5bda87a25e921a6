-- Messages are claimed by id when their process rings for them, and otherwise by a search in id
-- order (outbox_pending_id). Nothing orders by next_attempt_at any more, and keeping this index
-- made every claim (which moves next_attempt_at) write a new entry into each of the outbox's
-- indexes instead of updating the row in place.
DROP INDEX outbox_queue;

-- Owners' digests and reminders.

-- When approvers were last reminded of a pending request (reminders repeat every remind_after).
ALTER TABLE requests ADD COLUMN last_reminded_at timestamptz;

-- One row per digest sent: the unique (team, slot_at) is what makes a scheduled slot go out
-- exactly once across any number of replicas.
CREATE TABLE digest_slots (
    id          bigserial PRIMARY KEY,
    team        text NOT NULL,
    slot_at     timestamptz NOT NULL,
    covers_from timestamptz NOT NULL,
    manual      boolean NOT NULL DEFAULT false,
    claimed_at  timestamptz NOT NULL,
    UNIQUE (team, slot_at)
);

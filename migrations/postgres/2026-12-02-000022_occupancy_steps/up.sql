-- The indicators' occupancy without reading every booking (issue 32,
-- part 6). A booking takes its places on its weekdays from its first day
-- and gives them back on `ends_before`: `place_steps` keeps, per crèche and
-- day, how the places taken change on that day for each weekday and kind
-- (held by an offer, occupied by an enrollment). The places taken on a day
-- are the sum of the steps up to it, so a period reads one sum per crèche
-- for what came before it and its own days' steps: a few thousand small
-- rows for a year, where the bookings are tens of thousands. Triggers keep
-- it in every transaction that writes a booking, whatever writes it.

CREATE TABLE place_steps (
    creche_id TEXT NOT NULL REFERENCES creches (id) ON DELETE CASCADE,
    day DATE NOT NULL,
    held_mon INTEGER NOT NULL DEFAULT 0,
    held_tue INTEGER NOT NULL DEFAULT 0,
    held_wed INTEGER NOT NULL DEFAULT 0,
    held_thu INTEGER NOT NULL DEFAULT 0,
    held_fri INTEGER NOT NULL DEFAULT 0,
    held_sat INTEGER NOT NULL DEFAULT 0,
    held_sun INTEGER NOT NULL DEFAULT 0,
    occupied_mon INTEGER NOT NULL DEFAULT 0,
    occupied_tue INTEGER NOT NULL DEFAULT 0,
    occupied_wed INTEGER NOT NULL DEFAULT 0,
    occupied_thu INTEGER NOT NULL DEFAULT 0,
    occupied_fri INTEGER NOT NULL DEFAULT 0,
    occupied_sat INTEGER NOT NULL DEFAULT 0,
    occupied_sun INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (creche_id, day)
);

-- One booking's steps, added (`direction` 1) or taken away (-1). The
-- crèche's row is locked first, as an enrollment checking the crèche's room
-- does: two transactions writing bookings of one crèche go one after the
-- other, and cannot deadlock on its steps.
CREATE FUNCTION place_steps_apply(b place_bookings, direction INTEGER) RETURNS void AS $$
BEGIN
    IF b.ends_before <= b.starts_on THEN
        RETURN;
    END IF;
    PERFORM 1 FROM creches WHERE id = b.creche_id FOR UPDATE;
    INSERT INTO place_steps AS s (creche_id, day, held_mon, held_tue, held_wed, held_thu, held_fri, held_sat, held_sun, occupied_mon, occupied_tue, occupied_wed, occupied_thu, occupied_fri, occupied_sat, occupied_sun)
    SELECT b.creche_id, step.day,
           step.sign * direction * b.places * (b.kind = 'offer')::int * ((b.days & 1) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'offer')::int * ((b.days & 2) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'offer')::int * ((b.days & 4) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'offer')::int * ((b.days & 8) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'offer')::int * ((b.days & 16) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'offer')::int * ((b.days & 32) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'offer')::int * ((b.days & 64) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'enrollment')::int * ((b.days & 1) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'enrollment')::int * ((b.days & 2) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'enrollment')::int * ((b.days & 4) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'enrollment')::int * ((b.days & 8) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'enrollment')::int * ((b.days & 16) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'enrollment')::int * ((b.days & 32) <> 0)::int,
           step.sign * direction * b.places * (b.kind = 'enrollment')::int * ((b.days & 64) <> 0)::int
    FROM (VALUES (b.starts_on, 1), (b.ends_before, -1)) AS step (day, sign)
    ORDER BY step.day
    ON CONFLICT (creche_id, day) DO UPDATE SET
        held_mon = s.held_mon + EXCLUDED.held_mon,
        held_tue = s.held_tue + EXCLUDED.held_tue,
        held_wed = s.held_wed + EXCLUDED.held_wed,
        held_thu = s.held_thu + EXCLUDED.held_thu,
        held_fri = s.held_fri + EXCLUDED.held_fri,
        held_sat = s.held_sat + EXCLUDED.held_sat,
        held_sun = s.held_sun + EXCLUDED.held_sun,
        occupied_mon = s.occupied_mon + EXCLUDED.occupied_mon,
        occupied_tue = s.occupied_tue + EXCLUDED.occupied_tue,
        occupied_wed = s.occupied_wed + EXCLUDED.occupied_wed,
        occupied_thu = s.occupied_thu + EXCLUDED.occupied_thu,
        occupied_fri = s.occupied_fri + EXCLUDED.occupied_fri,
        occupied_sat = s.occupied_sat + EXCLUDED.occupied_sat,
        occupied_sun = s.occupied_sun + EXCLUDED.occupied_sun;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION place_steps_track() RETURNS trigger AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM place_steps_apply(OLD, -1);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        PERFORM place_steps_apply(NEW, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER place_steps_track AFTER INSERT OR UPDATE OR DELETE ON place_bookings
    FOR EACH ROW EXECUTE FUNCTION place_steps_track();

-- What the bookings already written add up to.
INSERT INTO place_steps (creche_id, day, held_mon, held_tue, held_wed, held_thu, held_fri, held_sat, held_sun, occupied_mon, occupied_tue, occupied_wed, occupied_thu, occupied_fri, occupied_sat, occupied_sun)
SELECT b.creche_id, b.day,
       SUM(b.sign * b.places * (b.kind = 'offer')::int * ((b.days & 1) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'offer')::int * ((b.days & 2) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'offer')::int * ((b.days & 4) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'offer')::int * ((b.days & 8) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'offer')::int * ((b.days & 16) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'offer')::int * ((b.days & 32) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'offer')::int * ((b.days & 64) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'enrollment')::int * ((b.days & 1) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'enrollment')::int * ((b.days & 2) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'enrollment')::int * ((b.days & 4) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'enrollment')::int * ((b.days & 8) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'enrollment')::int * ((b.days & 16) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'enrollment')::int * ((b.days & 32) <> 0)::int),
       SUM(b.sign * b.places * (b.kind = 'enrollment')::int * ((b.days & 64) <> 0)::int)
FROM (
    SELECT creche_id, starts_on AS day, 1 AS sign, places, kind, days
    FROM place_bookings WHERE ends_before > starts_on
    UNION ALL
    SELECT creche_id, ends_before, -1, places, kind, days
    FROM place_bookings WHERE ends_before > starts_on
) b
GROUP BY b.creche_id, b.day;

-- The referrals still waiting for a first response, read by the
-- indicators (the clock decides whether each is late or pending): a
-- partial index of the unanswered open ones holds every column read, so
-- the read does not visit the table's rows.
CREATE INDEX referrals_waiting
    ON referrals (creche_id, status, received_at)
    INCLUDE (sla_due_at, prescriber_organization_id)
    WHERE first_response_at IS NULL AND closed_at IS NULL;

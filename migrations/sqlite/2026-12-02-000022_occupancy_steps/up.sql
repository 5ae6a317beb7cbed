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

CREATE TRIGGER place_steps_insert AFTER INSERT ON place_bookings BEGIN
    INSERT INTO place_steps (creche_id, day, held_mon, held_tue, held_wed, held_thu, held_fri, held_sat, held_sun, occupied_mon, occupied_tue, occupied_wed, occupied_thu, occupied_fri, occupied_sat, occupied_sun)
    SELECT NEW.creche_id, step.day,
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 1) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 2) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 4) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 8) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 16) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 32) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 64) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 1) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 2) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 4) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 8) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 16) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 32) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 64) != 0)
    FROM (SELECT NEW.starts_on AS day, 1 AS sign UNION ALL SELECT NEW.ends_before, -1) step
    WHERE NEW.ends_before > NEW.starts_on
    ON CONFLICT (creche_id, day) DO UPDATE SET
        held_mon = held_mon + excluded.held_mon,
        held_tue = held_tue + excluded.held_tue,
        held_wed = held_wed + excluded.held_wed,
        held_thu = held_thu + excluded.held_thu,
        held_fri = held_fri + excluded.held_fri,
        held_sat = held_sat + excluded.held_sat,
        held_sun = held_sun + excluded.held_sun,
        occupied_mon = occupied_mon + excluded.occupied_mon,
        occupied_tue = occupied_tue + excluded.occupied_tue,
        occupied_wed = occupied_wed + excluded.occupied_wed,
        occupied_thu = occupied_thu + excluded.occupied_thu,
        occupied_fri = occupied_fri + excluded.occupied_fri,
        occupied_sat = occupied_sat + excluded.occupied_sat,
        occupied_sun = occupied_sun + excluded.occupied_sun;
END;

CREATE TRIGGER place_steps_delete AFTER DELETE ON place_bookings BEGIN
    INSERT INTO place_steps (creche_id, day, held_mon, held_tue, held_wed, held_thu, held_fri, held_sat, held_sun, occupied_mon, occupied_tue, occupied_wed, occupied_thu, occupied_fri, occupied_sat, occupied_sun)
    SELECT OLD.creche_id, step.day,
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 1) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 2) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 4) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 8) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 16) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 32) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 64) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 1) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 2) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 4) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 8) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 16) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 32) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 64) != 0)
    FROM (SELECT OLD.starts_on AS day, 1 AS sign UNION ALL SELECT OLD.ends_before, -1) step
    WHERE OLD.ends_before > OLD.starts_on
    ON CONFLICT (creche_id, day) DO UPDATE SET
        held_mon = held_mon + excluded.held_mon,
        held_tue = held_tue + excluded.held_tue,
        held_wed = held_wed + excluded.held_wed,
        held_thu = held_thu + excluded.held_thu,
        held_fri = held_fri + excluded.held_fri,
        held_sat = held_sat + excluded.held_sat,
        held_sun = held_sun + excluded.held_sun,
        occupied_mon = occupied_mon + excluded.occupied_mon,
        occupied_tue = occupied_tue + excluded.occupied_tue,
        occupied_wed = occupied_wed + excluded.occupied_wed,
        occupied_thu = occupied_thu + excluded.occupied_thu,
        occupied_fri = occupied_fri + excluded.occupied_fri,
        occupied_sat = occupied_sat + excluded.occupied_sat,
        occupied_sun = occupied_sun + excluded.occupied_sun;
END;

CREATE TRIGGER place_steps_update AFTER UPDATE ON place_bookings BEGIN
    INSERT INTO place_steps (creche_id, day, held_mon, held_tue, held_wed, held_thu, held_fri, held_sat, held_sun, occupied_mon, occupied_tue, occupied_wed, occupied_thu, occupied_fri, occupied_sat, occupied_sun)
    SELECT OLD.creche_id, step.day,
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 1) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 2) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 4) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 8) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 16) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 32) != 0),
           -step.sign * OLD.places * (OLD.kind = 'offer') * ((OLD.days & 64) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 1) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 2) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 4) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 8) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 16) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 32) != 0),
           -step.sign * OLD.places * (OLD.kind = 'enrollment') * ((OLD.days & 64) != 0)
    FROM (SELECT OLD.starts_on AS day, 1 AS sign UNION ALL SELECT OLD.ends_before, -1) step
    WHERE OLD.ends_before > OLD.starts_on
    ON CONFLICT (creche_id, day) DO UPDATE SET
        held_mon = held_mon + excluded.held_mon,
        held_tue = held_tue + excluded.held_tue,
        held_wed = held_wed + excluded.held_wed,
        held_thu = held_thu + excluded.held_thu,
        held_fri = held_fri + excluded.held_fri,
        held_sat = held_sat + excluded.held_sat,
        held_sun = held_sun + excluded.held_sun,
        occupied_mon = occupied_mon + excluded.occupied_mon,
        occupied_tue = occupied_tue + excluded.occupied_tue,
        occupied_wed = occupied_wed + excluded.occupied_wed,
        occupied_thu = occupied_thu + excluded.occupied_thu,
        occupied_fri = occupied_fri + excluded.occupied_fri,
        occupied_sat = occupied_sat + excluded.occupied_sat,
        occupied_sun = occupied_sun + excluded.occupied_sun;
    INSERT INTO place_steps (creche_id, day, held_mon, held_tue, held_wed, held_thu, held_fri, held_sat, held_sun, occupied_mon, occupied_tue, occupied_wed, occupied_thu, occupied_fri, occupied_sat, occupied_sun)
    SELECT NEW.creche_id, step.day,
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 1) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 2) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 4) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 8) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 16) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 32) != 0),
           step.sign * NEW.places * (NEW.kind = 'offer') * ((NEW.days & 64) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 1) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 2) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 4) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 8) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 16) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 32) != 0),
           step.sign * NEW.places * (NEW.kind = 'enrollment') * ((NEW.days & 64) != 0)
    FROM (SELECT NEW.starts_on AS day, 1 AS sign UNION ALL SELECT NEW.ends_before, -1) step
    WHERE NEW.ends_before > NEW.starts_on
    ON CONFLICT (creche_id, day) DO UPDATE SET
        held_mon = held_mon + excluded.held_mon,
        held_tue = held_tue + excluded.held_tue,
        held_wed = held_wed + excluded.held_wed,
        held_thu = held_thu + excluded.held_thu,
        held_fri = held_fri + excluded.held_fri,
        held_sat = held_sat + excluded.held_sat,
        held_sun = held_sun + excluded.held_sun,
        occupied_mon = occupied_mon + excluded.occupied_mon,
        occupied_tue = occupied_tue + excluded.occupied_tue,
        occupied_wed = occupied_wed + excluded.occupied_wed,
        occupied_thu = occupied_thu + excluded.occupied_thu,
        occupied_fri = occupied_fri + excluded.occupied_fri,
        occupied_sat = occupied_sat + excluded.occupied_sat,
        occupied_sun = occupied_sun + excluded.occupied_sun;
END;

-- What the bookings already written add up to.
INSERT INTO place_steps (creche_id, day, held_mon, held_tue, held_wed, held_thu, held_fri, held_sat, held_sun, occupied_mon, occupied_tue, occupied_wed, occupied_thu, occupied_fri, occupied_sat, occupied_sun)
SELECT b.creche_id, b.day,
       SUM(b.sign * b.places * (b.kind = 'offer') * ((b.days & 1) != 0)),
       SUM(b.sign * b.places * (b.kind = 'offer') * ((b.days & 2) != 0)),
       SUM(b.sign * b.places * (b.kind = 'offer') * ((b.days & 4) != 0)),
       SUM(b.sign * b.places * (b.kind = 'offer') * ((b.days & 8) != 0)),
       SUM(b.sign * b.places * (b.kind = 'offer') * ((b.days & 16) != 0)),
       SUM(b.sign * b.places * (b.kind = 'offer') * ((b.days & 32) != 0)),
       SUM(b.sign * b.places * (b.kind = 'offer') * ((b.days & 64) != 0)),
       SUM(b.sign * b.places * (b.kind = 'enrollment') * ((b.days & 1) != 0)),
       SUM(b.sign * b.places * (b.kind = 'enrollment') * ((b.days & 2) != 0)),
       SUM(b.sign * b.places * (b.kind = 'enrollment') * ((b.days & 4) != 0)),
       SUM(b.sign * b.places * (b.kind = 'enrollment') * ((b.days & 8) != 0)),
       SUM(b.sign * b.places * (b.kind = 'enrollment') * ((b.days & 16) != 0)),
       SUM(b.sign * b.places * (b.kind = 'enrollment') * ((b.days & 32) != 0)),
       SUM(b.sign * b.places * (b.kind = 'enrollment') * ((b.days & 64) != 0))
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
    ON referrals (creche_id, status, received_at, sla_due_at, prescriber_organization_id)
    WHERE first_response_at IS NULL AND closed_at IS NULL;

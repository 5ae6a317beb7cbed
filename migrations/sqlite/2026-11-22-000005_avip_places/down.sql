ALTER TABLE creches ADD COLUMN avip_places INTEGER NOT NULL DEFAULT 0 CHECK (avip_places >= 0);
UPDATE creches SET avip_places = coalesce((
    SELECT avip_places FROM creche_capacity c WHERE c.creche_id = creches.id
    ORDER BY effective_from DESC LIMIT 1), 0);
DROP TABLE place_bookings;
DROP TABLE creche_capacity;

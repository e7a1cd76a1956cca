-- The orders a rider may pick, by place (delivery/persistence/readmodel.py SCHEMA): a rider's
-- list reads the band of latitude around it instead of every cooked order in the city.

CREATE INDEX order_views_waiting ON order_views (status, lat, lon)
    WHERE status = 'cooked' AND rider_id IS NULL;

-- The safety message's trigger numbers, so a running agent can send the message that `vagus checkin`
-- (another process) showed in its terminal to the person's phone or Home Assistant too (docs/safety.md).
ALTER TABLE safety_shown ADD COLUMN high_days INTEGER;
ALTER TABLE safety_shown ADD COLUMN window_days INTEGER;
-- Whether a running agent has sent it over MQTT (NULL: not yet).
ALTER TABLE safety_shown ADD COLUMN sent_utc_s REAL;

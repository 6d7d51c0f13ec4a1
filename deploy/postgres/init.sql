-- The helpdesk database is created by the image (POSTGRES_DB). Rasa's tracker store and its SQL event
-- broker each want a table called `events`, so each gets a database of its own. The compose file uses
-- RabbitMQ as the event broker; `rasa_events` stays for an installation that chooses the SQL broker
-- (endpoints.yml `event_broker: type: SQL`, HELPDESK_EVENT_BROKER=sql, RASA_EVENTS_DB_URL=.../rasa_events).
CREATE DATABASE rasa OWNER helpdesk;
CREATE DATABASE rasa_events OWNER helpdesk;

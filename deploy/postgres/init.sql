-- The helpdesk database is created by the image (POSTGRES_DB). Rasa's tracker store and its SQL event
-- broker each want a table called `events`, so each gets a database of its own.
CREATE DATABASE rasa OWNER helpdesk;
CREATE DATABASE rasa_events OWNER helpdesk;

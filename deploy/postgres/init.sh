#!/usr/bin/env bash
# Least privilege, run once by the postgres image on an empty data directory (/docker-entrypoint-initdb.d).
# Three roles, each with only what it needs:
# - the service's (HELPDESK_DB_USER) owns its database; it may read Rasa's tracker events (the daily
#   report) and delete them (privacy erasure, retention), and nothing else of Rasa's;
# - Rasa's (RASA_DB_USER) owns the tracker store and the SQL event broker's database and cannot connect
#   to the service's;
# - the superuser (POSTGRES_USER) is for administration only: no application holds its password.
# Names can be changed by environment (the tests run this against a shared server with names of their own).
set -euo pipefail

HELPDESK_DB_USER="${HELPDESK_DB_USER:-helpdesk}"
HELPDESK_DB_NAME="${HELPDESK_DB_NAME:-helpdesk}"
RASA_DB_USER="${RASA_DB_USER:-rasa}"
RASA_DB_NAME="${RASA_DB_NAME:-rasa}"
RASA_EVENTS_DB_NAME="${RASA_EVENTS_DB_NAME:-rasa_events}"
: "${HELPDESK_DB_PASSWORD:?set HELPDESK_DB_PASSWORD}"
: "${RASA_DB_PASSWORD:?set RASA_DB_PASSWORD}"

admin() { psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" "$@"; }

admin --dbname postgres \
  -v helpdesk_user="$HELPDESK_DB_USER" -v helpdesk_db="$HELPDESK_DB_NAME" \
  -v helpdesk_password="$HELPDESK_DB_PASSWORD" \
  -v rasa_user="$RASA_DB_USER" -v rasa_db="$RASA_DB_NAME" -v rasa_events_db="$RASA_EVENTS_DB_NAME" \
  -v rasa_password="$RASA_DB_PASSWORD" <<'SQL'
CREATE ROLE :"helpdesk_user" LOGIN PASSWORD :'helpdesk_password';
CREATE ROLE :"rasa_user" LOGIN PASSWORD :'rasa_password';
CREATE DATABASE :"helpdesk_db" OWNER :"helpdesk_user";
CREATE DATABASE :"rasa_db" OWNER :"rasa_user";
CREATE DATABASE :"rasa_events_db" OWNER :"rasa_user";
-- Nobody connects to a database by default: each role to its own (and the service to Rasa's to read).
REVOKE CONNECT, TEMPORARY ON DATABASE :"helpdesk_db" FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE :"rasa_db" FROM PUBLIC;
REVOKE CONNECT, TEMPORARY ON DATABASE :"rasa_events_db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"rasa_db" TO :"helpdesk_user";
GRANT CONNECT ON DATABASE :"rasa_events_db" TO :"helpdesk_user";
SQL

for database in "$RASA_DB_NAME" "$RASA_EVENTS_DB_NAME"; do
  # Rasa creates its `events` table at its first start: what it creates, the service may read and delete.
  admin --dbname "$database" -v rasa_user="$RASA_DB_USER" -v helpdesk_user="$HELPDESK_DB_USER" <<'SQL'
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO :"rasa_user";
GRANT USAGE ON SCHEMA public TO :"helpdesk_user";
ALTER DEFAULT PRIVILEGES FOR ROLE :"rasa_user" IN SCHEMA public GRANT SELECT, DELETE ON TABLES TO :"helpdesk_user";
SQL
done

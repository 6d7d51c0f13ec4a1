#!/usr/bin/env bash
# Rasa's entrypoint in docker-compose.yml: refuses to start with a placeholder or short RASA_TOKEN (the
# token of Rasa's HTTP API: trackers, bot messages, models) unless HELPDESK_DEMO is true, as
# `helpdesk serve` refuses its own; then runs `rasa` with the arguments given.
set -euo pipefail

MIN_LENGTH=32
PLACEHOLDERS=" a-long-random-string change-me change-me-too changeme secret password test "
token="${RASA_TOKEN:-}"
demo="$(printf '%s' "${HELPDESK_DEMO:-false}" | tr '[:upper:]' '[:lower:]')"
lowered="$(printf '%s' "$token" | tr '[:upper:]' '[:lower:]')"

if [[ "$demo" != "true" && "$demo" != "1" && "$demo" != "yes" ]]; then
  if [[ -z "$token" || "$PLACEHOLDERS" == *" $lowered "* || ${#token} -lt $MIN_LENGTH ]]; then
    echo "refusing to start Rasa: RASA_TOKEN is empty, a placeholder or shorter than $MIN_LENGTH characters;" >&2
    echo "set a random one (openssl rand -hex 32), the same for the service, or HELPDESK_DEMO=true to try the desk" >&2
    exit 1
  fi
fi
exec "${RASA_COMMAND:-rasa}" "$@"

FROM rasa/rasa-sdk:3.6.2
USER root
RUN pip install --no-cache-dir "httpx==0.28.1"
COPY bot/actions /app/actions
# bot/actions/redaction.py is a link to the service's module (one implementation for both).
COPY handoff_api/redaction.py /app/actions/redaction.py
USER 1001
CMD ["start", "--actions", "actions"]

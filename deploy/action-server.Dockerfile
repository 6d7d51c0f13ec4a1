FROM rasa/rasa-sdk:3.6.2
USER root
RUN pip install --no-cache-dir "httpx==0.28.1"
# The rules for customer text the service shares (standard library only).
COPY libs/helpdesk-text /tmp/helpdesk-text
RUN pip install --no-cache-dir /tmp/helpdesk-text && rm -rf /tmp/helpdesk-text
COPY bot/actions /app/actions
USER 1001
CMD ["start", "--actions", "actions"]

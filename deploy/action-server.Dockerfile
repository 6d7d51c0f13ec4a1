FROM rasa/rasa-sdk:3.6.2
USER root
RUN pip install --no-cache-dir "httpx==0.28.1"
COPY bot/actions /app/actions
USER 1001
CMD ["start", "--actions", "actions"]

FROM python:3.11-slim
WORKDIR /app
# The CPU build of torch first, so the sentence-transformers dependency does not pull a CUDA build.
RUN pip install --no-cache-dir --index-url https://download.pytorch.org/whl/cpu "torch==2.13.0"
COPY libs/helpdesk-text /tmp/helpdesk-text
RUN pip install --no-cache-dir /tmp/helpdesk-text && rm -rf /tmp/helpdesk-text
COPY pyproject.toml requirements/service.txt ./
COPY handoff_api handoff_api
COPY knowledge_base knowledge_base
RUN pip install --no-cache-dir -c service.txt .
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HELPDESK_HOST=0.0.0.0
EXPOSE 8000
CMD ["helpdesk", "serve", "--host", "0.0.0.0"]

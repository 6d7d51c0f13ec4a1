FROM rasa/rasa:3.6.21-full
USER root
# What the bot is tested with (requirements/bot.txt), where the image differs:
# - jsonschema 3.2.0 (within Rasa's range): Rasa checks every custom action's answer with
#   jsonschema.validate, which under 4.17 re-checks the schema against the 2020-12 metaschema each
#   time, about 37 ms of CPU per action here; 3.2.0 takes about 5 ms.
# - python-socketio 5.9.0: from 5.10 on, Rasa's socket.io channel with session persistence never
#   joins the session's room, and no bot or engineer message reaches the widget.
RUN pip install --no-cache-dir "jsonschema==3.2.0" "python-socketio==5.9.0" "python-engineio==4.15.1"
# The NLU's sentence model runs in ONNX Runtime (bot/nlu/sentence_embeddings.py); the model itself is
# exported by `make train` into var/nlu and mounted (docker-compose.yml).
RUN pip install --no-cache-dir "onnxruntime==1.23.2" "tokenizers==0.23.3"
# The action fallback runs the bot's handoff code inside Rasa, which masks secrets with the rules for
# customer text the service shares (standard library only).
COPY libs/helpdesk-text /tmp/helpdesk-text
RUN pip install --no-cache-dir /tmp/helpdesk-text && rm -rf /tmp/helpdesk-text
USER 1001

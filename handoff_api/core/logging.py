"""Structured JSON logs."""

import logging

import structlog

# httpx logs every request at INFO with its full URL, query string included (where Rasa's token travels):
# whatever in the process calls out with it (huggingface_hub does) stays out of the log below WARNING.
QUIET_LIBRARIES = ("httpx", "httpcore")


def configure(level: int = logging.INFO) -> None:
    logging.basicConfig(format="%(message)s", level=level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(max(level, logging.WARNING))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=True,
    )

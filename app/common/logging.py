"""Structured logging with structlog (JSON lines in production, readable lines otherwise)."""
import logging

import structlog
from flask import Flask


def configure_logging(app: Flask) -> None:
    renderer = structlog.processors.JSONRenderer() if app.config.get("ENV_NAME") == "production" else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        cache_logger_on_first_use=True,
    )

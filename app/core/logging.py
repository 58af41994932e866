"""The application log: `LOG_LEVEL`, `LOG_FORMAT=text|json`, and the request id on every line.

`RequestContextMiddleware` puts each request's id in `request_id_var`; `RequestIdFilter`, on the
one handler, copies it onto every record, whichever logger (ours, uvicorn's, a library's) made
it. Work a request hands to threads (sync routes, the hashing pool) or runs after the answer
(background tasks: mail) sees the same id, because both copy the context.

`logging_config` is a dictConfig dictionary, so `serve` can hand the same configuration to
uvicorn, which applies it in every worker before it imports the app.
"""

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from app.core.config import Settings

# "-" outside any request: start-up, shutdown, CLI commands.
request_id_var: ContextVar[str] = ContextVar("request_id", default="-")

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
# The record's own attributes, which a json line shows under its own names or not at all; any
# other attribute came from `extra=` and is kept.
# (uvicorn's `color_message` is its message again, with terminal colour codes.)
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request's id (or keeps one given in `extra`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, any
    `extra` fields, and the traceback as `exc_info` when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id_var.get()),
        }
        line.update(
            (key, value) for key, value in vars(record).items() if key not in _RECORD_FIELDS
        )
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def logging_config(settings: Settings) -> dict[str, Any]:
    """The dictConfig for `settings`: one stderr handler on the root logger, which uvicorn's
    loggers propagate to instead of keeping their own."""
    level = settings.log_level
    loggers: dict[str, Any] = {
        name: {"level": level, "handlers": [], "propagate": True}
        for name in ("uvicorn", "uvicorn.error")
    }
    # requests.log already has a line per request, written off the response path; uvicorn's
    # access line would be a second one, formatted on it (uvicorn skips it when nothing listens).
    loggers["uvicorn.access"] = {"level": level, "handlers": [], "propagate": False}
    if settings.mail_backend == "console" and logging.getLevelName(level) > logging.INFO:
        # The console backend's whole output is these INFO lines (the reset links a developer
        # needs): they show whatever LOG_LEVEL quietens.
        loggers["quill.mail"] = {"level": "INFO"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "text": {"format": TEXT_FORMAT},
            "json": {"()": JsonFormatter},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": settings.log_format,
                "filters": ["request_id"],
            }
        },
        "root": {"level": level, "handlers": ["console"]},
        "loggers": loggers,
    }


def configure_logging(settings: Settings) -> None:
    """Apply `logging_config(settings)` to this process (the CLI does, once, at start)."""
    logging.config.dictConfig(logging_config(settings))

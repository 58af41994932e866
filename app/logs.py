"""Log files written off the request path.

Request handlers only put a record on a queue; a `QueueListener` thread does the file I/O, so a
slow disk never holds up a response.
"""

import logging
import queue
import threading
import time
from logging.handlers import QueueHandler, QueueListener
from pathlib import Path

LINE_FORMAT = "[%(asctime)s] %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class FileLog:
    """A logger whose records are written to `path` by a background thread."""

    def __init__(self, name: str, path: Path) -> None:
        self.logger = logging.getLogger(name)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self._queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
        self._queue_handler = QueueHandler(self._queue)
        path.parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(path, encoding="utf-8", delay=True)
        formatter = logging.Formatter(LINE_FORMAT, DATE_FORMAT)
        formatter.converter = time.gmtime
        file_handler.setFormatter(formatter)
        self._file_handler = file_handler
        self._listener = QueueListener(self._queue, file_handler)

    def start(self) -> None:
        for handler in list(self.logger.handlers):
            if isinstance(handler, QueueHandler):
                self.logger.removeHandler(handler)
        self.logger.addHandler(self._queue_handler)
        self._listener.start()

    def stop(self) -> None:
        """Flush what is queued and close the file."""
        self._listener.stop()
        self.logger.removeHandler(self._queue_handler)
        self._file_handler.close()


_append_lock = threading.Lock()


def append_line(path: Path, text: str) -> None:
    """Append one timestamped line; called from background tasks, never on the response path."""
    stamp = time.strftime(DATE_FORMAT, time.gmtime())
    path.parent.mkdir(parents=True, exist_ok=True)
    with _append_lock, path.open("a", encoding="utf-8") as handle:
        handle.write(f"[{stamp}] {text}\n")


def log_login_attempt(path: Path, outcome: str, email: str, ip: str | None) -> None:
    # Never the password: only who tried, from where, and how it went.
    append_line(path, f"LOGIN {outcome} — Email: {email} — IP: {ip or 'unknown'}")

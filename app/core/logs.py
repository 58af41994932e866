"""Log files written off the request path.

`RequestLog` keeps requests.log: the event loop only appends a tuple to a deque, and a background
thread writes whatever has gathered a few times a second, in one write. Login attempts go through
`append_line`, called from background tasks or the job queue's worker.
"""

import logging
import threading
import time
from collections import deque
from pathlib import Path

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
# How stale requests.log may be. Short enough to tail, long enough that the writer thread wakes
# a few times a second rather than once per request.
FLUSH_SECONDS = 0.25

logger = logging.getLogger("quill.errors")


_SHORT_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(char: str) -> str:
    if char in _SHORT_ESCAPES:
        return _SHORT_ESCAPES[char]
    if char.isprintable():
        return char
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def escape(text: str) -> str:
    """`text` with backslash escapes for the backslash and every non-printable character (line
    breaks, NUL, bidi overrides, ...), so what a client sent can neither start a forged line nor
    hide part of one. Printable non-ASCII stays as it is."""
    if text.isprintable() and "\\" not in text:  # nearly every path: no per-character work
        return text
    return "".join(map(_escape_char, text))


def _stamp(moment: float) -> str:
    return time.strftime(DATE_FORMAT, time.gmtime(moment))


class RequestLog:
    """`[2025-03-03 10:30:01] POST /auth/login 200 145ms`, one line per request, written in
    batches by a background thread between `start()` and `stop()`.

    Handing every line to a waiting thread (a logging QueueHandler) woke that thread once per
    request, and on a busy core the wake-ups and the GIL hand-offs they cause cost more than a
    small request itself (`make bench`, GET /health). A deque append takes no lock and wakes
    nobody; the thread polls instead.
    """

    def __init__(self, path: Path, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.path = path
        self.flush_seconds = flush_seconds
        self._pending: deque[tuple[float, str, str, int, int]] = deque()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def record(self, method: str, path: str, status: int, duration_ms: int) -> None:
        """Note one request; called on the event loop, so it must never block."""
        if self._thread is not None:  # nothing would ever write it down otherwise
            self._pending.append((time.time(), method, path, status, duration_ms))

    def start(self) -> None:
        if self._thread is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="quill-request-log", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is pending and end the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        thread.join()
        self.flush()

    def _run(self) -> None:
        while not self._stopping.wait(self.flush_seconds):
            self.flush()

    def flush(self) -> None:
        lines: list[str] = []
        last_second, stamp = -1, ""
        while self._pending:
            moment, method, path, status, duration_ms = self._pending.popleft()
            if int(moment) != last_second:  # one strftime per second of log, not per line
                last_second, stamp = int(moment), _stamp(moment)
            lines.append(f"[{stamp}] {escape(method)} {escape(path)} {status} {duration_ms}ms\n")
        if not lines:
            return
        try:
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write("".join(lines))
        except OSError:
            # A full or read-only disk loses these lines; it must not end the thread or the app.
            logger.exception("could not write %d lines to %s", len(lines), self.path)


_append_lock = threading.Lock()


def append_line(path: Path, text: str, moment: float | None = None) -> None:
    """Append one line stamped with `moment` (default: now); called from background tasks or the
    job queue's worker, never on the response path. Whatever in `text` came from a client must
    already be `escape`d."""
    stamp = _stamp(time.time() if moment is None else moment)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _append_lock, path.open("a", encoding="utf-8") as handle:
        handle.write(f"[{stamp}] {text}\n")


def log_login_attempt(
    path: Path, outcome: str, email: str, ip: str | None, moment: float | None = None
) -> None:
    # Never the password: only who tried, from where, and how it went.
    text = f"LOGIN {outcome} — Email: {escape(email)} — IP: {escape(ip or 'unknown')}"
    append_line(path, text, moment)

"""`python -m app worker`: runs the job queue's actors (mail from the outbox, login log lines)
on dramatiq worker threads, and the outbox relay beside them.

Written here rather than run by the `dramatiq` command: the actors need the process's settings,
database and mailer (built once, from Settings, as create_app does for the API), and the relay
is ours — dramatiq has no periodic jobs, and the relay must run wherever a worker runs.
"""

import logging
import signal
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import timedelta
from types import FrameType

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.database import Database
from app.core.logs import log_login_attempt
from app.core.mail import Mailer
from app.jobs import outbox
from app.jobs.queue import LOGIN_LOG_ACTOR, MAIL_ACTOR, QUEUE, enqueue, make_broker

logger = logging.getLogger("quill.jobs")

# How often the relay looks for outbox rows nobody handed over (and prunes old failures).
RELAY_SECONDS = 2.0

Sessions = Callable[[], AbstractContextManager[Session]]


def declare_actors(
    broker: RedisBroker, *, settings: Settings, sessions: Sessions, mailer: Mailer
) -> None:
    """The actors the API's messages name, bound to this process's database and mailer."""
    min_ms = int(settings.jobs_retry_min_seconds * 1000)
    max_ms = int(settings.jobs_retry_max_seconds * 1000)
    # A failed try's row waits for the queue's retry; the relay steps in only if that is lost,
    # so after more than the longest back-off (jitter doubles it at most).
    retry_lease = timedelta(seconds=2 * settings.jobs_retry_max_seconds) + outbox.RELAY_LEASE

    def send_outbox_mail(job_id: str) -> None:
        with sessions() as session:
            claimed = outbox.claim(session, job_id)
            if claimed is None:
                logger.info("mail job %s: sent, failed or being sent already", job_id)
                return
            mail = claimed.mail
            try:
                mailer.deliver(mail.to, mail.subject, mail.body)
            except Exception:
                if claimed.attempt >= settings.jobs_max_attempts:
                    outbox.give_up(session, job_id)
                    logger.exception(
                        "mail job %s to %s failed %d times; given up",
                        job_id,
                        mail.to,
                        claimed.attempt,
                    )
                    return
                outbox.retry_later(session, job_id, relay_after=retry_lease)
                logger.warning("mail job %s to %s: try %d failed", job_id, mail.to, claimed.attempt)
                raise  # dramatiq's Retries middleware schedules the next try, with back-off
            outbox.done(session, job_id)
            logger.info("mail job %s sent to %s (%r)", job_id, mail.to, mail.subject)

    def write_login_line(outcome: str, email: str, ip: str | None, moment: float) -> None:
        log_login_attempt(settings.login_log_file, outcome, email, ip, moment)

    retries = {
        "max_retries": settings.jobs_max_attempts,
        "min_backoff": min_ms,
        "max_backoff": max_ms,
    }
    dramatiq.Actor(
        send_outbox_mail,
        broker=broker,
        actor_name=MAIL_ACTOR,
        queue_name=QUEUE,
        priority=0,
        options=retries,
    )
    dramatiq.Actor(
        write_login_line,
        broker=broker,
        actor_name=LOGIN_LOG_ACTOR,
        queue_name=QUEUE,
        priority=0,
        options=retries,
    )


def relay_once(broker: RedisBroker, sessions: Sessions) -> int:
    """Hand over the outbox rows that are due, prune old failures; how many were handed over."""
    with sessions() as session:
        due = outbox.due_for_relay(session)
        for job_id in due:
            enqueue(broker, MAIL_ACTOR, job_id, message_id=job_id)
        outbox.prune(session)
    if due:
        logger.info("relayed %d mail jobs nobody had handed over", len(due))
    return len(due)


def run(settings: Settings, *, threads: int, stop: threading.Event | None = None) -> int:
    """Work until SIGTERM or SIGINT (or `stop` is set): the actors on `threads` threads, the relay
    every RELAY_SECONDS. In-flight jobs finish before it returns."""
    stop = stop or threading.Event()
    database = Database.from_settings(settings)
    broker = make_broker(settings)
    declare_actors(broker, settings=settings, sessions=database.sessions, mailer=Mailer(settings))
    worker = dramatiq.Worker(broker, worker_threads=threads)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("signal %d: stopping after the jobs in progress", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    worker.start()
    logger.info("worker started: %d threads, queue %r in %r", threads, QUEUE, broker.namespace)
    try:
        while True:
            try:
                relay_once(broker, database.sessions)
            except Exception:
                # A database or Redis outage: the next pass tries again.
                logger.exception("outbox relay pass failed")
            if stop.wait(RELAY_SECONDS):
                break
    finally:
        worker.stop()
        broker.close()
        database.dispose()
    return 0

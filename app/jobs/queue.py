"""The job queue on Redis, and what hands work to it (`QueueJobs`) or runs it in-process
(`InlineJobs`), as JOBS_BACKEND says.

The library is dramatiq (Redis broker). Why it over arq, saq and taskiq: those are asyncio-first
— arq runs only coroutines and is in maintenance mode, saq and taskiq run sync functions by
wrapping them — while our mailer, database sessions and services are synchronous, and half of
the routes that enqueue are sync too. dramatiq's actors are plain functions run on worker threads
and `enqueue` is a sync call, so nothing here needs an event loop. It brings what we need rather
than us writing it: retries with exponential back-off and jitter (the Retries middleware),
at-least-once delivery (a message is acknowledged after its actor returns; one held by a worker
that died is given back once its heartbeat stops), delayed messages, and a key namespace, so two
deployments or test runs share a Redis. It is actively maintained (2.x) and typed. rq would fit
sync code as well, but forks a process per job by default and does its back-off through a
separate scheduler.

What dramatiq cannot give is exactly-once mail for a committed action: that is the outbox's
(app/jobs/outbox.py), and why a mail message carries only its outbox row's id.
"""

import logging
import time
import uuid
from typing import Any, Protocol

import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker
from fastapi import BackgroundTasks
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.logs import log_login_attempt
from app.core.mail import Mailer
from app.jobs import outbox
from app.jobs.outbox import Mail

logger = logging.getLogger("quill.jobs")

QUEUE = "quill"
MAIL_ACTOR = "send_outbox_mail"
LOGIN_LOG_ACTOR = "log_login_attempt"
# A Redis that is down must cost the hand-over (after the response) a moment, not a hang.
REDIS_TIMEOUT_SECONDS = 5


def make_broker(settings: Settings) -> RedisBroker:
    """A broker on REDIS_URL under JOBS_NAMESPACE; it connects at its first command."""
    if not settings.redis_url:
        raise RuntimeError("the job queue needs REDIS_URL")
    client = redis.Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
    )
    # dramatiq types its API but not this constructor.
    return RedisBroker(client=client, namespace=settings.jobs_namespace)  # type: ignore[no-untyped-call]


def enqueue(
    broker: RedisBroker, actor_name: str, *args: Any, message_id: str | None = None
) -> None:
    """Put one message on the queue; raises redis.RedisError when Redis cannot take it."""
    message: Message[Any] = Message(
        queue_name=QUEUE,
        actor_name=actor_name,
        args=args,
        kwargs={},
        options={},
        message_id=message_id or str(uuid.uuid4()),
    )
    broker.enqueue(message)


class Jobs(Protocol):
    """Where mail and login-log lines go once the request's transaction commits."""

    def mail(self, session: Session, background: BackgroundTasks, mail: Mail) -> None:
        """Send `mail` if and once `session`'s transaction commits (the caller commits)."""

    def login_attempt(
        self, background: BackgroundTasks, outcome: str, email: str, ip: str | None
    ) -> None:
        """Write the login log line after the response."""


class InlineJobs:
    """JOBS_BACKEND=inline: the answering process does it, after the response (BackgroundTasks).
    A process that dies before then loses it."""

    def __init__(self, settings: Settings, mailer: Mailer) -> None:
        self._settings = settings
        self._mailer = mailer

    def mail(self, session: Session, background: BackgroundTasks, mail: Mail) -> None:
        # Background tasks run only after a successful answer, so after the commit.
        background.add_task(self._mailer.send, mail.to, mail.subject, mail.body)

    def login_attempt(
        self, background: BackgroundTasks, outcome: str, email: str, ip: str | None
    ) -> None:
        background.add_task(log_login_attempt, self._settings.login_log_file, outcome, email, ip)


class QueueJobs:
    """JOBS_BACKEND=redis: mail goes to the outbox in the request's transaction and is handed to
    the queue after the response; the login log line goes to the queue, so every API process's
    lines are written where the worker runs."""

    def __init__(self, settings: Settings, broker: RedisBroker | None = None) -> None:
        self._settings = settings
        self.broker = broker or make_broker(settings)

    def mail(self, session: Session, background: BackgroundTasks, mail: Mail) -> None:
        job_id = outbox.record(session, mail)
        background.add_task(self.hand_over, job_id)

    def hand_over(self, job_id: str) -> None:
        """Enqueue one committed outbox row; failing that, the worker's relay will."""
        try:
            enqueue(self.broker, MAIL_ACTOR, job_id, message_id=job_id)
        except redis.RedisError as exc:
            logger.warning("mail job %s left to the relay: %s", job_id, exc)

    def login_attempt(
        self, background: BackgroundTasks, outcome: str, email: str, ip: str | None
    ) -> None:
        background.add_task(self._log_login, outcome, email, ip, time.time())

    def _log_login(self, outcome: str, email: str, ip: str | None, moment: float) -> None:
        try:
            enqueue(self.broker, LOGIN_LOG_ACTOR, outcome, email, ip, moment)
        except redis.RedisError as exc:
            # The line matters more than where it is written: keep it in this process's file.
            logger.warning("login log line written locally, the queue is unreachable: %s", exc)
            log_login_attempt(self._settings.login_log_file, outcome, email, ip, moment)


def jobs_for(settings: Settings, mailer: Mailer) -> Jobs:
    """The Jobs JOBS_BACKEND names."""
    if settings.jobs_backend == "redis":
        return QueueJobs(settings)
    return InlineJobs(settings, mailer)

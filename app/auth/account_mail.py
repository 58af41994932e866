"""The mail that follows each account event (app/users/hooks.py): which text, which link, to
which address. Handed to the app's `Jobs` (app/jobs/queue.py) with the request's session: inline,
it goes out after the response, so a slow or failing mail server never shows in the answer; with
the job queue, it is recorded in the action's transaction and a worker sends it, even if this
process dies right after answering."""

from fastapi import BackgroundTasks
from sqlalchemy.orm import Session

from app.auth.links import verification_token_for
from app.core.mail import Mailer
from app.jobs.outbox import Mail
from app.jobs.queue import Jobs
from app.users import mails
from app.users.models import User

RESET_PATH = "/reset-password"
VERIFY_PATH = "/verify-email"


class AccountMail:
    """`AccountHooks` that mail the account's owner through the app's `jobs`, in the request's
    `session`; links point into the frontend (`mailer.link`), verification links are signed with
    `signing_key` (the app's settings)."""

    def __init__(
        self,
        background: BackgroundTasks,
        session: Session,
        *,
        jobs: Jobs,
        mailer: Mailer,
        signing_key: str,
    ) -> None:
        self._background = background
        self._session = session
        self._jobs = jobs
        self._mailer = mailer
        self._signing_key = signing_key

    def on_after_register(self, user: User) -> None:
        self._send(user.email, mails.welcome_message(user.name))

    def on_after_email_change(self, user: User, *, old_email: str) -> None:
        # The old address hears of it (a hijacked account is noticed); the new one must prove
        # it is reachable before it counts as verified.
        self._send(old_email, mails.email_changed_message(user.name, user.email))
        token = verification_token_for(user, key=self._signing_key)
        self.on_after_request_verify(user, token=token)

    def on_after_forgot_password(self, user: User, *, token: str) -> None:
        link = self._mailer.link(RESET_PATH, token)
        self._send(user.email, mails.password_reset_message(user.name, link))

    def on_after_request_verify(self, user: User, *, token: str) -> None:
        link = self._mailer.link(VERIFY_PATH, token)
        self._send(user.email, mails.verification_message(user.name, link))

    def _send(self, to: str, message: tuple[str, str]) -> None:
        subject, body = message
        self._jobs.mail(self._session, self._background, Mail(to, subject, body))

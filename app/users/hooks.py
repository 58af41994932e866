"""What account services report as it happens, for whoever must act on it (mail, today).

Services take an `AccountHooks` and call it once the change is made, in the manner of
fastapi-users' `on_after_register`, but *inside* the change's transaction, then commit: so an
implementation can record what must follow in that same transaction (the job outbox,
app/jobs/outbox.py) and the mail exists exactly when the change does. Implementations act only
after the commit (after the response); the router hands one over (app/auth/account_mail.py).
A protocol, so the services need not import what sends mail, and tests or the CLI can pass
something that records or does nothing.
"""

from typing import Protocol

from app.users.models import User


class AccountHooks(Protocol):
    def on_after_register(self, user: User) -> None:
        """A new account is about to be committed."""

    def on_after_email_change(self, user: User, *, old_email: str) -> None:
        """`user.email` was changed from `old_email` (and is unverified); not yet committed."""

    def on_after_forgot_password(self, user: User, *, token: str) -> None:
        """A password reset was asked for and allowed; `token` is its one-off reset token."""

    def on_after_request_verify(self, user: User, *, token: str) -> None:
        """A verification link was asked for and allowed; `token` is its one-off token."""

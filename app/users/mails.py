"""The texts of the account mails: what each says, as (subject, body). Sending them is
app/auth/account_mail.py's job."""


def welcome_message(name: str) -> tuple[str, str]:
    subject = "Welcome to Quill"
    body = f"Hi {name},\n\nYour Quill account is ready. Happy writing!\n\n— The Quill team\n"
    return subject, body


def password_reset_message(name: str, link: str) -> tuple[str, str]:
    subject = "Reset your Quill password"
    body = (
        f"Hi {name},\n\n"
        "Someone asked to reset the password of your Quill account. To choose a new one, open:\n\n"
        f"{link}\n\n"
        "The link works once and expires in 30 minutes. If you did not ask for this, ignore "
        "this mail: your password stays as it is.\n\n"
        "— The Quill team\n"
    )
    return subject, body


def verification_message(name: str, link: str) -> tuple[str, str]:
    subject = "Confirm your email address for Quill"
    body = (
        f"Hi {name},\n\n"
        "Please confirm that this is your email address by opening:\n\n"
        f"{link}\n\n"
        "If you did not ask for this, you can ignore this mail.\n\n"
        "— The Quill team\n"
    )
    return subject, body


def email_changed_message(name: str, new_email: str) -> tuple[str, str]:
    """The notice to the old address: if the change was not its owner's, they learn of it."""
    subject = "The email address of your Quill account was changed"
    body = (
        f"Hi {name},\n\n"
        f"The email address of your Quill account was just changed to {new_email}. Mail about "
        "the account, password resets included, now goes there.\n\n"
        "If you did not make this change, someone else has access to your account: contact us "
        "right away by replying to this mail.\n\n"
        "— The Quill team\n"
    )
    return subject, body

"""Password hashing parameters: the suite hashes cheaply (see conftest), production must not."""

from passlib.context import CryptContext

from app.core import security

PASSWORD = "a-password-to-hash"


def test_production_hashes_with_argon2id_at_owasp_minimum(
    production_pwd_context: CryptContext,
) -> None:
    hashed = production_pwd_context.hash(PASSWORD)
    # 19 MiB, 2 iterations, 1 lane.
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert production_pwd_context.verify(PASSWORD, hashed)
    # The suite's cheap hashes are not what production writes, and it would upgrade one.
    cheap = security.pwd_context.hash(PASSWORD)
    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert production_pwd_context.needs_update(cheap)

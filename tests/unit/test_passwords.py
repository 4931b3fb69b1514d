import pytest

from podgate.services import passwords


def test_hash_is_argon2id_salted_and_verifies():
    h1 = passwords.hash_password("correct horse battery")
    h2 = passwords.hash_password("correct horse battery")
    # parameters are recorded in the hash, so they can be raised later (needs_rehash)
    assert h1.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert h1 != h2  # salted
    assert passwords.verify_password(h1, "correct horse battery")
    assert not passwords.verify_password(h1, "correct horse batterY")
    assert not passwords.needs_rehash(h1)


def test_unknown_user_verification_fails_without_error():
    assert passwords.verify_password(None, "anything at all") is False


def test_garbage_hash_does_not_verify():
    assert passwords.verify_password("not-a-hash", "whatever") is False


@pytest.mark.parametrize("pw,ok", [("short", False), ("x" * 11, False), ("x" * 12, True), ("x" * 1025, False)])
def test_password_policy(pw, ok):
    if ok:
        passwords.check_policy(pw)
    else:
        with pytest.raises(ValueError):
            passwords.check_policy(pw)

import pytest


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is not what these tests prove; MemberFactory hashes one
    # password per member.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def owner(aiko):
    """aiko, who owns the communities a test makes."""
    return aiko

import pytest

from accounts import actions


@pytest.fixture
def invite(db):
    """Create an invitation through the real action; returns (invitation, token)."""

    def make(inviter=None, note=""):
        return actions.create_invitation(inviter=inviter, note=note)

    return make


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # Hashing strength is Django's concern, not what these tests prove; a fast
    # hasher keeps tests that create dozens of members quick.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

import pytest
from django.conf import settings

from accounts.actions import make_friends
from accounts.models import Block
from tests.conftest import MemberFactory

# Who looks, relative to the owner of a thing.
VIEWERS = ("owner", "friend", "fof", "other", "blocked", "blocker")


@pytest.fixture(autouse=True)
def _fast_password_hashing(request, settings):
    # Hashing strength is Django's concern, not what these tests prove. A
    # browser test logs in to a server with the real hashers.
    if request.node.get_closest_marker("browser") is None:
        settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db):
    """The owner and one viewer of each kind: a friend, a friend of that friend,
    a member who knows nobody, and two friends of the friend of whom the owner
    blocked one and the other blocked the owner."""
    people = {name: MemberFactory(nickname=name) for name in VIEWERS}
    make_friends(people["owner"], people["friend"])
    make_friends(people["friend"], people["fof"])
    for name in ("blocked", "blocker"):
        make_friends(people["friend"], people[name])
    Block.objects.create(blocker=people["owner"], blocked=people["blocked"])
    Block.objects.create(blocker=people["blocker"], blocked=people["owner"])
    return people


def media_files() -> set[str]:
    """Every file under MEDIA_ROOT (a fresh directory per test)."""
    root = settings.MEDIA_ROOT
    if not root.exists():
        return set()
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}

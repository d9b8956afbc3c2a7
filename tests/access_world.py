"""The world of the access-control matrix (tests/test_access_matrix.py): one
owner with one of each thing that has an audience, and a viewer of each kind.

- owner (aiko) writes a diary entry (with a photo, and a comment by her
  friend), keeps an album with one captioned photo, has an avatar, a
  self-introduction and a friend list (kenji is on it and nowhere else; jun
  is her friend and ben's: a friend the two have in common);
- friend (ben), her friend; fof (eri), ben's friend only;
- other (fumi), who knows nobody;
- blocked (gen), ben's friend whom aiko blocked; blocker (hana), ben's
  friend who blocked aiko;
- anonymous, nobody logged in.

Every audience of the owner's (the entry, the album, the self-introduction
and the friend list) is the one the world is built for. Each marker below is
the text (or file) only that thing shows, so "seen" is read from what the
answer carries, not from its status alone.
"""

from dataclasses import dataclass

from django.core.files.base import ContentFile

from accounts.actions import make_friends
from accounts.models import Block, Member
from diary.models import Comment, Entry
from photos import actions as photo_actions
from photos.models import Album, Photo
from tests.conftest import MemberFactory
from tests.photos.files import jpeg, upload

# Who looks, relative to the owner of the things (anonymous: no session).
VIEWERS = ("owner", "friend", "fof", "other", "blocked", "blocker", "anonymous")
NICKNAMES = {
    "owner": "aiko",
    "friend": "ben",
    "fof": "eri",
    "other": "fumi",
    "blocked": "gen",
    "blocker": "hana",
}
# The owner's friend whom only her friend list shows.
LISTED_FRIEND = "kenji"
# A friend of the owner and of her friend (in common to the two of them).
COMMON_FRIEND = "jun"

ENTRY_TITLE = "Matrix entry title"
ENTRY_BODY = "Matrix entry body text"
COMMENT_BODY = "Matrix comment by the friend"
ALBUM_TITLE = "Matrix album title"
CAPTION = "Matrix album photo caption"
INTRODUCTION = "Matrix self-introduction text"
AVATAR = jpeg((24, 24), (200, 30, 30))


@dataclass
class World:
    audience: str
    people: dict[str, Member]
    entry: Entry
    comment: Comment
    album: Album | None
    album_photo: Photo | None
    entry_photo: Photo | None

    @property
    def owner(self) -> Member:
        return self.people["owner"]

    def ids(self) -> dict[str, object]:
        """What a URL's parameters are filled from."""
        found = {
            "nickname": self.owner.nickname,
            "entry": self.entry.pk,
            "comment": self.comment.pk,
        }
        if self.album is not None:
            found.update(
                album=self.album.pk,
                album_photo=self.album_photo.pk,
                entry_photo=self.entry_photo.pk,
            )
        return found


def build_world(audience: str, *, photos: bool = True, capture=None) -> World:
    """The world with every audience set to `audience`. Photos are stored
    through photos.actions.add_photos, whose files are written when the
    transaction commits: `capture` (django_capture_on_commit_callbacks) runs
    those callbacks inside a test's transaction."""
    people = {role: MemberFactory(nickname=name) for role, name in NICKNAMES.items()}
    owner = people["owner"]
    make_friends(owner, people["friend"])
    make_friends(owner, MemberFactory(nickname=LISTED_FRIEND))
    common = MemberFactory(nickname=COMMON_FRIEND)
    make_friends(owner, common)
    make_friends(people["friend"], common)
    for role in ("fof", "blocked", "blocker"):
        make_friends(people["friend"], people[role])
    Block.objects.create(blocker=owner, blocked=people["blocked"])
    Block.objects.create(blocker=people["blocker"], blocked=owner)

    owner.introduction = INTRODUCTION
    owner.introduction_audience = audience
    owner.friends_audience = audience
    owner.avatar.save("avatar.jpg", ContentFile(AVATAR), save=False)
    owner.save()

    entry = Entry.objects.create(
        author=owner, title=ENTRY_TITLE, body=ENTRY_BODY, audience=audience
    )
    comment = Comment.objects.create(
        entry=entry, author=people["friend"], body=COMMENT_BODY
    )
    album = album_photo = entry_photo = None
    if photos:
        album = Album.objects.create(owner=owner, title=ALBUM_TITLE, audience=audience)
        with capture(execute=True):
            (album_photo,) = photo_actions.add_photos(
                owner, [upload("album.jpg", jpeg())], album=album, caption=CAPTION
            )
            (entry_photo,) = photo_actions.add_photos(
                owner, [upload("entry.jpg", jpeg((40, 60)))], entry=entry
            )
    return World(audience, people, entry, comment, album, album_photo, entry_photo)

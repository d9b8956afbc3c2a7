"""Helpers shared by the communities tests.

Communities and topics are made through the real actions, so member counts,
owner memberships and activity times are what the app itself would write.
Memberships in a given state (pending, invited, banned) can also be put in place
directly: there is no ban action yet, and a policy may change after a request or
an invitation was made, so every state can meet every policy.
"""

import io
import itertools
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import F
from PIL import Image

from communities import actions
from communities.models import Community, Membership, Topic

_names = itertools.count(1)


def make_community(
    owner,
    *,
    name: str | None = None,
    join_policy: str = "open",
    topic_policy: str = "members",
    category: str = "other",
    description: str = "",
    icon=None,
) -> Community:
    return actions.create_community(
        owner=owner,
        name=name or f"Community {next(_names)}",
        description=description,
        category=category,
        join_policy=join_policy,
        topic_policy=topic_policy,
        icon=icon,
    )


def put(community, member, *, status="active", role="member") -> Membership:
    """`member` in `community` with this status and role, counted if active."""
    membership = Membership.objects.create(
        community=community, member=member, status=status, role=role
    )
    if status == Membership.Status.ACTIVE:
        Community.objects.filter(pk=community.pk).update(
            member_count=F("member_count") + 1
        )
    return membership


def start_topic(community, author, *, title="First topic", body="Hello!") -> Topic:
    membership = Membership.objects.get(community=community, member=author)
    return actions.start_topic(
        author=author,
        community=community,
        membership=membership,
        title=title,
        body=body,
        client_id=uuid.uuid4().hex,
    )


def png_bytes(size=(300, 200), color=(30, 120, 200), *, gps=True) -> bytes:
    """A real PNG carrying EXIF (camera model and a GPS position) when `gps`."""
    image = Image.new("RGB", size, color)
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[0x0110] = "Secret Camera"  # Model
        exif.get_ifd(0x8825).update({1: "N", 2: (35.0, 39.0, 29.0)})  # GPSInfo
        image.save(out, format="PNG", exif=exif)
    else:
        image.save(out, format="PNG")
    return out.getvalue()


def png_upload(name="icon.png", **kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(**kwargs), "image/png")


def fake_image_upload() -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "icon.png", b"<?php echo 'not an image'; ?>" * 20, "image/png"
    )

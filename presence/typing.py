"""Typing in a topic: "aiko is typing…" on the pages of the others there.

The page sends a `typing` frame on its socket at most every TYPING_EVERY
seconds while its composer holds text (static/js/presence.js), and shows
each notice for 5 s unless a new one comes. The consumer checks the rate too
(a frame sooner than that from the same socket is dropped) and that the
topic is one of the socket's own streams, which were authorized as the page
was: only members who may read the topic send or see a notice.

Nothing is stored. The notice is rendered once per language and sent to the
pages showing the topic's list (chat/broadcast.here_group) with the typist as
its author, so the hub (chat/hub.py) drops
it for every socket whose member blocked, or is blocked by, the typist. A
member who hides their presence sends none: a notice would say they are here.
"""

from time import monotonic

from chat import broadcast, fragments
from presence.here import Visitor

TYPING_EVERY = 3.0  # seconds between two notices from one socket


def typing_frames(topic_id: int, member_id: int, nickname: str) -> dict[str, str]:
    return fragments.render_per_language(
        "typing-frame",
        {"topic_id": topic_id, "member_id": member_id, "nickname": nickname},
    )


async def typed(visitor: Visitor | None, topic_id: int) -> bool:
    """The socket's member is typing in the topic (one of its streams):
    tell the others there, unless this socket told them less than
    TYPING_EVERY ago or its member hides their presence. True if sent."""
    if visitor is None or not visitor.shown or topic_id not in visitor.topic_ids:
        return False
    now = monotonic()
    if now - visitor.typed_at < TYPING_EVERY:
        return False
    visitor.typed_at = now
    await broadcast.asend_here_frames(
        topic_id,
        typing_frames(topic_id, visitor.member_id, visitor.nickname),
        author_ids=(visitor.member_id,),
    )
    return True

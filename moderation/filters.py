"""Placeholder interface (the filters part of the moderation work fills it):
chat's send path calls check_message before saving a message."""

HOLD = "hold"


def check_message(community, author, body: str) -> str | None:
    """None when the message may be posted; HOLD when a word filter holds it
    for review; raises communities.access.NotAllowed (with a clear reason)
    when a filter refuses it or the member may not post links yet."""
    return None

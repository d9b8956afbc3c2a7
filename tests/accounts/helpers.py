import re

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts import nicknames

JOIN_LINK = re.compile(r"/join/([A-Za-z0-9_-]+)/")


def token_from(text: str) -> str:
    """The token of the one /join/<token>/ link in `text`."""
    tokens = set(JOIN_LINK.findall(text))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def logged_in_member_id(client: Client) -> int | None:
    value = client.session.get("_auth_user_id")
    return int(value) if value is not None else None


def refusal_code(value: str) -> str:
    """The code of the ValidationError the nickname rules raise for `value`."""
    with pytest.raises(ValidationError) as info:
        nicknames.validate_nickname(value)
    return info.value.code

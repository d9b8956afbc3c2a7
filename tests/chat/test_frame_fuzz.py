"""Whatever a client sends, the socket answers it and stays open.

Clients send only pings (docs/live-protocol.md); every other frame gets an
error frame. This throws hostile frames at one socket through the real
application: deep nesting, huge and special numbers, broken and odd Unicode,
binary, control characters, sizes around the limit, and a few hundred random
ones from a fixed seed, then checks the socket still pings and still gets its
member's events.
"""

import json
import random

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings

from chat import broadcast
from chat.consumers import MAX_CLIENT_FRAME
from project.asgi import application
from tests.conftest import client_for

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("live_layer"),
]

SEED = 20261130
RANDOM_FRAMES = 300


def nested(depth: int, open_: str, close: str) -> str:
    return open_ * depth + close * depth


def hostile_frames() -> list[dict]:
    """Frames as the ASGI server hands them over: "text" or "bytes"."""
    texts = [
        "",
        " ",
        "null",
        "0",
        '"ping"',
        "[]",
        "{}",
        '{"type": null}',
        '{"type": ["ping"]}',
        '{"type": {"type": "ping"}}',
        '{"type": 1e999}',
        '{"type": NaN}',
        '{"type": -Infinity}',
        '{"type": "ping", "n": ' + "9" * 4000 + "}",
        "9" * 4096,
        "-" + "9" * 4095,
        "1e" + "9" * 4000,
        '{"type": "\\ud800"}',
        '{"type": "\\udfff\\ud800"}',
        '"\\ud800"',
        '{"type": "ping\\u0000"}',
        '{"\\u0000": "ping"}',
        "\x00",
        "\x00" * MAX_CLIENT_FRAME,
        "\x1b[31m",
        "\ufeff{}",
        "\ufeff" + json.dumps({"type": "ping"})[:-1],
        "\u202e{}",
        '{"type": "ping"',
        '{"type": "ping"}}',
        "{'type': 'ping'}",
        '{"type": "PING"}',
        '{"type": "ping ", "x": 1}',
        '{"type": "subscribe", "topic": "1 OR 1=1"}',
        '{"type": "<script>alert(1)</script>"}',
        '{"__proto__": {"type": "ping"}}',
        nested(2048, "[", "]"),
        nested(2048, "{", "}"),
        nested(1365, '{"a":', "}")[:MAX_CLIENT_FRAME],
        '{"a":' * 800 + "1" + "}" * 800,
        "[" * MAX_CLIENT_FRAME,
        "{" * MAX_CLIENT_FRAME,
        '"' + "\\" * 4000 + '"',
        "x" * (MAX_CLIENT_FRAME + 1),
        "縁" * (MAX_CLIENT_FRAME + 1),
        "😀" * MAX_CLIENT_FRAME,
    ]
    frames = [{"text": text} for text in texts]
    frames += [
        {"bytes": b""},
        {"bytes": b"\xff\xfe\xfd"},
        {"bytes": b"\xc3\x28"},
        {"bytes": b"\xed\xa0\x80"},
        {"bytes": json.dumps({"type": "ping"}).encode()},
        {"bytes": b"\x00" * 10_000},
    ]
    rng = random.Random(SEED)
    alphabet = '{}[]",:0123456789.eE-+ \\u"typeingnul\x00\x7f縁\ud800'
    for _ in range(RANDOM_FRAMES):
        kind = rng.random()
        size = rng.choice([1, 2, 7, 64, 512, MAX_CLIENT_FRAME, MAX_CLIENT_FRAME + 1])
        if kind < 0.6:
            frames.append({"text": "".join(rng.choice(alphabet) for _ in range(size))})
        elif kind < 0.8:
            frames.append({"bytes": rng.randbytes(size)})
        else:
            depth = rng.randint(1, MAX_CLIENT_FRAME // 2)
            frames.append({"text": nested(depth, "[", "]")})
    return frames


def is_pong(frame: str) -> bool:
    return frame == '<template id="live-pong"></template>'


def error_code(frame: str) -> str | None:
    if 'id="live-error"' not in frame:
        return None
    return frame.split('data-code="', 1)[1].split('"', 1)[0]


async def test_every_hostile_frame_gets_one_answer_and_the_socket_stays_open(
    member,
):
    client = await database_sync_to_async(client_for)(member)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies['sessionid'].value}"
    socket = WebsocketCommunicator(
        application,
        "/ws/live/",
        headers=[
            (b"host", b"127.0.0.1"),
            (b"origin", b"http://127.0.0.1"),
            (b"cookie", cookie.encode()),
        ],
    )
    connected, _ = await socket.connect()
    assert connected
    frames = hostile_frames()
    answers = {"pong": 0, "bad_frame": 0, "bad_json": 0, "unknown_type": 0}
    try:
        for frame in frames:
            # send_input, not send_to: the latter refuses empty frames.
            await socket.send_input({"type": "websocket.receive", **frame})
            output = await socket.receive_output(timeout=3)
            assert output["type"] == "websocket.send", (frame, output)
            answer = output["text"]
            kind = "pong" if is_pong(answer) else error_code(answer)
            assert kind in answers, (frame, answer)
            answers[kind] += 1

        # Still open, still answering, still pushed to.
        await socket.send_json_to({"type": "ping"})
        assert is_pong(await socket.receive_from())
        await broadcast.asend_html_to_member(member.pk, '<p id="after">ok</p>')
        assert await socket.receive_from() == '<p id="after">ok</p>'
        assert await socket.receive_nothing(timeout=0.2)
    finally:
        await socket.disconnect()

    print(f"{len(frames)} hostile frames: {answers}")
    assert sum(answers.values()) == len(frames) >= RANDOM_FRAMES + 50
    # The fixed frames hit every kind of refusal, and the pings among them
    # (with extra fields, or padded to the limit) are still answered.
    assert all(answers[kind] for kind in ("bad_frame", "bad_json", "unknown_type"))
    assert answers["pong"] >= 1

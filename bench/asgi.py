"""The app as `make bench` serves it: the project's ASGI application, plus
one socket of the bench's own for its fan-out runs.

`/ws/bench/publish/?topic=<id>&author=<member id>` stands where another
process's post would be: each text frame it receives is published as is to
the topic's English group through chat/broadcast.py (the real layer: Redis
pub/sub, or the in-memory layer of the embedded default), then acknowledged
with "ok". The listeners receive it through the process's hub exactly as
they receive a saved message's fragment. It measures the live path after a
message is saved, at rates no single server's POST path could offer (the
posts cost ~13 ms of the server's core each: README, "Performance"), the way
bench/baseline_server.py's control socket drives the bare server.

Never part of the app: only bench/run.py starts a server on this module, on
loopback, with the bench's own database.
"""

import os
from urllib.parse import parse_qs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

from chat import broadcast  # noqa: E402
from project.asgi import application as project_application  # noqa: E402

PUBLISH_PATH = "/ws/bench/publish/"


async def publisher(scope, receive, send) -> None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    topic_id = int(query["topic"][0])
    author_ids = [int(query["author"][0])] if "author" in query else []
    while True:
        event = await receive()
        if event["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif event["type"] == "websocket.receive":
            await broadcast.asend_topic_frames(
                topic_id, {"en": event["text"]}, author_ids=author_ids
            )
            await send({"type": "websocket.send", "text": "ok"})
        elif event["type"] == "websocket.disconnect":
            return


async def application(scope, receive, send):
    if scope["type"] == "websocket" and scope["path"] == PUBLISH_PATH:
        return await publisher(scope, receive, send)
    return await project_application(scope, receive, send)

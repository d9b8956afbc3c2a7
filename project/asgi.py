"""ASGI entry point: HTTP goes to Django, `/ws/live/` to the one live consumer."""

import gc
import os
import sys

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

# Django must be set up before anything imports models (the consumer does).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from project.body_limit import RequestBodyLimit  # noqa: E402
from project.origins import SiteOriginValidator  # noqa: E402
from project.request_threads import PooledRequestThreads  # noqa: E402
from project.socket_auth import SessionMemberMiddleware  # noqa: E402

# The session cookie gives the socket its member (project/socket_auth.py: on
# threads of its own, not Channels' AuthMiddlewareStack on the one shared
# thread). Requests run on threads kept from one request to the next
# (project/request_threads.py).
application = ProtocolTypeRouter(
    {
        "http": RequestBodyLimit(PooledRequestThreads(django_asgi_app)),
        "websocket": SiteOriginValidator(
            SessionMemberMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)

# Everything imported so far lives as long as the process: move it out of the
# collector's sight, and collect young objects far less often. Full
# collections of the start-up heap paused the live fan-out for 200 ms and
# more (make bench; DESIGN.md, "Known traps").
gc.collect()
gc.freeze()

# One thread runs every socket; views run in threads beside it. A view busy
# with the CPU (a catch-up after an outage) holds the GIL for the whole switch
# interval each time the event loop wakes to answer a socket, so under a
# storm of catch-ups handshakes waited past Daphne's connect timeout (make
# faults). A shorter interval hands the GIL back sooner.
sys.setswitchinterval(0.0005)
gc.set_threshold(50_000, 20, 100)

from chat import reconnect


def live(request):
    """`#live` (templates/base.html) tells the page over how many milliseconds
    to spread a mass reconnect of this process's sockets (chat/reconnect.py)."""
    return {"live_reconnect_spread": reconnect.spread_ms()}

"""The ceiling: a bare `websockets` broadcast server, nothing else.

Listener sockets connect to any path and only receive. The control socket
(path /control) is the stand-in for the app's POST: each text message it sends
is broadcast as-is to every listener, then acknowledged with "ok" (the
"saved" moment). No database, no channel layer, no templates: what Python and
asyncio on this machine can fan out at best.

Run as `python -m bench.baseline_server PORT`; prints "ready" once listening.
"""

import asyncio
import signal
import sys

from websockets.asyncio.server import broadcast, serve

listeners: set = set()


async def handler(ws):
    if ws.request.path == "/control":
        async for message in ws:
            broadcast(listeners, message)
            await ws.send("ok")
        return
    listeners.add(ws)
    try:
        await ws.wait_closed()
    finally:
        listeners.discard(ws)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression=None,
        ping_interval=None,
        max_size=2**20,
        backlog=2048,
    ):
        print("ready", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

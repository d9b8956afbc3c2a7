"""The live socket: one per tab, push only (writes go over HTTP).

The consumer authenticates and subscribes in connect and forwards what its
groups receive. Its push handlers never touch the database or a template.
"""

import json

from channels.generic.websocket import AsyncWebsocketConsumer
from django.utils.html import escape

from chat import broadcast

MAX_CLIENT_FRAME = 4096


class LiveConsumer(AsyncWebsocketConsumer):
    live_groups: list[str]

    async def connect(self):
        self.live_groups = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accept first so the browser sees our close code (a refusal before
            # accepting reaches it only as an abnormal 1006 and would be retried).
            await self.accept()
            await self.close(code=broadcast.CLOSE_UNAUTHENTICATED)
            return
        session = self.scope.get("session")
        groups = [broadcast.user_group(user.pk)]
        if session is not None and session.session_key:
            groups.append(broadcast.session_group(session.session_key))
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        self.live_groups = groups
        await self.accept()

    async def disconnect(self, code):
        for group in self.live_groups:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.live_groups = []

    async def receive(self, text_data=None, bytes_data=None):
        """Clients send only pings; anything else gets an error frame and the
        socket stays open."""
        if (
            bytes_data is not None
            or text_data is None
            or len(text_data) > MAX_CLIENT_FRAME
        ):
            await self._send_error("bad_frame")
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self._send_error("bad_json")
            return
        if not isinstance(frame, dict) or frame.get("type") != "ping":
            await self._send_error("unknown_type")
            return
        await self.send(text_data='<template id="live-pong"></template>')

    async def _send_error(self, code: str) -> None:
        await self.send(
            text_data=(
                f'<div id="live-error" hx-swap-oob="true" hidden '
                f'data-code="{escape(code)}"></div>'
            )
        )

    async def dispatch(self, message):
        # Channels closes stale DB connections through a thread hop before every
        # handler; the push handlers never touch the database, so skip it.
        if message["type"] == "live.html":
            await self.live_html(message)
        elif message["type"] == "live.close":
            await self.live_close(message)
        else:
            await super().dispatch(message)

    async def live_html(self, event):
        await self.send(text_data=event["html"])

    async def live_close(self, event):
        await self.close(code=event["code"])

"""Daphne sends the close reason a consumer gives.

The ASGI `websocket.close` event carries an optional `reason`, and Channels'
`close(code, reason)` puts it there, but Daphne 4.2 sends the close frame with
the code alone (django/daphne#374, open): the browser's CloseEvent.reason is
always empty. The live page tells a resync of the whole process (4408,
"resync") from one member's revocation (4408, no reason) by it, and spreads
the first over seconds (docs/live-protocol.md), so the reason must arrive.

Autobahn, under Daphne, takes the reason (sendClose(code, reason), truncated
to the 123 bytes a close frame holds); this passes it on. It steps aside once
Daphne's own serverClose takes a reason.
"""

import inspect


def pass_close_reasons() -> None:
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # pragma: no cover - Daphne is a dependency
        return
    if "reason" in inspect.signature(WebSocketProtocol.serverClose).parameters:
        return
    handle_reply = WebSocketProtocol.handle_reply
    if getattr(handle_reply, "passes_close_reasons", False):
        return

    def handle_reply_with_reason(self, message):
        if (
            message.get("type") == "websocket.close"
            and message.get("reason")
            and self.state != self.STATE_CONNECTING
        ):
            # Daphne's serverClose, plus the reason.
            code = message.get("code")
            self.sendClose(
                code=1000 if code is None else code, reason=message["reason"]
            )
            return
        handle_reply(self, message)

    handle_reply_with_reason.passes_close_reasons = True
    WebSocketProtocol.handle_reply = handle_reply_with_reason

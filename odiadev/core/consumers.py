"""Websocket consumers that belong to no app."""

from channels.generic.websocket import AsyncWebsocketConsumer


class UnknownPathConsumer(AsyncWebsocketConsumer):
    """Catch-all route: without it an unknown path raises inside the router and the client sees a 500."""

    async def connect(self) -> None:
        await self.close()  # refused during the handshake: the client sees HTTP 403

"""The websocket catch-all route shared by every deployment."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class UnknownPathConsumer(AsyncJsonWebsocketConsumer):
    """Catch-all route: without it an unknown path raises inside the router and the client sees a 500."""

    async def connect(self) -> None:
        await self.close()  # refused during the handshake: the client sees HTTP 403

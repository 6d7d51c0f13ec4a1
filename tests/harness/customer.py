"""A customer on the website widget: a real socket.io client speaking Rasa's socketio channel."""

import asyncio
import time
import uuid
from typing import Any

import socketio


class Customer:
    def __init__(self, rasa_url: str, session_id: str | None = None) -> None:
        self.rasa_url = rasa_url
        # The same session id on another connection (another Rasa instance) continues the conversation.
        self.session_id = session_id or uuid.uuid4().hex
        self.client = socketio.AsyncClient(reconnection=False)
        self.inbox: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.client.on("bot_uttered", self._received)

    async def _received(self, data: dict[str, Any]) -> None:
        await self.inbox.put((time.monotonic(), data))

    async def connect(self) -> None:
        confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.client.on("session_confirm", lambda sid: confirmed.done() or confirmed.set_result(sid))
        await self.client.connect(self.rasa_url, socketio_path="/socket.io", transports=["websocket"])
        await self.client.emit("session_request", {"session_id": self.session_id})
        assert await asyncio.wait_for(confirmed, 10) == self.session_id

    async def say(self, text: str) -> float:
        sent_at = time.monotonic()
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})
        return sent_at

    async def next_message(self, timeout: float = 30) -> tuple[float, str]:
        received_at, data = await asyncio.wait_for(self.inbox.get(), timeout)
        return received_at, str(data.get("text", ""))

    async def wait_for(self, predicate: Any, timeout: float = 30) -> tuple[float, str]:
        deadline = time.monotonic() + timeout
        while True:
            received_at, text = await self.next_message(max(0.1, deadline - time.monotonic()))
            if predicate(text):
                return received_at, text

    async def expect_silence(self, seconds: float) -> None:
        try:
            _, data = await asyncio.wait_for(self.inbox.get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(
            f"the bot should stay silent while a human holds the conversation, said {data!r}"
        )

    async def close(self) -> None:
        await self.client.disconnect()

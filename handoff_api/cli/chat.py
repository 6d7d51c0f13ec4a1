"""`helpdesk chat`: talk to the bot as a customer from a terminal, over the widget's socket.io channel.

Messages an engineer sends during a handoff arrive here too, which a plain REST client cannot receive.
"""

import asyncio
import sys
import uuid
from typing import Any

import socketio
from rich.console import Console

console = Console()


async def chat(rasa_url: str, session_id: str | None = None) -> None:
    session_id = session_id or uuid.uuid4().hex
    client = socketio.AsyncClient(reconnection=True)
    confirmed = asyncio.Event()

    async def _confirmed(_sid: Any) -> None:
        confirmed.set()

    async def _bot(data: dict[str, Any]) -> None:
        console.print(f"[bold cyan]bot>[/bold cyan] {data.get('text', '')}")
        for button in data.get("quick_replies") or data.get("buttons") or []:
            console.print(f"      [dim]\\[{button.get('title')}] -> {button.get('payload')}[/dim]")

    client.on("session_confirm", _confirmed)
    client.on("bot_uttered", _bot)
    await client.connect(rasa_url, socketio_path="/socket.io", transports=["websocket"])
    await client.emit("session_request", {"session_id": session_id})
    await asyncio.wait_for(confirmed.wait(), 10)
    console.print(f"[dim]conversation {session_id}; type a message, Ctrl-D to leave[/dim]")
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        if line.strip():
            await client.emit("user_uttered", {"message": line.strip(), "session_id": session_id})
    await client.disconnect()

"""Socket.io rooms shared by several Rasa instances through Redis.

With one Rasa instance, an emit reaches the customer's socket because that socket is connected to the
same process. With several (behind a load balancer), an engineer's reply pushed through instance B must
reach a customer whose socket is held by instance A: python-socketio's Redis client manager publishes
every emit on a Redis channel and each instance delivers it to the sockets it holds.

Set `SOCKETIO_REDIS_URL` (e.g. `redis://redis:6379/0`) on every Rasa instance to turn it on; the
channel name (`SOCKETIO_REDIS_CHANNEL`) must be the same on all of them. Emits are pickled on that
channel: it must be a Redis only the Rasa instances use.
"""

import os

from socketio import AsyncRedisManager, AsyncServer


def share_rooms_through_redis(sio: AsyncServer) -> bool:
    """Swaps the server's in-process client manager for Redis's; False when not configured."""
    url = os.environ.get("SOCKETIO_REDIS_URL", "").strip()
    if not url:
        return False
    manager = AsyncRedisManager(url, channel=os.environ.get("SOCKETIO_REDIS_CHANNEL", "helpdesk-socketio"))
    # Safe before the first connection: the server initialises its manager (and the Redis listener)
    # on the first Engine.IO connect.
    manager.set_server(sio)
    sio.manager = manager
    return True

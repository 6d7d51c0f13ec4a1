"""The ASGI app uvicorn imports (one per worker process)."""

from handoff_api.main import create_app

app = create_app()

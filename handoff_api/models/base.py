"""The declarative base every table derives from, and the service's notion of "now" for column defaults."""

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import JSON
from sqlalchemy.orm import DeclarativeBase

from handoff_api.core import clock


def utcnow() -> datetime:
    return clock.now()


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON, list[str]: JSON}

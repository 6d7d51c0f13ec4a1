"""Field types every API schema shares: times in UTC, text the databases can store, identifiers."""

from datetime import UTC, datetime
from typing import Annotated

from helpdesk_text.storable import storable_problem
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[
    datetime,
    AfterValidator(_as_utc),
    PlainSerializer(lambda d: _as_utc(d).isoformat().replace("+00:00", "Z"), return_type=str),
]


def _storable(value: str) -> str:
    # Refused on both databases, with the field named, instead of a 500 from the database.
    problem = storable_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


Storable = AfterValidator(_storable)
# Free text anyone types: any Unicode character but NUL, kept exactly as sent.
Text = Annotated[str, Storable]
ShortText = Annotated[str, Field(min_length=1, max_length=4000), Storable]
Identifier = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

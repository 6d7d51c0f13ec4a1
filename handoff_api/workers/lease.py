"""A lease in the database decides which worker runs a singleton loop; another takes over when it lapses."""

from datetime import timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from handoff_api.core.db import changed_rows
from handoff_api.models import Lease, utcnow


def acquire(factory: sessionmaker[Session], name: str, holder: str, seconds: float) -> bool:
    now = utcnow()
    expires = now + timedelta(seconds=seconds)
    with factory() as session, session.begin():
        renewed = changed_rows(
            session.execute(
                update(Lease)
                .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
                .values(holder=holder, expires_at=expires)
            )
        )
        if renewed:
            return True
        if session.get(Lease, name) is not None:
            return False
    try:
        with factory() as session, session.begin():
            session.add(Lease(name=name, holder=holder, expires_at=expires))
        return True
    except IntegrityError:
        return False


def release(factory: sessionmaker[Session], name: str, holder: str) -> None:
    with factory() as session, session.begin():
        session.execute(
            update(Lease).where(Lease.name == name, Lease.holder == holder).values(expires_at=utcnow())
        )

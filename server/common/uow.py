"""One transaction per use case: commit on success, roll back on any error."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from server.extensions import db

_OPEN = "jiayi.unit_of_work"


class NestedTransaction(RuntimeError):
    """A programming error: `transaction()` entered inside another."""


@contextmanager
def transaction() -> Iterator[Session]:
    """The unit of work of one use case: commit when the block ends, roll back on any error.

    It refuses to nest (`NestedTransaction`, and the outer work is rolled back): an inner
    block's commit would commit the outer one's half-done work. A use case that builds on
    another's rules calls them inside its own block; one that talks to an outside service
    does so between blocks.
    """
    if db.session.info.get(_OPEN):
        raise NestedTransaction("transaction() inside transaction(): one use case, one unit of work")
    db.session.info[_OPEN] = True
    try:
        yield db.session
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    finally:
        db.session.info.pop(_OPEN, None)

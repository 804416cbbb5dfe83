"""Stable page addresses: keys made from platform ids, never from row ids.

A page's address has to outlive the database it was read from: a link shared in a group chat
or printed in a flyer still works after the database is rebuilt from the archives, because
``/j/seattle/meetings/legistar-4049/`` names the meeting the way Legistar does. Ids that are
already safe in a path ("4049", "a1b2-c3") are used as they are; others ("/meetings/city-
council-11-02-2021", "registry:wardine-alexander") become a readable slug plus a short hash of
the full id, so two ids can never share a key.

Meetings carry their platform in the key (``legistar-4049``) because a place that moved
platforms may reuse an id; a person without a platform id is keyed by name.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from tracker.models import Body, Matter, Meeting, Person
from tracker.subscribers import fold

SAFE_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def url_key(platform_id: str) -> str:
    """A platform id as it appears in a page address."""
    if SAFE_KEY.fullmatch(platform_id):
        return platform_id
    slug = _NOT_SLUG.sub("-", fold(platform_id)).strip("-")[:60].strip("-")
    digest = hashlib.sha256(platform_id.encode("utf-8")).hexdigest()[:10]
    return f"{slug}-{digest}" if slug else digest


def meeting_key(platform: str, platform_id: str) -> str:
    return f"{platform}-{url_key(platform_id)}"


def person_key(platform_id: str | None, name: str) -> str:
    return url_key(platform_id) if platform_id else url_key("name:" + name)


def item_anchor(platform_id: str) -> str:
    return "item-" + url_key(platform_id)


def _key_of(model: Any, row: Any) -> str:
    if model is Meeting:
        return meeting_key(row.platform, row.platform_id)
    if model is Person:
        return person_key(row.platform_id, row.name)
    return url_key(row.platform_id)


class Finder:
    """Finds rows by key: a direct look-up where the key is the platform id, else an index of
    one jurisdiction's keys, rebuilt when stale (at most every few seconds on misses, so that
    made-up addresses cannot keep the database busy)."""

    TTL = 60.0
    MISS_REBUILD = 5.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index: dict[tuple[str, int], tuple[float, dict[str, int]]] = {}

    def clear(self) -> None:
        with self._lock:
            self._index.clear()

    def meeting(self, session: Session, jurisdiction_id: int, key: str) -> Meeting | None:
        platform, _, rest = key.partition("-")
        if platform and rest and SAFE_KEY.fullmatch(rest):
            found = session.execute(
                select(Meeting).where(
                    col(Meeting.jurisdiction_id) == jurisdiction_id,
                    col(Meeting.platform) == platform,
                    col(Meeting.platform_id) == rest,
                )
            ).scalar_one_or_none()
            if found is not None:
                return found
        return self._indexed(session, Meeting, jurisdiction_id, key)

    def person(self, session: Session, jurisdiction_id: int, key: str) -> Person | None:
        return self._direct(session, Person, jurisdiction_id, key) or self._indexed(
            session, Person, jurisdiction_id, key
        )

    def body(self, session: Session, jurisdiction_id: int, key: str) -> Body | None:
        return self._direct(session, Body, jurisdiction_id, key) or self._indexed(
            session, Body, jurisdiction_id, key
        )

    def matter(self, session: Session, jurisdiction_id: int, key: str) -> Matter | None:
        return self._direct(session, Matter, jurisdiction_id, key) or self._indexed(
            session, Matter, jurisdiction_id, key
        )

    @staticmethod
    def _direct(session: Session, model: Any, jurisdiction_id: int, key: str) -> Any:
        if not SAFE_KEY.fullmatch(key):
            return None
        return session.execute(
            select(model).where(
                col(model.jurisdiction_id) == jurisdiction_id, col(model.platform_id) == key
            )
        ).scalar_one_or_none()

    def _indexed(self, session: Session, model: Any, jurisdiction_id: int, key: str) -> Any:
        name = model.__name__
        now = time.monotonic()
        with self._lock:
            built = self._index.get((name, jurisdiction_id))
        if built is not None and now - built[0] < self.TTL and key in built[1]:
            return session.get(model, built[1][key])
        if built is None or now - built[0] >= self.MISS_REBUILD:
            columns = [col(model.id), col(model.platform_id)]
            if model is Meeting:
                columns.append(col(Meeting.platform))
            if model is Person:
                columns.append(col(Person.name))
            index: dict[str, int] = {}
            for row in session.execute(
                select(*columns).where(col(model.jurisdiction_id) == jurisdiction_id)
            ).mappings():
                if row["platform_id"] is None and model is not Person:
                    continue
                index.setdefault(_key_of(model, _Row(row)), row["id"])
            with self._lock:
                self._index[(name, jurisdiction_id)] = (now, index)
            built = (now, index)
        found = built[1].get(key)
        return session.get(model, found) if found is not None else None


class _Row:
    """Attribute access over a result mapping, for :func:`_key_of`."""

    def __init__(self, mapping: Any) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        return self._mapping[name]

"""Normalizing published vote values.

The value as published is always kept. The normalized value comes from, first, the
jurisdiction's own ``[votes]`` table in the registry; then the platform's vote types where it
publishes them (Legistar ``/votetypes``: VoteTypeResult 1 is affirmative, 2 negative); then the
short list of values that mean the same everywhere (tracker.registry.DEFAULT_VOTE_MAP). A value
found in none of them is normalized to None and reported, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tracker.models import VoteValue
from tracker.registry import DEFAULT_VOTE_MAP


def _key(raw: str) -> str:
    return " ".join(raw.split()).casefold()


@dataclass
class VoteNormalizer:
    explicit: Mapping[str, VoteValue] = field(default_factory=dict)
    platform: dict[str, VoteValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.explicit = {_key(k): VoteValue(v) for k, v in self.explicit.items()}

    def learn_legistar_votetypes(self, rows: Iterable[Mapping[str, Any]]) -> int:
        """Add Legistar /votetypes rows; returns how many values were learnt."""
        learnt = 0
        for row in rows:
            name = row.get("VoteTypeName")
            if not isinstance(name, str) or not name.strip():
                continue
            result = row.get("VoteTypeResult")
            value = (
                {1: VoteValue.YES, 2: VoteValue.NO}.get(result) if isinstance(result, int) else None
            )
            if value is None:
                # Result 0 ("neither") says only what it is not; the name must say the rest.
                value = DEFAULT_VOTE_MAP.get(_key(name))
            if value is not None:
                self.platform[_key(name)] = value
                learnt += 1
        return learnt

    def normalize(self, raw: str | None) -> VoteValue | None:
        if raw is None:
            return None
        key = _key(raw)
        return self.explicit.get(key) or self.platform.get(key) or DEFAULT_VOTE_MAP.get(key)

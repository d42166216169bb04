"""What a read asks for and what it gets back: whose objects (an `Owner`: one account in one
mode), which page of them (a `PageQuery`), and the page (`Page`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

LIMIT_MAX = 100


@dataclass(frozen=True)
class Owner:
    """Whose objects a request may see: one account, in one mode (the API key's)."""

    account_id: str
    livemode: bool


@dataclass
class PageQuery:
    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    created_gte: datetime | None = None
    created_lte: datetime | None = None
    filters: dict[str, Any] = field(default_factory=dict)
    where: list[Any] = field(default_factory=list)   # further SQL conditions (e.g. an effective status)


@dataclass
class Page:
    data: list[Any]
    has_more: bool

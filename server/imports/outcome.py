"""What a domain's set-wise apply step did with a bureau file's staged rows."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Applied:
    """Counts and refusals of one apply step, merged into the batch's report.

    `failures` are (line, field, code, message) of rows the domain refused; `changes` counts
    what the rows changed elsewhere (contracts ended, alerts raised, …) for the batch history.
    """

    stored: int = 0
    already_stored: int = 0
    failures: list[tuple[int, str, str, str]] = field(default_factory=list)
    changes: dict[str, int] = field(default_factory=dict)

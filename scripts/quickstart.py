"""Print the README's quick-start commands, one per line (CI runs exactly these)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(
    r"<!-- quickstart -->\s*```(?:sh|bash)?\n(.*?)```\s*<!-- /quickstart -->", re.DOTALL
)


def commands(text: str) -> list[str]:
    found = BLOCK.search(text)
    if found is None:
        return []
    return [
        line.strip()
        for line in found.group(1).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


if __name__ == "__main__":
    lines = commands(README.read_text(encoding="utf-8"))
    print("\n".join(lines))
    sys.exit(0 if lines else 1)

"""Thumbs up/down on answers, appended as JSON lines to a log file.

One line per vote: the question, the answer text, its citations, the vote and
a UTC timestamp. Lines are written whole under a lock, so votes from several
browser sessions at once never interleave.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["FeedbackLog"]


class FeedbackLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(self, question: str, answer: Mapping[str, object], vote: str) -> dict[str, object]:
        """Append one vote ("up" or "down") on `answer` (an `Answer.to_json()` dict); returns the entry."""
        if vote not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        entry = {
            "question": question,
            "answer": answer.get("answer"),
            "refused": answer.get("refused"),
            "citations": answer.get("citations", []),
            "vote": vote,
            "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(line)
        return entry

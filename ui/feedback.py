"""Thumbs up/down on answers, appended as JSON lines to a log file.

One line per vote: the question, the answer text, its citations, the vote and
a UTC timestamp, and the settings the answer was asked with (`Settings`: the
answer mode, the language model if one wrote it, the evidence scorer and k;
null when not known). Lines are written whole under a lock, so votes from several
browser sessions at once never interleave.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["FeedbackLog", "Settings"]


@dataclass(frozen=True)
class Settings:
    """What the answer was asked with, as the page's settings panel shows it."""

    answer_mode: str  # "extractive" (quotes only) or "generated" (a language model, verified)
    generator: str | None  # the language model's name when answer_mode is "generated"
    scorer: str  # the evidence scorer (Engine.scorer_name)
    k: int  # passages searched


class FeedbackLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def record(
        self, question: str, answer: Mapping[str, object], vote: str, settings: Settings | None = None
    ) -> dict[str, object]:
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
            "answer_mode": settings.answer_mode if settings else None,
            "generator": settings.generator if settings else None,
            "scorer": settings.scorer if settings else None,
            "k": settings.k if settings else None,
        }
        line = json.dumps(entry, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as out:
                out.write(line)
        return entry

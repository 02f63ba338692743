"""One-off script used to cut the corpus articles out of the raw seed pages.

It is kept only so the cut can be audited and repeated; the corpus .md files
are the source of truth. Every article body is an exact slice of its seed page
(bytes copied, never retyped). The only changes are the editorial ones listed
in corpus/README.md: boilerplate outside the slices is left out, three
pull-quotes glued onto sentences are removed, one broken paragraph is joined,
and whitespace between paragraphs is normalised to one blank line.

Usage: python corpus/build_from_seeds.py [SEEDS_DIR]
(default SEEDS_DIR: ../shared/seeds relative to the repository root)
"""

import json
import re
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent
DEFAULT_SEEDS = CORPUS.parents[1] / "shared" / "seeds"

STOCKTON_SEED = "000_e9044370e3ea8116.txt"
PAGE2_SEED = "004_6d894a2f1cf84e40.txt"

# (text before the pull-quote, glued pull-quote to drop)
PULL_QUOTES = [
    (
        "he was referring to US hegemony.",
        (
            "A Russian triumph would show that borders can be changed without "
            "regard for Washington, and that American guarantees are meaningless."
        ),
    ),
    (
        "Any defeat would threaten the very existence of Putin’s system.",
        ("The full-scale invasion bound the fate of Putin’s rule to its success in Ukraine."),
    ),
    (
        "imposed by Western “rules.”",
        (
            "Militarization in the West cannot stop Putin’s imperialism — but can "
            "grimly turn Western societies into its mirror image."
        ),
    ),
]

BROKEN_PARAGRAPH = ("The plan also outlined\n\na reconstruction package", " ")


def once(text: str, needle: str) -> int:
    """Return the index of needle, insisting it occurs exactly once."""
    count = text.count(needle)
    if count != 1:
        raise SystemExit(f"expected 1 occurrence, found {count}: {needle!r}")
    return text.index(needle)


def cut(text: str, start: str, end: str) -> str:
    """Slice text from the start marker up to and including the end marker."""
    i = once(text, start)
    j = once(text, end) + len(end)
    if j <= i:
        raise SystemExit(f"end marker before start marker: {end!r}")
    return text[i:j]


def tidy(body: str) -> str:
    """Whitespace only: one blank line between paragraphs, no space runs."""
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", body)]
    paragraphs = [re.sub(r"[ \t]{2,}", " ", p) for p in paragraphs if p]
    for p in paragraphs:
        if "\n" in p:
            raise SystemExit(f"unexpected line break inside paragraph: {p[:60]!r}")
    return "\n\n".join(paragraphs) + "\n"


def front_matter(meta: dict) -> str:
    lines = ["---"]
    for key, value in meta.items():
        if isinstance(value, bool):
            lines.append(f"{key}: {'true' if value else 'false'}")
        elif isinstance(value, list):
            items = ", ".join(json.dumps(v, ensure_ascii=False) for v in value)
            lines.append(f"{key}: [{items}]")
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n"


def build(seeds: Path) -> dict[str, str]:
    page1 = (seeds / STOCKTON_SEED).read_text(encoding="utf-8")
    page2 = (seeds / PAGE2_SEED).read_text(encoding="utf-8")

    stockton = cut(page1, "Donald Trump’s reported 28-point", "but revolution.")

    peace = cut(
        page2,
        "The Trump administration now looks closer than ever",
        "Progressive International Council and Socialists Against War.",
    )
    for before, quote in PULL_QUOTES:
        once(peace, before + quote)
        peace = peace.replace(before + quote, before)

    heinonen = cut(
        page2,
        "US President Donald Trump has made it very clear",
        "He can be reached at jooeljheinonen@gmail.com",
    )
    broken, joiner = BROKEN_PARAGRAPH
    once(heinonen, broken)
    heinonen = heinonen.replace(broken, broken.replace("\n\n", joiner))

    docs = {
        "stockton-russian-us-talks.md": (
            {
                "title": "Russian-US talks over Ukraine",
                "authors": ["Dave Stockton"],
                "source": f"seeds/{STOCKTON_SEED}",
            },
            stockton,
        ),
        "smirnova-sakhnin-peace-from-below.md": (
            {
                "title": "For a Peace From Below in Ukraine",
                "authors": ["Liza Smirnova", "Alexey Sakhnin"],
                "date": "2025-12-22",
                "publisher": "Z",
                "source": f"seeds/{PAGE2_SEED}",
            },
            peace,
        ),
        "heinonen-least-bad-option.md": (
            {
                "title": "Trump's 28-Point Plan as the Least Bad Option for Ukraine",
                "title_editorial": True,
                "authors": ["Noel Heinonen"],
                "date": "2025-12-22",
                "source": f"seeds/{PAGE2_SEED}",
            },
            heinonen,
        ),
    }
    return {name: front_matter(meta) + tidy(body) for name, (meta, body) in docs.items()}


def main() -> None:
    seeds = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SEEDS
    for name, text in build(seeds).items():
        (CORPUS / name).write_text(text, encoding="utf-8")
        print(f"wrote corpus/{name} ({len(text)} chars)")


if __name__ == "__main__":
    main()

"""Tests for the default document collection in corpus/.

They check that the front matter is well formed, that every sentence of every
article is copied verbatim from its raw seed page, that web boilerplate and
duplicated pull-quotes are gone, and that no article was truncated.
"""

import difflib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"

HEINONEN = "heinonen-least-bad-option.md"
EXPECTED_DOCS = {
    "stockton-russian-us-talks.md",
    "smirnova-sakhnin-peace-from-below.md",
    HEINONEN,
}
ALLOWED_KEYS = {
    "title",
    "title_editorial",
    "authors",
    "date",
    "publisher",
    "source",
    "author_bio",
}

# After a sentence end (. ! ?), optionally followed by up to two closing quotes
# or brackets (kept with the sentence), then whitespace; also at newlines.
_CLOSE = "[\"'”’“)\\]]"
SENTENCE_SPLIT = re.compile(rf"(?:(?<=[.!?])|(?<=[.!?]{_CLOSE})|(?<=[.!?]{_CLOSE}{_CLOSE}))\s+|\n+")
# A sentence end glued to the next sentence without a space, as left behind
# by pull-quotes ("...US hegemony.A Russian triumph ...").
GLUED_SENTENCE = re.compile(r"[a-z][.!?][\"”’)]?[A-Z]")

BOILERPLATE = [
    "Share this Article",
    "No comments",
    "Feel free to share widely",
    "Originally published by",
    "Nestor Makhno",
    "AnarchistStudies.Blog",
    "Monday, December 22, 2025",
]
BOILERPLATE_LINES = {
    "Email",
    "Facebook",
    "Twitter",
    "WhatsApp",
    "Print",
    "Reddit",
    "Telegram",
}

# (first sentence, last sentence of the article proper, last line of the body)
ENDPOINTS = {
    "stockton-russian-us-talks.md": (
        (
            "Donald Trump’s reported 28-point „peace plan“ does not offer a roadmap "
            "to stability; rather, it rewards Vladimir Putin for an unprovoked war "
            "of aggression and the illegal occupation of sovereign territory."
        ),
        ("If the ruling powers attempt to impose war upon us, the answer must not be submission, but revolution."),
        ("If the ruling powers attempt to impose war upon us, the answer must not be submission, but revolution."),
    ),
    "smirnova-sakhnin-peace-from-below.md": (
        ("The Trump administration now looks closer than ever to stopping the conflict between Russia and Ukraine."),
        (
            "Victory of progressive forces — nationally or globally — is impossible "
            "without a clear strategy to end the war that sustains today’s ruling "
            "classes."
        ),
        ("He is a member of the Progressive International Council and Socialists Against War."),
    ),
    HEINONEN: (
        ("US President Donald Trump has made it very clear that he is an enemy of Europe."),
        (
            "Therefore, Trump’s peace plan has the potential to resolve the core "
            "issues that have been contributing to tensions in Europe since the "
            "end of the Cold War."
        ),
        "He can be reached at jooeljheinonen@gmail.com",
    ),
}


def normalise(text: str) -> str:
    """Collapse all whitespace (including U+00A0) to one space and strip."""
    return re.sub(r"\s+", " ", text).strip()


def split_sentences(body: str) -> list[str]:
    parts = (normalise(s) for s in SENTENCE_SPLIT.split(body))
    return [p for p in parts if p]


def parse(path: Path) -> tuple[dict, str]:
    text = path.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    assert match, f"{path.name}: no front matter between leading '---' lines"
    meta = yaml.safe_load(match.group(1))
    assert isinstance(meta, dict), f"{path.name}: front matter is not a mapping"
    return meta, match.group(2)


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.glob("*.md") if p.name != "README.md")


DOCS = {p.name: parse(p) for p in corpus_files()}


@pytest.fixture(scope="module")
def seeds_dir() -> Path:
    if not SEEDS.is_dir():
        pytest.skip(f"seed folder {SEEDS} is missing")
    return SEEDS


def seed_text(seeds_dir: Path, meta: dict) -> str:
    name = meta["source"].removeprefix("seeds/")
    return normalise((seeds_dir / name).read_text(encoding="utf-8"))


def test_expected_documents_present():
    assert set(DOCS) >= EXPECTED_DOCS


@pytest.mark.parametrize("name", sorted(DOCS))
def test_front_matter(name):
    meta, body = DOCS[name]
    for key in ("title", "authors", "source"):
        assert key in meta, f"{name}: missing {key}"
    assert set(meta) <= ALLOWED_KEYS, f"{name}: unknown keys {set(meta) - ALLOWED_KEYS}"
    assert isinstance(meta["title"], str) and meta["title"].strip()
    assert isinstance(meta["authors"], list) and meta["authors"]
    assert all(isinstance(a, str) and a.strip() for a in meta["authors"])
    assert re.fullmatch(r"seeds/[\w.-]+\.txt", meta["source"])
    if "date" in meta:
        assert isinstance(meta["date"], str), "date must be a quoted string"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["date"])
    if "publisher" in meta:
        assert isinstance(meta["publisher"], str) and meta["publisher"].strip()
    assert body.startswith("\n") and body.strip(), f"{name}: empty body"


def test_only_heinonen_title_is_editorial():
    editorial = {n for n, (meta, _) in DOCS.items() if meta.get("title_editorial")}
    assert editorial == {HEINONEN}
    assert DOCS[HEINONEN][0]["title_editorial"] is True


@pytest.mark.parametrize("name", sorted(DOCS))
def test_every_sentence_is_verbatim_from_seed(name, seeds_dir):
    meta, body = DOCS[name]
    seed = seed_text(seeds_dir, meta)
    missing = [s for s in split_sentences(body) if s not in seed]
    assert not missing, f"{name}: sentences not found in seed: {missing[:3]}"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_title_and_authors_come_from_seed(name, seeds_dir):
    meta, _ = DOCS[name]
    seed = seed_text(seeds_dir, meta)
    if not meta.get("title_editorial"):
        assert normalise(meta["title"]) in seed
    for author in meta["authors"]:
        assert author in seed


@pytest.mark.parametrize("name", sorted(DOCS))
def test_body_format(name):
    _, body = DOCS[name]
    body = body.strip("\n")
    assert "\n\n\n" not in body, f"{name}: more than one blank line"
    for paragraph in body.split("\n\n"):
        assert "\n" not in paragraph, f"{name}: line break inside a paragraph"
        assert paragraph == paragraph.strip(), f"{name}: stray whitespace"
        assert "  " not in paragraph, f"{name}: run of spaces"
        assert not paragraph.startswith("#"), f"{name}: markdown heading added"
        # A paragraph starting in lower case is the tail of a broken paragraph.
        assert not paragraph[0].islower(), f"{name}: broken paragraph {paragraph[:40]!r}"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_no_boilerplate(name):
    meta, body = DOCS[name]
    for text in BOILERPLATE:
        assert text not in body, f"{name}: boilerplate {text!r} left in body"
    for line in body.splitlines():
        assert line.strip() not in BOILERPLATE_LINES, f"{name}: line {line!r}"
    assert not body.rstrip().endswith("Email"), f"{name}: glued 'Email' link"
    assert normalise(meta["title"]) not in normalise(body), f"{name}: title in body"


@pytest.mark.parametrize("name", sorted(DOCS))
def test_no_glued_pull_quotes(name):
    _, body = DOCS[name]
    glued = [body[m.start() - 30 : m.end() + 30] for m in GLUED_SENTENCE.finditer(body)]
    assert not glued, f"{name}: sentences glued together (pull-quote?): {glued}"


def test_no_sentence_appears_twice():
    seen: dict[str, str] = {}
    for name, (_, body) in DOCS.items():
        for sentence in split_sentences(body):
            if len(sentence) <= 40:
                continue
            assert sentence not in seen, f"{sentence!r} appears in {seen[sentence]} and again in {name}"
            seen[sentence] = name


def test_no_near_duplicate_sentences():
    """Pull-quotes repeat a sentence with small changes ("finally" dropped)."""
    sentences = [(name, s.lower()) for name, (_, body) in DOCS.items() for s in split_sentences(body) if len(s) > 40]
    for i, (name_a, a) in enumerate(sentences):
        for name_b, b in sentences[i + 1 :]:
            matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
            if matcher.real_quick_ratio() < 0.85 or matcher.quick_ratio() < 0.85:
                continue
            assert matcher.ratio() < 0.85 and a not in b and b not in a, (
                f"near-duplicate sentences in {name_a} / {name_b}: {a!r} ~ {b!r}"
            )


@pytest.mark.parametrize("name", sorted(ENDPOINTS))
def test_article_complete(name):
    first, last, final_line = ENDPOINTS[name]
    _, body = DOCS[name]
    sentences = split_sentences(body)
    assert sentences[0] == first, f"{name}: starts with {sentences[0]!r}"
    assert last in sentences, f"{name}: last sentence of the article missing"
    assert body.rstrip("\n").splitlines()[-1].endswith(final_line)
    assert body.endswith("\n") and not body.endswith("\n\n")


def test_headings_kept_as_own_paragraphs():
    headings = {
        "stockton-russian-us-talks.md": ["Trumps framework", "Strategic interests"],
        "smirnova-sakhnin-peace-from-below.md": [
            "A New Munich?",
            "War as the Path of Deception",
            "The War Party",
            "Peace From Below",
        ],
    }
    for name, expected in headings.items():
        paragraphs = DOCS[name][1].strip("\n").split("\n\n")
        found = [p for p in paragraphs if p in expected]
        assert found == expected, f"{name}: headings {found}"


def test_broken_paragraph_repaired():
    body = normalise(DOCS[HEINONEN][1])
    assert "The plan also outlined a reconstruction package for Ukraine" in body

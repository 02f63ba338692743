"""Resumable embedding: a build killed halfway does not embed again what it had finished.

The builder embeds new chunks through `embed_resumable`, in batches of similar
token length (index.batching). After each batch it appends (hash of the chunk
text, vector) records to a checkpoint file and flushes it to disk:

    INDEX_DIR/resume/embeddings-<key>.bin    key: model name, vector family, dimension

A restarted build reads the checkpoint first and embeds only the texts it does
not hold. A record cut short by the kill is dropped. The builder removes the
folder once a build has been made current (`discard_checkpoints`). Vectors are
only ever reused for the same model and vector family (index.onnx_embedder), so
torch and fp32 ONNX may resume each other's work, int8 never mixes with them.

While embedding, `progress=True` shows a bar on stderr with chunks/s and the ETA.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.batching import length_batches
from index.embedder import Embedder

__all__ = ["CHECKPOINT_DIR", "EmbedResult", "checkpoint_path", "discard_checkpoints", "embed_resumable"]

CHECKPOINT_DIR = "resume"
_DIGEST = 32  # bytes of a sha256


@dataclass(frozen=True)
class EmbedResult:
    vectors: np.ndarray  # one row per text, in the order given
    embedded: int  # texts the model embedded in this call
    resumed: int  # texts whose vectors came from an interrupted build's checkpoint


def _text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def checkpoint_path(index_dir: Path, embedder: Embedder, dimension: int) -> Path:
    """The checkpoint file for this model, vector family and dimension."""
    from index.onnx_embedder import backend_of, vector_family

    identity = f"{embedder.name}\n{vector_family(backend_of(embedder))}\n{dimension}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return index_dir / CHECKPOINT_DIR / f"embeddings-{key}.bin"


def _read_checkpoint(path: Path, dimension: int) -> dict[bytes, np.ndarray]:
    """The records of a checkpoint; a trailing record cut short by a kill is cut off the file too."""
    record = _DIGEST + 4 * dimension
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    whole = len(raw) - len(raw) % record
    if whole != len(raw):
        with open(path, "r+b") as handle:
            handle.truncate(whole)
    known: dict[bytes, np.ndarray] = {}
    for start in range(0, whole, record):
        vector = np.frombuffer(raw, dtype=np.float32, count=dimension, offset=start + _DIGEST)
        known[raw[start : start + _DIGEST]] = vector
    return known


def embed_resumable(
    embedder: Embedder,
    texts: Sequence[str],
    index_dir: Path,
    *,
    batch_size: int = 64,
    progress: bool = False,
) -> EmbedResult:
    """Vectors for `texts`, reusing an interrupted build's checkpoint and extending it batch by batch."""
    dimension = embedder.dimension
    if not texts:
        return EmbedResult(np.zeros((0, dimension), dtype=np.float32), 0, 0)
    path = checkpoint_path(index_dir, embedder, dimension)
    known = _read_checkpoint(path, dimension)
    keys = [_text_key(text) for text in texts]
    vectors = np.zeros((len(texts), dimension), dtype=np.float32)
    todo: list[int] = []
    for row, key in enumerate(keys):
        if key in known:
            vectors[row] = known[key]
        else:
            todo.append(row)
    resumed = len(texts) - len(todo)
    if not todo:
        return EmbedResult(vectors, 0, resumed)

    from tqdm import tqdm

    path.parent.mkdir(parents=True, exist_ok=True)
    lengths = [embedder.count_tokens(texts[row]) for row in todo]
    bar = tqdm(total=len(texts), initial=resumed, unit="chunk", desc="embedding", disable=not progress, file=sys.stderr)
    with bar, open(path, "ab") as checkpoint:
        for positions in length_batches(lengths, batch_size):
            rows = [todo[position] for position in positions]
            fresh = np.asarray(embedder.embed([texts[row] for row in rows]), dtype=np.float32)
            vectors[rows] = fresh
            checkpoint.write(b"".join(keys[row] + fresh[i].tobytes() for i, row in enumerate(rows)))
            checkpoint.flush()
            os.fsync(checkpoint.fileno())
            bar.update(len(rows))
    return EmbedResult(vectors, len(todo), resumed)


def discard_checkpoints(index_dir: Path) -> None:
    """Remove every embedding checkpoint (after a build was made current)."""
    shutil.rmtree(index_dir / CHECKPOINT_DIR, ignore_errors=True)

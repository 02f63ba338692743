"""The same sentence-transformers model run by ONNX Runtime: `rag index --embed-backend onnx|onnx-int8`.

The model is exported from the loaded sentence-transformers model on first use
(`torch.onnx.export`, the transformer only; mean pooling and L2 normalisation are
done here in numpy exactly as the model's own Pooling and Normalize modules do)
and cached under `~/.cache/grounded-rag/onnx/<model>-<hash>.onnx`, the hash being
that of the weights and config, so nothing is downloaded and a changed model is
exported again. `onnx-int8` is that file after ONNX Runtime's dynamic int8
quantization (per-channel weights), cached beside it.

How the vectors compare, measured by tests/test_embed_backends.py and
`python -m eval.benchmarks.indexing_speed`: fp32 ONNX agrees with torch to
float rounding (cosine > 0.9999), so the two are one vector family and an index
may mix them; int8 moves vectors by up to about 0.02 in cosine (0.983 at worst over
2,222 SciFact chunks), so it is another family (`vector_family`) and an index built
with one is re-embedded, not silently mixed, when built again with the other.
`onnx` is the default for the packaged model (`default_backend` says why).

Texts are embedded in batches of similar token length (`index.batching`), so a
batch pads to its own longest text rather than the whole input's.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from index.batching import length_batches
from index.embedder import (
    DEFAULT_MODEL,
    SentenceTransformerEmbedder,
    default_model_name,
    model_cache_dir,
    packaged_model_path,
)
from index.errors import RagError, UsageError

__all__ = [
    "BACKEND_ENV",
    "EMBED_BACKENDS",
    "OnnxEmbedder",
    "backend_of",
    "default_backend",
    "ensure_onnx_file",
    "make_embedder",
    "onnx_file",
    "vector_family",
]

EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")
BACKEND_ENV = "RAG_EMBED_BACKEND"
EXPORT_VERSION = 1  # bump when the export or quantization recipe changes: the cache key includes it
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_EXPORT_LOCK = threading.Lock()


def default_backend(name: str | None = None) -> str:
    """$RAG_EMBED_BACKEND, else onnx for the packaged default model (when ONNX Runtime is installed), else torch.

    Why onnx (docs/benchmarks.md, "Embedding backends"): measured side by side it embeds about
    twice as fast as torch with the same vectors to float rounding, the same SciFact nDCG@10 and the
    same eval-set report; int8 is faster still but changes the eval set's refusals, so it is opt-in.
    Other models keep torch unless asked: not every model is a mean-pooled folder that exports.
    """
    chosen = os.environ.get(BACKEND_ENV)
    if chosen:
        if chosen not in EMBED_BACKENDS:
            raise UsageError(f"{BACKEND_ENV}={chosen!r} is not a backend: choose one of {', '.join(EMBED_BACKENDS)}")
        return chosen
    installed = all(importlib.util.find_spec(module) is not None for module in ("onnxruntime", "onnx"))
    return "onnx" if installed and (name or default_model_name()) == DEFAULT_MODEL else "torch"


def backend_of(embedder: object) -> str:
    """The backend an embedder runs on; anything without a `backend` attribute is a torch model."""
    return str(getattr(embedder, "backend", "torch"))


def vector_family(backend: str) -> str:
    """Backends whose vectors agree to float rounding share a family; an index never mixes families."""
    return "int8" if backend == "onnx-int8" else "fp32"


def make_embedder(name: str | None = None, backend: str | None = None):
    """The embedder for a model name (None: the default model) on a backend (None: `default_backend(name)`)."""
    backend = backend or default_backend(name)
    if backend == "torch":
        return SentenceTransformerEmbedder(name)
    if backend in ("onnx", "onnx-int8"):
        return OnnxEmbedder(name, quantized=backend == "onnx-int8")
    raise UsageError(f"unknown embedding backend {backend!r}: choose one of {', '.join(EMBED_BACKENDS)}")


def _model_folder(name: str) -> Path:
    """The local sentence-transformers folder of `name`; the ONNX backends export from files on disk."""
    folder = packaged_model_path() if name == DEFAULT_MODEL else Path(name).expanduser()
    if not (folder / "modules.json").is_file():
        raise RagError(
            f"the onnx embedding backends need a local sentence-transformers folder, and {name!r} is not one: "
            "give --model a folder, or use --embed-backend torch"
        )
    return folder


def _check_mean_pooling(folder: Path) -> None:
    """Only Transformer -> mean Pooling -> Normalize models are exported: that is what `_pool` computes."""
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
    pooling = next((folder / m["path"] / "config.json" for m in modules if m["type"].endswith("Pooling")), None)
    config = json.loads(pooling.read_text()) if pooling and pooling.is_file() else {}
    modes = [key for key, on in config.items() if key.startswith("pooling_mode") and on]
    if kinds != ["Transformer", "Pooling", "Normalize"] or modes != ["pooling_mode_mean_tokens"]:
        raise RagError(
            f"the model in {folder} is not Transformer + mean pooling + Normalize ({kinds}, {modes}), "
            "which is all the onnx backends compute: use --embed-backend torch"
        )


@functools.lru_cache(maxsize=8)
def _fingerprint(folder: Path) -> str:
    """A short hash of the weights and configs, so a changed model is exported again (read once per process)."""
    digest = hashlib.sha256(f"export-v{EXPORT_VERSION}".encode())
    for path in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors")):
        digest.update(path.name.encode())
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def onnx_file(name: str, *, quantized: bool) -> Path:
    """Where the exported model of `name` is cached (it may not exist yet)."""
    folder = _model_folder(name)
    stem = f"{Path(name).name if name != DEFAULT_MODEL else name}-{_fingerprint(folder)}"
    return model_cache_dir() / "onnx" / (f"{stem}-int8.onnx" if quantized else f"{stem}.onnx")


def _export(name: str, target: Path) -> None:
    """Export the transformer of the sentence-transformers model `name` to `target` (fp32)."""
    import torch

    class _LastHiddenState(torch.nn.Module):
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return output.last_hidden_state

    model = SentenceTransformerEmbedder(name).model
    sample = model.tokenizer(["an example", "a second, longer example text"], padding=True, return_tensors="pt")
    axes = {key: {0: "batch", 1: "tokens"} for key in (*_INPUTS, "last_hidden_state")}
    partial = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated in favour of dynamo, which needs more
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LastHiddenState(model[0].auto_model).eval(),
                tuple(sample[key] for key in _INPUTS),
                str(partial),
                input_names=list(_INPUTS),
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)  # a failed export leaves nothing half-written in the cache


def _quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    partial = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    # Per-channel weights: per-tensor int8 moved some SciFact abstracts' vectors by up to 0.08 in cosine.
    logging.disable(logging.WARNING)  # its advice to pre-process (shape inference) is for static quantization
    try:
        quantize_dynamic(source, partial, per_channel=True, weight_type=QuantType.QInt8)
        os.replace(partial, target)
    finally:
        logging.disable(logging.NOTSET)
        partial.unlink(missing_ok=True)


def ensure_onnx_file(name: str, *, quantized: bool) -> Path:
    """The cached ONNX file of `name`, exported (and quantized) first when missing."""
    target = onnx_file(name, quantized=quantized)
    with _EXPORT_LOCK:
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        fp32 = onnx_file(name, quantized=False)
        try:
            if not fp32.is_file():
                _export(name, fp32)
            if quantized:
                _quantize(fp32, target)
        except ImportError as error:
            raise RagError(
                f"the onnx embedding backends need onnxruntime and onnx ({error}): "
                "run `pip install onnxruntime onnx`, or use --embed-backend torch"
            ) from error
    return target


class OnnxEmbedder:
    """A mean-pooled sentence-transformers model run by ONNX Runtime, loaded on first use.

    `name` and the vectors are those of `SentenceTransformerEmbedder(name)` (to float
    rounding for fp32; see the module docstring for int8). As there, a few texts run
    on one thread and large batches on all cores.
    """

    def __init__(
        self, name: str | None = None, *, quantized: bool = False, batch_size: int = 64, single_thread_up_to: int = 16
    ) -> None:
        self.name = name or SentenceTransformerEmbedder().name
        self.quantized = quantized
        self.batch_size = batch_size
        self.single_thread_up_to = single_thread_up_to
        self._tokenizer = None
        self._sessions: dict[int, object] = {}
        self._max_seq_length: int | None = None
        self._lock = threading.Lock()
        # A fast tokenizer asked to truncate changes its own settings, so two threads at once can fail
        # ("Already borrowed"): rag serve answers in threads.
        self._tokenize_lock = threading.Lock()

    @property
    def backend(self) -> str:
        return "onnx-int8" if self.quantized else "onnx"

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            folder = _model_folder(self.name)
            _check_mean_pooling(folder)
            config = json.loads((folder / "sentence_bert_config.json").read_text())
            self._max_seq_length = int(config["max_seq_length"])
            self._tokenizer = AutoTokenizer.from_pretrained(str(folder), model_max_length=self._max_seq_length)
        return self._tokenizer

    def _session(self, threads: int):
        """One ONNX Runtime session per thread count (a session's thread pool is fixed when it is made)."""
        with self._lock:
            if threads not in self._sessions:
                try:
                    import onnxruntime
                except ImportError as error:
                    raise RagError(
                        "the onnx embedding backends need onnxruntime: run `pip install onnxruntime onnx`, "
                        "or use --embed-backend torch"
                    ) from error
                path = ensure_onnx_file(self.name, quantized=self.quantized)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                self._sessions[threads] = onnxruntime.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads]

    @property
    def dimension(self) -> int:
        config = json.loads((_model_folder(self.name) / "config.json").read_text())
        return int(config["hidden_size"])

    @property
    def max_tokens(self) -> int:
        self.tokenizer  # noqa: B018 (reads the window size)
        return int(self._max_seq_length or 0) - 2  # the window includes [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        tokenizer = self.tokenizer
        with self._tokenize_lock:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (`progress` is the builder's job here)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        tokenizer = self.tokenizer
        with self._tokenize_lock:
            encoded = tokenizer(list(texts), truncation=True, max_length=self._max_seq_length)
        cores = os.cpu_count() or 1
        session = self._session(1 if len(texts) <= self.single_thread_up_to else cores)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        out: np.ndarray | None = None
        for rows in length_batches(lengths, self.batch_size):
            feed = _padded(encoded, rows, max(lengths[row] for row in rows))
            hidden = session.run(None, feed)[0]
            vectors = _pool(hidden, feed["attention_mask"])
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Questions are embedded like any other text with this model."""
        return self.embed(texts)


def _padded(encoded, rows: list[int], width: int) -> dict[str, np.ndarray]:
    """The model inputs of `rows`, right-padded with zeros to `width` tokens."""
    feed = {key: np.zeros((len(rows), width), dtype=np.int64) for key in _INPUTS}
    for position, row in enumerate(rows):
        ids = encoded["input_ids"][row]
        feed["input_ids"][position, : len(ids)] = ids
        feed["attention_mask"][position, : len(ids)] = 1
        types = encoded.get("token_type_ids")
        if types is not None:
            feed["token_type_ids"][position, : len(ids)] = types[row]
    return feed


def _pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the real tokens, then L2 normalisation (sentence-transformers' Pooling + Normalize)."""
    weights = mask[..., None].astype(np.float32)
    summed = (hidden * weights).sum(axis=1)
    means = summed / np.clip(weights.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(means, axis=1, keepdims=True)
    return (means / np.clip(norms, 1e-12, None)).astype(np.float32)

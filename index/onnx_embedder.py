"""The same sentence-transformers model run by ONNX Runtime: `rag index --embed-backend onnx|onnx-int8`.

The model is exported from the loaded sentence-transformers model on first use
(`torch.onnx.export`, the transformer only; mean pooling, any Dense layers and L2
normalisation are done here in numpy exactly as the model's own modules do: `_Head`)
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

The evidence scorer EmbeddingGemma-300M runs here too (`make_scorer`, `onnx_scorer`):
its transformer is Gemma 3 with bidirectional attention, whose sliding-window layers
need masks the tracer cannot build from transformers' code, so the export builds them
(`_attention_masks`); `scripts/fetch_scorer.sh` exports it at install time (about 30 s,
1.2 GB in the cache). Its vectors are torch's to float rounding, and a question embeds
in about half the time (docs/scorer.md, "On ONNX Runtime").
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.batching import length_batches
from index.embedder import (
    DEFAULT_MODEL,
    EmbeddingGemmaEmbedder,
    SentenceTransformerEmbedder,
    default_model_name,
    installed_scorer_path,
    model_cache_dir,
    packaged_model_path,
)
from index.errors import RagError, UsageError

__all__ = [
    "BACKEND_ENV",
    "EMBED_BACKENDS",
    "SCORER_BACKENDS",
    "SCORER_BACKEND_ENV",
    "OnnxEmbedder",
    "backend_of",
    "default_backend",
    "ensure_onnx_file",
    "make_embedder",
    "make_scorer",
    "onnx_file",
    "onnx_scorer",
    "vector_family",
]

EMBED_BACKENDS = ("torch", "onnx", "onnx-int8")
BACKEND_ENV = "RAG_EMBED_BACKEND"
EXPORT_VERSION = 1  # bump when the export or quantization recipe changes: the cache key includes it
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
    return "onnx" if _onnx_installed() and (name or default_model_name()) == DEFAULT_MODEL else "torch"


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


@dataclass(frozen=True)
class _Head:
    """What a sentence-transformers model does after its transformer, computed here in numpy:
    mean pooling over the real tokens, then each Dense layer (identity activation) in order, then L2
    normalisation. MiniLM has no Dense layer; EmbeddingGemma has two (768 -> 3072 -> 768)."""

    dense: tuple[tuple[np.ndarray, np.ndarray | None], ...] = ()

    @property
    def dimension(self) -> int | None:
        return int(self.dense[-1][0].shape[0]) if self.dense else None

    def __call__(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        weights = mask[..., None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        vectors = summed / np.clip(weights.sum(axis=1), 1e-9, None)
        for weight, bias in self.dense:
            vectors = vectors @ weight.T
            if bias is not None:
                vectors = vectors + bias
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


def _head_of(folder: Path) -> _Head:
    """The head of the model in `folder`: Transformer -> mean Pooling -> Dense* -> Normalize, else refused."""
    modules = json.loads((folder / "modules.json").read_text())
    kinds = [module["type"].rsplit(".", 1)[-1] for module in modules]
    pooling = next((folder / m["path"] / "config.json" for m in modules if m["type"].endswith("Pooling")), None)
    config = json.loads(pooling.read_text()) if pooling and pooling.is_file() else {}
    modes = [key for key, on in config.items() if key.startswith("pooling_mode") and on]
    shape_ok = kinds[:2] == ["Transformer", "Pooling"] and kinds[-1:] == ["Normalize"]
    if not shape_ok or any(kind != "Dense" for kind in kinds[2:-1]) or modes != ["pooling_mode_mean_tokens"]:
        raise RagError(
            f"the model in {folder} is not Transformer + mean pooling + Dense layers + Normalize ({kinds}, {modes}), "
            "which is all the onnx backends compute: use --embed-backend torch"
        )
    dense = []
    for module in modules[2:-1]:
        dense_config = json.loads((folder / module["path"] / "config.json").read_text())
        if not str(dense_config.get("activation_function", "")).endswith("Identity"):
            raise RagError(
                f"the Dense layer in {folder / module['path']} has an activation "
                f"({dense_config.get('activation_function')}) the onnx backends do not compute: "
                "use --embed-backend torch"
            )
        from safetensors.numpy import load_file

        weights = load_file(str(folder / module["path"] / "model.safetensors"))
        bias = weights.get("linear.bias")
        dense.append((weights["linear.weight"].astype(np.float32), None if bias is None else bias.astype(np.float32)))
    return _Head(tuple(dense))


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


def _attention_masks(mask, window: int):
    """Gemma-3-style bidirectional masks from a padding mask: every real token for the full-attention
    layers, the real tokens nearer than `window` for the sliding ones (4-D booleans, True = attend).

    This is the rule of transformers' Gemma3TextModel with `use_bidirectional_attention`
    (`_bidirectional_window_overlay`: |q - k| < sliding_window), built here because the tracer cannot
    follow transformers' own mask code; tests/test_scorer_onnx.py checks it against torch on a text
    longer than the window."""
    import torch

    tokens = mask.shape[1]
    keys = mask[:, None, None, :].to(torch.bool).expand(-1, 1, tokens, -1)
    positions = torch.arange(tokens)
    near = (positions[:, None] - positions[None, :]).abs() < window
    return {"full_attention": keys, "sliding_attention": keys & near[None, None, :, :]}


def _export(name: str, target: Path) -> None:
    """Export the transformer of the sentence-transformers model `name` to `target` (fp32)."""
    import torch

    model = SentenceTransformerEmbedder(name).model
    transformer = model[0].auto_model
    config = transformer.config
    inputs = list(model.tokenizer.model_input_names)
    window = None
    if getattr(config, "use_bidirectional_attention", False) and "sliding_attention" in (config.layer_types or ()):
        window = int(config.sliding_window)
        transformer.config._attn_implementation = "sdpa"  # boolean masks are what sdpa takes

    class _LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = transformer

        def forward(self, *values):
            named = dict(zip(inputs, values, strict=True))
            if window is not None:
                named["attention_mask"] = _attention_masks(named["attention_mask"], window)
            return self.model(**named).last_hidden_state

    sample = model.tokenizer(["an example", "a second, longer example text"], padding=True, return_tensors="pt")
    axes = {key: {0: "batch", 1: "tokens"} for key in (*inputs, "last_hidden_state")}
    partial = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    try:
        with warnings.catch_warnings():  # the TorchScript exporter is deprecated in favour of dynamo, which needs more
            warnings.simplefilter("ignore")
            torch.onnx.export(
                _LastHiddenState().eval(),
                tuple(sample[key] for key in inputs),
                str(partial),
                input_names=inputs,
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
    """A sentence-transformers model run by ONNX Runtime, loaded on first use.

    `name` and the vectors are those of `SentenceTransformerEmbedder(name)` (to float
    rounding for fp32; see the module docstring for int8). `source` is what to load when it
    is not `name` (a folder; `name` is then only the label recorded in manifests), and
    `document_prompt` / `query_prompt` are put before texts and questions, as
    sentence-transformers' prompts are (`onnx_scorer` uses them for EmbeddingGemma). As
    there, up to `single_thread_up_to` texts run on one thread and larger batches on all cores
    (one ONNX Runtime session each).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        quantized: bool = False,
        source: str | None = None,
        document_prompt: str = "",
        query_prompt: str = "",
        batch_size: int = 64,
        single_thread_up_to: int = 16,
    ) -> None:
        self.name = name or SentenceTransformerEmbedder().name
        self.source = source or self.name
        self.quantized = quantized
        self.document_prompt = document_prompt
        self.query_prompt = query_prompt
        self.batch_size = batch_size
        self.single_thread_up_to = single_thread_up_to
        self._tokenizer = None
        self._head: _Head | None = None
        self._inputs: tuple[str, ...] = ()
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

            folder = _model_folder(self.source)
            self._head = _head_of(folder)
            config = json.loads((folder / "sentence_bert_config.json").read_text())
            self._max_seq_length = int(config["max_seq_length"])
            tokenizer = AutoTokenizer.from_pretrained(str(folder), model_max_length=self._max_seq_length)
            self._inputs = tuple(tokenizer.model_input_names)
            self._tokenizer = tokenizer
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
                path = ensure_onnx_file(self.source, quantized=self.quantized)
                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                self._sessions[threads] = onnxruntime.InferenceSession(
                    str(path), options, providers=["CPUExecutionProvider"]
                )
            return self._sessions[threads]

    @property
    def dimension(self) -> int:
        self.tokenizer  # noqa: B018 (reads the head)
        if self._head is not None and self._head.dimension is not None:
            return self._head.dimension
        config = json.loads((_model_folder(self.source) / "config.json").read_text())
        return int(config["hidden_size"])

    @property
    def max_tokens(self) -> int:
        self.tokenizer  # noqa: B018 (reads the window size)
        # The window includes two special tokens ([CLS] and [SEP], or BOS and EOS) and the document prompt.
        prompt = self.count_tokens(self.document_prompt) if self.document_prompt else 0
        return int(self._max_seq_length or 0) - 2 - prompt

    def count_tokens(self, text: str) -> int:
        tokenizer = self.tokenizer
        with self._tokenize_lock:
            return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    def embed(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text (`progress` is the builder's job here)."""
        return self._encode([self.document_prompt + text for text in texts])

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Question vectors: the texts after the query prompt (none for MiniLM: embedded like any text)."""
        return self._encode([self.query_prompt + text for text in texts])

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        tokenizer = self.tokenizer
        with self._tokenize_lock:
            encoded = tokenizer(texts, truncation=True, max_length=self._max_seq_length)
        cores = os.cpu_count() or 1
        session = self._session(1 if len(texts) <= self.single_thread_up_to else cores)
        lengths = [len(ids) for ids in encoded["input_ids"]]
        out: np.ndarray | None = None
        for rows in length_batches(lengths, self.batch_size):
            feed = _padded(encoded, rows, max(lengths[row] for row in rows), self._inputs)
            hidden = session.run(None, feed)[0]
            vectors = self._head(hidden, feed["attention_mask"])
            if out is None:
                out = np.zeros((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out


def onnx_scorer(path: str | Path | None = None, *, prompts: bool = False) -> OnnxEmbedder:
    """EmbeddingGemma-300M run by ONNX Runtime (fp32): the same vectors as `EmbeddingGemmaEmbedder`
    with the same `prompts` to float rounding, so the same `name` and the same stored sentence vectors.
    The folder is `path`, else `installed_scorer_path()`; its ONNX file is exported on first use or by
    `scripts/fetch_scorer.sh` (`python -m index.onnx_embedder --scorer`)."""
    torch_twin = EmbeddingGemmaEmbedder(path, prompts=prompts)
    if torch_twin.path is None:
        torch_twin._source()  # raises: not installed, with what to run
    prompt_of = _scorer_prompts(torch_twin.path) if prompts else {}
    return OnnxEmbedder(
        torch_twin.name,
        source=str(torch_twin.path),
        document_prompt=prompt_of.get(EmbeddingGemmaEmbedder.DOCUMENT_PROMPT, ""),
        query_prompt=prompt_of.get(EmbeddingGemmaEmbedder.QUERY_PROMPT, ""),
        batch_size=torch_twin.batch_size,
        # One session on one thread for everything: a second session for batches on all cores would hold
        # a second copy of the weights (about 1.5 GB each) to embed a build's sentences 1.5x faster.
        single_thread_up_to=sys.maxsize,
    )


SCORER_BACKEND_ENV = "RAG_SCORER_BACKEND"
SCORER_BACKENDS = ("torch", "onnx")


def make_scorer(backend: str | None = None):
    """The EmbeddingGemma evidence scorer (bare, no prompts: it scored better inside the engine,
    docs/scorer.md) on `backend`, else $RAG_SCORER_BACKEND, else onnx when ONNX Runtime is installed
    and the model's ONNX file is in the cache (`scripts/fetch_scorer.sh` exports it), else torch: an
    export that failed at install time leaves a working scorer, not an error at every question.

    Why onnx: its vectors are torch's to float rounding (tests/test_scorer_onnx.py) and it embeds a
    question in about half the time (`python -m eval.benchmarks.scorer_cost`, docs/scorer.md); int8 is
    not offered, as it moved this model's vectors too far (docs/scorer.md)."""
    backend = backend or os.environ.get(SCORER_BACKEND_ENV) or ("onnx" if _scorer_exported() else "torch")
    if backend not in SCORER_BACKENDS:
        raise UsageError(f"{SCORER_BACKEND_ENV}={backend!r} is not a scorer backend: choose torch or onnx")
    return onnx_scorer() if backend == "onnx" else EmbeddingGemmaEmbedder(prompts=False)


def _scorer_exported() -> bool:
    path = installed_scorer_path()
    return path is not None and _onnx_installed() and onnx_file(str(path), quantized=False).is_file()


def _onnx_installed() -> bool:
    return all(importlib.util.find_spec(module) is not None for module in ("onnxruntime", "onnx"))


def _scorer_prompts(folder: Path) -> dict[str, str]:
    config = json.loads((folder / "config_sentence_transformers.json").read_text())
    return dict(config.get("prompts") or {})


def _padded(encoded, rows: list[int], width: int, inputs: Sequence[str]) -> dict[str, np.ndarray]:
    """The model inputs of `rows`, right-padded with zeros to `width` tokens."""
    feed = {key: np.zeros((len(rows), width), dtype=np.int64) for key in inputs}
    for position, row in enumerate(rows):
        ids = encoded["input_ids"][row]
        feed["input_ids"][position, : len(ids)] = ids
        feed["attention_mask"][position, : len(ids)] = 1
        types = encoded.get("token_type_ids")
        if types is not None and "token_type_ids" in feed:
            feed["token_type_ids"][position, : len(ids)] = types[row]
    return feed


def main(argv: list[str] | None = None) -> int:
    """`python -m index.onnx_embedder --scorer`: export the installed EmbeddingGemma now (install time)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--scorer", action="store_true", help="export EmbeddingGemma-300M (the installed scorer)")
    parser.add_argument("--model", help="export this model name or sentence-transformers folder")
    args = parser.parse_args(argv)
    if not args.scorer and not args.model:
        parser.error("give --scorer or --model")
    try:
        source = str(onnx_scorer().source) if args.scorer else args.model
        _head_of(_model_folder(source))  # refuse a model the backend cannot compute before exporting it
        print(ensure_onnx_file(source, quantized=False))
    except RagError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

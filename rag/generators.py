"""Language-model generators behind one small interface.

A generator turns chat messages into a stream of text pieces; nothing else.
What the pieces may claim is decided later by `rag.verify`, so a generator is
never trusted: it only proposes sentences.

- `OpenAICompatibleGenerator`: any server speaking the OpenAI chat-completions
  protocol (a hosted API, vLLM, `python -m llama_cpp.server`, Ollama's /v1),
  with streaming over server-sent events, a timeout, and retries.
- `LlamaCppGenerator`: a GGUF file run in process with llama-cpp-python (an
  optional extra, built by `scripts/install_llama.sh`).

Both decode greedily (temperature 0): answers are reproducible, and a grounded
answer has no use for creativity.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Protocol

import httpx

from index.errors import RagError
from rag.types import GENERATOR_KINDS

__all__ = [
    "GENERATOR_KINDS",
    "GenerationError",
    "Generator",
    "LlamaCppGenerator",
    "Message",
    "OpenAICompatibleGenerator",
    "make_generator",
]


Message = Mapping[str, str]  # {"role": "system" | "user" | "assistant", "content": ...}


class GenerationError(RagError):
    """The language model could not be reached or run (the message says how to fix it)."""


class Generator(Protocol):
    """What `rag.generated` needs from a language model."""

    name: str

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        """The answer as it is generated, in pieces (tokens or a few characters each)."""
        ...


class OpenAICompatibleGenerator:
    """Chat completions from an OpenAI-compatible endpoint, streamed.

    `base_url` is the API root including its version, e.g. `https://api.openai.com/v1`
    or `http://127.0.0.1:8080/v1`; requests go to `{base_url}/chat/completions`.
    The API key is read from the environment variable `api_key_env` when the request
    is made (never stored, never logged); a local server needs none.
    Connection errors, timeouts, 429 and 5xx answers are retried `retries` times with
    a short backoff, but only before the first piece arrived: a stream cut halfway is
    an error, since a retry would repeat text already shown.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key_env: str = "OPENAI_API_KEY",
        timeout: float = 60.0,
        retries: int = 2,
        max_tokens: int = 256,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key_env = api_key_env
        self.timeout = timeout
        self.retries = max(0, retries)
        self.max_tokens = max_tokens
        self._transport = transport  # injected by tests that need no network
        self.name = f"openai:{model}"

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        key = os.environ.get(self.api_key_env, "").strip()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        payload = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "stream": True,
        }
        url = f"{self.base_url}/chat/completions"
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(0.5 * 2**attempt, 8.0))
            yielded = False
            try:
                with (
                    httpx.Client(timeout=self.timeout, transport=self._transport) as client,
                    client.stream("POST", url, json=payload, headers=self._headers()) as response,
                ):
                    if response.status_code == 429 or response.status_code >= 500:
                        last_error = f"{response.status_code} from {url}"
                        continue
                    if response.status_code >= 400:
                        body = response.read().decode("utf-8", "replace")[:300]
                        raise GenerationError(
                            f"the model server at {self.base_url} refused the request "
                            f"({response.status_code}): {body}; check the model name and ${self.api_key_env}"
                        )
                    for piece in _sse_pieces(response.iter_lines()):
                        yielded = True
                        yield piece
                    return
            except httpx.TransportError as error:  # connect/read errors and timeouts
                if yielded:
                    raise GenerationError(f"the model server at {self.base_url} stopped mid-answer: {error}") from error
                last_error = f"{type(error).__name__}: {error}"
        raise GenerationError(
            f"no answer from the model server at {self.base_url} after {self.retries + 1} attempt(s) "
            f"({last_error}); is it running, and is --base-url right?"
        )


def _sse_pieces(lines: Iterator[str]) -> Iterator[str]:
    """The content deltas of an OpenAI chat-completions event stream."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, "event:" lines
        data = line[5:].strip()
        if data == "[DONE]":
            return
        try:
            event = json.loads(data)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("error"):
            raise GenerationError(f"the model server reported an error: {event['error']}")
        for choice in event.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                yield content


class LlamaCppGenerator:
    """A GGUF model run in this process by llama-cpp-python, loaded on first use.

    One generation at a time: a llama.cpp context is not thread-safe, and on a small
    CPU two interleaved generations would only be slower than two in a row.
    """

    def __init__(
        self,
        model_path: str | Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        max_tokens: int = 256,
    ) -> None:
        self.model_path = Path(model_path)
        self.n_ctx = n_ctx
        # llama-cpp-python's own default is half the cores: 1 thread on a 2-core machine.
        self.n_threads = n_threads or os.cpu_count() or 1
        self.max_tokens = max_tokens
        self.name = f"local:{self.model_path.name}"
        self._llama = None
        self._lock = threading.Lock()

    def _model(self):
        if self._llama is None:
            try:
                # Imported here: an optional extra that takes a while to load.
                from llama_cpp import Llama
            except ImportError as error:
                raise GenerationError(
                    "the local generator needs llama-cpp-python: install it with `scripts/install_llama.sh`"
                ) from error
            if not self.model_path.is_file():
                raise GenerationError(
                    f"no GGUF model at {self.model_path}: fetch one with `scripts/fetch_test_model.sh` "
                    "or pass the path of another GGUF file"
                )
            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
        return self._llama

    def load(self) -> None:
        """Load the model now (otherwise the first question pays for it)."""
        with self._lock:
            self._model()

    def stream(self, messages: Sequence[Message]) -> Iterator[str]:
        with self._lock:
            llama = self._model()
            chunks = llama.create_chat_completion(
                messages=[dict(m) for m in messages],
                temperature=0.0,
                max_tokens=self.max_tokens,
                stream=True,
            )
            for chunk in chunks:
                content = chunk["choices"][0]["delta"].get("content")
                if content:
                    yield content


def make_generator(
    kind: str,
    *,
    model_path: str | Path | None = None,
    base_url: str | None = None,
    llm_model: str = "default",
    api_key_env: str = "OPENAI_API_KEY",
) -> Generator | None:
    """The generator a user chose by name (`rag ask/chat/eval --generator`); None for extractive."""
    if kind == "extractive":
        return None
    if kind == "local":
        if not model_path:
            raise GenerationError("--generator local needs --model-path FILE.gguf (or set RAG_GGUF)")
        return LlamaCppGenerator(Path(model_path).expanduser())
    if kind == "openai":
        if not base_url:
            raise GenerationError("--generator openai needs --base-url (e.g. http://127.0.0.1:8080/v1, or RAG_LLM_URL)")
        return OpenAICompatibleGenerator(base_url, llm_model, api_key_env=api_key_env)
    raise GenerationError(f"unknown generator {kind!r}: choose one of {', '.join(GENERATOR_KINDS)}")

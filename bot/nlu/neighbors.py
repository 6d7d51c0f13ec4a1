"""Intents by meaning: the training examples closest to a message in the sentence model's space vote.

Measured on the held-out messages (bench/nlu_eval.py, docs/nlu/), a classifier trained on a few hundred
examples per intent (DIET, sparse or dense features, or a logistic regression) read customers' own
phrasings worse than simply asking which examples the message means the same as: the pretrained model
already places "pass recovery" near "reset my password". So each message's sentence vector (from
`SentenceEmbeddingFeaturizer`) is compared with every training example's (a dot product: both are
normalised), and the `neighbours` closest vote, each with its similarity.

Confidence is the winning intent's share of the votes times how close the closest example is: a message
like nothing the bot was taught gets a low confidence, and the FallbackClassifier after this component
turns it into `nlu_fallback` (the knowledge base, then one clarifying question).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np
import numpy.typing as npt
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.exceptions import InvalidConfigException
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

VECTORS = "vectors.npy"
LABELS = "labels.json"


def sentence_vector(message: Message) -> npt.NDArray[np.float32] | None:
    """The message's dense sentence features (the sentence model's, normalised), or None."""
    _, sentence = message.get_dense_features(TEXT)
    if sentence is None:
        return None
    vector = np.asarray(sentence.features, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm else None


def vote(
    similarities: npt.NDArray[np.float32], labels: list[str], neighbours: int
) -> list[tuple[str, float]]:
    """Each intent with its confidence, best first: its share of the similarity-weighted votes of the
    closest examples, times the closest example's similarity (clipped to 0..1)."""
    if len(similarities) == 0:
        return []
    count = min(neighbours, len(similarities))
    closest = np.argpartition(-similarities, count - 1)[:count]
    closest = closest[np.argsort(-similarities[closest], kind="stable")]
    weights: dict[str, float] = defaultdict(float)
    for index in closest:
        weights[labels[index]] += max(float(similarities[index]), 0.0)
    total = sum(weights.values()) or 1.0
    nearness = min(max(float(similarities[closest[0]]), 0.0), 1.0)
    ranked = sorted(
        ((name, weight / total * nearness) for name, weight in weights.items()), key=lambda x: -x[1]
    )
    return ranked


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class SemanticNeighborsClassifier(GraphComponent, IntentClassifier):
    """Classifies intents by the nearest training examples in the sentence model's space."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # `blend`: the weight of the neighbours' vote against the ranking a classifier before this one
        # (DIET) gave; 1.0 ignores it.
        return {"neighbours": 5, "ranking_length": 10, "blend": 1.0}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vectors: npt.NDArray[np.float32] | None = None,
        labels: list[str] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        if int(self._config["neighbours"]) < 1:
            raise InvalidConfigException("neighbours: at least 1")
        self._storage = model_storage
        self._resource = resource
        self._vectors = vectors if vectors is not None else np.zeros((0, 0), dtype=np.float32)
        self._labels = labels or []

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SemanticNeighborsClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        rows, labels = [], []
        for example in training_data.intent_examples:
            vector = sentence_vector(example)
            if vector is not None and example.get(TEXT):
                rows.append(vector)
                labels.append(str(example.get(INTENT)))
        if not rows:
            raise InvalidConfigException(
                "SemanticNeighborsClassifier needs sentence features: SentenceEmbeddingFeaturizer comes first"
            )
        self._vectors = np.stack(rows).astype(np.float32)
        self._labels = labels
        with self._storage.write_to(self._resource) as folder:
            np.save(folder / VECTORS, self._vectors)
            (folder / LABELS).write_text(json.dumps(self._labels))
        return self._resource

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SemanticNeighborsClassifier:
        try:
            with model_storage.read_from(resource) as folder:
                vectors = np.load(folder / VECTORS)
                labels = json.loads((folder / LABELS).read_text())
        except ValueError:  # nothing was trained (no NLU data)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, vectors, labels)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            vector = sentence_vector(message)
            ranked = (
                vote(self._vectors @ vector, self._labels, int(self._config["neighbours"]))
                if vector is not None and len(self._labels)
                else []
            )
            weight = float(self._config["blend"])
            earlier = message.get("intent_ranking") or []
            if weight < 1.0 and earlier:
                blended: dict[str, float] = defaultdict(float)
                for name, confidence in ranked:
                    blended[name] += weight * confidence
                for item in earlier:
                    blended[str(item[INTENT_NAME_KEY])] += (1 - weight) * float(
                        item[PREDICTED_CONFIDENCE_KEY]
                    )
                ranked = sorted(blended.items(), key=lambda x: -x[1])
            ranking = [
                {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: round(confidence, 4)}
                for name, confidence in ranked[: int(self._config["ranking_length"])]
            ]
            best = ranking[0] if ranking else {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0}
            message.set(INTENT, best, add_to_output=True)
            message.set("intent_ranking", ranking, add_to_output=True)
        return messages

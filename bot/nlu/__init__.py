"""Code the NLU pipeline runs inside Rasa: the sentence-model featurizer (`sentence_embeddings`)."""

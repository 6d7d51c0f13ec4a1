"""The conversation around the flows: sessions, shared flow steps, ratings and the hand-back."""

"""Corpus readers. Each yields `wise.utterance.Utterance` rows; nothing downstream reads a
corpus directly, only the manifest written from these rows."""

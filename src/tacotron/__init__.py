"""tacotron: train a Tacotron 2 voice from recordings and transcripts, and speak with it."""

__version__ = "0.1.0"

"""Intelligibility and distance to the source voice of a trained model (above inference)."""

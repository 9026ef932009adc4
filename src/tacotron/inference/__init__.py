from tacotron.inference.synthesizer import SpokenSegment, Synthesis, Synthesizer

__all__ = ["SpokenSegment", "Synthesis", "Synthesizer"]

from tacotron.inference.synthesizer import SpokenSegment, Synthesis, Synthesizer
from tacotron.inference.word_timings import WordTiming

__all__ = ["SpokenSegment", "Synthesis", "Synthesizer", "WordTiming"]

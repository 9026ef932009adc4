from tacotron.inference.synthesizer import Synthesis, Synthesizer

__all__ = ["Synthesis", "Synthesizer"]

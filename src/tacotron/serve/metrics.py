"""The server's Prometheus metrics (GET /metrics), in a registry of its own so that several
servers in one process (tests) do not share counters."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


def real_time_factor(synthesis_seconds: float, audio_seconds: float) -> float:
    """RTF = synthesis seconds / seconds of audio made (below 1: faster than real time); 0 when
    no audio was made."""
    return synthesis_seconds / audio_seconds if audio_seconds > 0 else 0.0


class ServerMetrics:
    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("tacotron_requests", "HTTP requests answered, by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.errors = Counter("tacotron_request_errors", "requests answered with a status >= 400, "
                              "by endpoint and status", ["endpoint", "status"], registry=self.registry)
        self.queue_length = Gauge("tacotron_queue_length", "requests waiting for a synthesis worker",
                                  registry=self.registry)
        self.busy_workers = Gauge("tacotron_busy_workers", "synthesis workers running a request",
                                  registry=self.registry)
        self.dropped = Counter("tacotron_jobs_dropped", "synthesis jobs stopped before they finished "
                               "(client gone or timed out)", registry=self.registry)
        self.segments = Counter("tacotron_segments_synthesized", "sentences and clauses decoded",
                                registry=self.registry)
        self.synthesis_seconds = Histogram(
            "tacotron_synthesis_seconds", "worker seconds per finished request",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120), registry=self.registry)
        self.audio_seconds = Histogram(
            "tacotron_audio_seconds", "seconds of audio per finished request",
            buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300), registry=self.registry)
        self.real_time_factor = Histogram(
            "tacotron_real_time_factor", "synthesis seconds / audio seconds per finished request",
            buckets=(0.01, 0.03, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 5), registry=self.registry)

        # By voice and runtime, so that a PyTorch voice's real-time factor and an ONNX one's can be
        # told apart: rate(synthesis) / rate(audio) of one voice is its RTF over any window.
        self.voice_synthesis_seconds = Counter(
            "tacotron_voice_synthesis_seconds", "worker seconds of finished requests, by voice and runtime",
            ["voice", "runtime"], registry=self.registry)
        self.voice_audio_seconds = Counter(
            "tacotron_voice_audio_seconds", "seconds of audio of finished requests, by voice and runtime",
            ["voice", "runtime"], registry=self.registry)
        self.wyoming_events = Counter(
            "tacotron_wyoming_events", "Wyoming events received, by type and answer (ok, or the error "
            "event's code)", ["type", "answer"], registry=self.registry)
        # The same totals as plain numbers for /api/voices: voice name -> [synthesis s, audio s, requests].
        self._voice_totals: dict[str, list[float]] = {}

    def voice_usage(self, voice: str) -> dict:
        """A voice's finished requests since the server started, and its real-time factor over
        all of them (total synthesis seconds / total audio seconds; null before its first)."""
        synthesis, audio, requests = self._voice_totals.get(voice, (0.0, 0.0, 0))
        return {"requests": int(requests),
                "real_time_factor": round(real_time_factor(synthesis, audio), 4) if audio > 0 else None}

    def answered(self, endpoint: str, status: int) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        if status >= 400:
            self.errors.labels(endpoint, str(status)).inc()

    def finished(self, synthesis_seconds: float, audio_seconds: float, voice: str = "",
                 runtime: str = "") -> None:
        if voice:
            self.voice_synthesis_seconds.labels(voice, runtime).inc(synthesis_seconds)
            self.voice_audio_seconds.labels(voice, runtime).inc(audio_seconds)
            totals = self._voice_totals.setdefault(voice, [0.0, 0.0, 0])
            totals[0] += synthesis_seconds
            totals[1] += audio_seconds
            totals[2] += 1
        self.synthesis_seconds.observe(synthesis_seconds)
        self.audio_seconds.observe(audio_seconds)
        self.real_time_factor.observe(real_time_factor(synthesis_seconds, audio_seconds))

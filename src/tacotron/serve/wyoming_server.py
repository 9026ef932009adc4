"""The Wyoming protocol server: Home Assistant's (and other voice assistants') text-to-speech link,
on the same SpeechService as the HTTP API (its voices, queue, limits, reports and metrics).

Wyoming is a stream of events over TCP or a Unix socket: a JSON header line {"type", "data_length",
"payload_length", "version"}, then `data_length` bytes of JSON data merged into the header's own
"data", then `payload_length` bytes of payload (audio). The event names and fields below are those
of the `wyoming` package (wyoming/info.py, tts.py, audio.py, error.py, ping.py); the events are read
here so that a malformed one can be answered instead of ending the connection.

    describe                      -> info: one tts program "tacotron", each voice with its language
                                     and speakers (supports_synthesize_streaming: true)
    synthesize {text, voice?}     -> audio-start, audio-chunk..., audio-stop: 16-bit mono PCM at the
                                     voice's sample rate, each segment as soon as it is decoded, in
                                     chunks of at most CHUNK_SECONDS
    synthesize-start {voice?}, synthesize-chunk {text}..., synthesize-stop
                                  -> as the text arrives, the sentences complete so far, each group
                                     as audio-start, audio-chunk..., audio-stop; then
                                     synthesize-stopped. A `synthesize` inside such a stream is the
                                     whole text again (sent for servers without streaming): ignored.
    ping {text?}                  -> pong {text}
    anything else                 -> error {text, code}

`voice` is {name, speaker?} (a voice of the server and one of its speakers) or {language} (the
first voice speaking it); none: the default voice. Whatever fails is answered with an `error`
event (ERROR_CODES) and the connection stays open for the next event. Audio cut short (the request
ran out of serve.timeout_seconds) gets no audio-stop, so it cannot pass for whole audio. A client
that disconnects (or stops reading for serve.timeout_seconds) ends its connection's work: the
synthesis in progress is cancelled at the next segment, as an HTTP client's is.

Wyoming has no authentication: TACOTRON_API_KEY does not cover it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import HTTPException
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.error import Error
from wyoming.event import Event, async_write_event
from wyoming.info import Attribution, Info, TtsProgram, TtsVoice, TtsVoiceSpeaker
from wyoming.ping import Pong
from wyoming.tts import SynthesizeStopped

import tacotron
from tacotron.errors import UserError
from tacotron.serve.jobs import ClientGone, JobTimeout, QueueFull
from tacotron.serve.service import SpeechService
from tacotron.serve.voices import Voice
from tacotron.text import segmentation

LOG = logging.getLogger("tacotron.serve.wyoming")
PROGRAM = "tacotron"
ATTRIBUTION = Attribution(name="tacotron (Tacotron 2: Shen et al., 2018)",
                          url="https://arxiv.org/abs/1712.05884")
SAMPLE_WIDTH = 2  # bytes: 16-bit PCM
CHANNELS = 1
# A segment's audio goes out in chunks of at most this long: small enough for a satellite's
# playback buffer, and each chunk costs only a header line of about 150 bytes.
CHUNK_SECONDS = 0.25
# The most bytes of one event's header line, data or payload. A TTS request carries at most
# serve.max_chars characters (5000 by default: at most 20 kB of UTF-8), so anything near this is
# not a request; the connection is closed after the error, since the rest of the stream cannot be
# told apart from the oversized event.
MAX_EVENT_BYTES = 1 << 20
# `error` event codes, by the HTTP status the same refusal gets from the HTTP API.
ERROR_CODES = {400: "empty-text", 404: "not-found", 413: "text-too-long", 422: "unspeakable-text",
               501: "not-supported", 503: "busy", 504: "timeout"}
SYNTHESIZE, SYNTHESIZE_START, SYNTHESIZE_CHUNK, SYNTHESIZE_STOP = (
    "synthesize", "synthesize-start", "synthesize-chunk", "synthesize-stop")
HANDLED = ("describe", "ping", SYNTHESIZE, SYNTHESIZE_START, SYNTHESIZE_CHUNK, SYNTHESIZE_STOP)


class Refusal(Exception):
    """A request answered with an `error` event: `text` for people, `code` for programs."""

    def __init__(self, text: str, code: str, fatal: bool = False):
        super().__init__(text)
        self.text = text
        self.code = code
        self.fatal = fatal  # the connection cannot go on (its event stream is out of step)


def refusal_of(error: HTTPException) -> Refusal:
    """The service's refusals (HTTPException, the HTTP API's answer) in Wyoming's terms."""
    return Refusal(str(error.detail), ERROR_CODES.get(error.status_code, f"http-{error.status_code}"))


def open_listener(uri: str) -> socket.socket:
    """A listening socket for serve.wyoming (tcp://HOST:PORT, port 0: any free port; unix:///PATH),
    bound now so that a taken port is a UserError before anything loads."""
    scheme, _, rest = uri.partition("://")
    try:
        if scheme == "tcp":
            parts = urlsplit(uri)
            if parts.hostname is None or parts.port is None:
                raise UserError(f"serve.wyoming {uri}: give a host and a port, e.g. tcp://0.0.0.0:10200")
            return socket.create_server((parts.hostname, parts.port))
        if scheme == "unix" and rest:
            path = Path(rest)
            if path.is_socket():
                path.unlink()  # left by a server that did not stop cleanly
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(path))
            listener.listen()
            return listener
    except ValueError as error:  # a port that is not a number or out of range
        raise UserError(f"serve.wyoming {uri}: {error}") from None
    except OSError as error:
        raise UserError(f"serve.wyoming {uri}: cannot listen there: {error.strerror or error}") from None
    raise UserError(f"serve.wyoming {uri}: expected tcp://HOST:PORT or unix:///PATH")


def listener_address(listener: socket.socket) -> str:
    """The URI a client connects to (with the real port when serve.wyoming asked for port 0)."""
    if listener.family == socket.AF_UNIX:
        return f"unix://{listener.getsockname()}"
    host, port = listener.getsockname()[:2]
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


async def read_event(reader: asyncio.StreamReader) -> Event | None:
    """The next event, None when the client has closed its side; Refusal for a malformed one."""
    try:
        line = await reader.readline()
    except ValueError:  # longer than MAX_EVENT_BYTES (the reader's limit); asyncio dropped it
        raise Refusal(f"an event header line longer than {MAX_EVENT_BYTES} bytes", "bad-event",
                      fatal=True) from None
    if not line.endswith(b"\n"):
        return None  # end of stream (possibly in the middle of a line)
    try:
        header = json.loads(line)
    except ValueError:
        raise Refusal("not a Wyoming event: the header line is not JSON", "bad-event") from None
    if not isinstance(header, dict) or not isinstance(header.get("type"), str):
        raise Refusal("not a Wyoming event: the header needs a \"type\" string", "bad-event")
    lengths = [header.get(key) or 0 for key in ("data_length", "payload_length")]
    if not all(isinstance(length, int) and 0 <= length <= MAX_EVENT_BYTES for length in lengths):
        raise Refusal(f"data_length and payload_length must be whole numbers of bytes up to "
                      f"{MAX_EVENT_BYTES}", "bad-event", fatal=True)
    data = header.get("data") or {}
    try:
        extra = json.loads(await reader.readexactly(lengths[0])) if lengths[0] else {}
        payload = await reader.readexactly(lengths[1]) if lengths[1] else None
    except asyncio.IncompleteReadError:
        return None
    except ValueError:
        raise Refusal(f"{header['type']}: its data is not JSON", "bad-event") from None
    if not isinstance(data, dict) or not isinstance(extra, dict):
        raise Refusal(f"{header['type']}: its data must be a JSON object", "bad-event")
    try:
        # JSON's \\ud800 escapes can spell a lone surrogate, which no UTF-8 text holds: an event
        # carrying one could not even be answered (a pong echoes its text).
        json.dumps([header, extra], ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        raise Refusal(f"{header['type']!r}: not valid Unicode text (a lone surrogate "
                      f"U+{ord(error.object[error.start]):04X})", "bad-event") from None
    return Event(type=header["type"], data={**data, **extra}, payload=payload)


def text_field(event: Event) -> str:
    text = event.data.get("text")
    if not isinstance(text, str):
        raise Refusal(f"{event.type}: \"text\" must be a string, got {text!r}", "bad-event")
    return text


def voice_field(event: Event) -> dict:
    voice = event.data.get("voice") or {}
    if not isinstance(voice, dict) or not all(isinstance(voice.get(key), (str, type(None)))
                                              for key in ("name", "speaker", "language")):
        raise Refusal(f"{event.type}: \"voice\" must be an object of strings {{name, speaker, "
                      f"language}}, got {voice!r}", "bad-event")
    if event.data.get("text_format") not in (None, "text"):
        raise Refusal(f"{event.type}: text_format {event.data['text_format']!r} is not supported; "
                      "this server speaks plain text", "not-supported")
    return voice


def info_event(service: SpeechService) -> Event:
    """`info`: one tts program; each voice with its language, speakers and a description that
    Home Assistant shows as the voice's name."""
    voices = []
    for voice in service.voices.values():
        synthesizer = voice.synthesizer
        voices.append(TtsVoice(
            name=voice.name, attribution=ATTRIBUTION, installed=True,
            description=f"{voice.name} ({voice.language}, {synthesizer.sample_rate} Hz, {voice.runtime})",
            version=None if synthesizer.checkpoint_step is None else str(synthesizer.checkpoint_step),
            languages=[voice.language],
            speakers=[TtsVoiceSpeaker(name=speaker) for speaker in synthesizer.speakers] or None))
    program = TtsProgram(name=PROGRAM, attribution=ATTRIBUTION, installed=True,
                         description="Tacotron 2 voices", version=tacotron.__version__, voices=voices,
                         supports_synthesize_streaming=True)
    return Info(tts=[program]).event()


class TextStream:
    """The text of a synthesize-start ... synthesize-stop stream, given out a group of complete
    sentences at a time. A sentence is complete once text follows it (segmentation.split_sentences
    finds another sentence after it): until then a final "." may still turn out to be "Dr." or
    "3.5"."""

    def __init__(self, voice: Voice | None, speaker: str | None, max_chars: int):
        self.voice = voice  # None: the voice could not be chosen (answered with an error already)
        self.speaker = speaker
        self.max_chars = max_chars
        self.pending = ""

    def add(self, text: str) -> tuple[str, str] | None:
        """Take a chunk: (the sentences it completed, in the raw text, and the kind of pause after
        the last of them), or None while no sentence is complete. A Refusal when the text without
        a sentence end grows past serve.max_chars (then it is dropped)."""
        self.pending += text
        sentences = segmentation.split_sentences(self.pending, self.voice.language)
        if len(sentences) < 2:
            if len(self.pending) > self.max_chars:
                length, self.pending = len(self.pending), ""
                raise Refusal(f"text: {length} characters without a sentence end; this server "
                              f"speaks at most {self.max_chars} at a time (serve.max_chars)",
                              ERROR_CODES[413])
            return None
        # The sentences are the pending text's non-space characters in order: cut after as many.
        wanted = sum(len("".join(sentence.text.split())) for sentence in sentences[:-1])
        seen = cut = 0
        while seen < wanted and cut < len(self.pending):
            seen += not self.pending[cut].isspace()
            cut += 1
        complete, self.pending = self.pending[:cut], self.pending[cut:]
        return complete, sentences[-2].pause_after

    def finish(self) -> str:
        rest, self.pending = self.pending, ""
        return rest


def pause_seconds(voice: Voice, pause_kind: str) -> float:
    """The voice's pause after a sentence of this kind: inference.pause_sentence, pause_question or
    pause_paragraph (segmentation names the kinds as the config names the pauses)."""
    return float(getattr(voice.synthesizer.config.inference, f"pause_{pause_kind}", 0.0))


class Connection:
    """One client. Events are read as they come (so that a client leaving is seen at once, even
    mid-synthesis) and answered strictly in order by one sending task."""

    def __init__(self, service: SpeechService, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter):
        self.service = service
        self.reader = reader
        self.writer = writer
        # The answers, in order; None: the last (the connection closes after the ones before it).
        self.outbox: asyncio.Queue[Callable[[], Awaitable[None]] | None] = asyncio.Queue()
        self.stream: TextStream | None = None  # between synthesize-start and synthesize-stop
        self.gone: asyncio.Future = asyncio.get_running_loop().create_future()

    async def run(self) -> None:
        sender = asyncio.create_task(self.send_in_order())
        try:
            while not self.gone.done():
                try:
                    event = await read_event(self.reader)
                except Refusal as refusal:
                    self.count("other", refusal.code)
                    self.later(self.send_error, refusal)
                    if refusal.fatal:
                        self.outbox.put_nowait(None)
                        await asyncio.wait([sender])
                        break
                    continue
                if event is None:
                    break
                self.receive(event)
        except (ConnectionError, OSError):
            pass
        finally:
            if not self.gone.done():
                self.gone.set_result(None)  # the synthesis in progress raises ClientGone
            sender.cancel()  # a stream being sent stops at its next await; its job is cancelled
            await asyncio.gather(sender, return_exceptions=True)
            self.writer.close()

    def count(self, event_type: str, answer: str) -> None:
        # Unknown types are counted as "other": a client cannot grow the metrics without bound.
        self.service.metrics.wyoming_events.labels(event_type if event_type in HANDLED else "other",
                                                   answer).inc()

    def later(self, step: Callable[..., Awaitable[None]], *arguments) -> None:
        self.outbox.put_nowait(lambda: step(*arguments))

    async def send_in_order(self) -> None:
        while (step := await self.outbox.get()) is not None:
            try:
                try:
                    await step()
                except (ConnectionError, OSError, TimeoutError):
                    raise
                except Exception:  # a bug here must not end the connection, nor the server
                    LOG.exception("Wyoming event handling failed")
                    await self.send_error(Refusal("the server failed on this event (see its log)",
                                                  "internal-error"))
            except (ConnectionError, OSError, TimeoutError):
                LOG.info("a Wyoming client left (or stopped reading) mid-answer")
                await self.close()
                return

    async def write(self, event: Event) -> None:
        """Send one event; a client that does not take it within serve.timeout_seconds is gone."""
        await asyncio.wait_for(async_write_event(event, self.writer), self.service.settings.timeout_seconds)

    async def send_error(self, refusal: Refusal) -> None:
        await self.write(Error(text=refusal.text, code=refusal.code).event())

    async def close(self) -> None:
        self.writer.close()
        if not self.gone.done():
            self.gone.set_result(None)

    def receive(self, event: Event) -> None:
        """Answer one event, in order after those before it."""
        try:
            if event.type == "describe":
                self.count(event.type, "ok")
                self.later(self.write, info_event(self.service))
            elif event.type == "ping":
                self.count(event.type, "ok")
                text = event.data.get("text")
                self.later(self.write, Pong(text=text if isinstance(text, str) else None).event())
            elif event.type == SYNTHESIZE:
                if self.stream is not None:
                    self.count(event.type, "ignored")  # the stream's text again, for older servers
                    return
                text, voice = text_field(event), voice_field(event)
                self.later(self.speak, event.type, text, *self.choose_voice(voice), True, 0.0)
            elif event.type == SYNTHESIZE_START:
                self.start_stream(voice_field(event))
            elif event.type == SYNTHESIZE_CHUNK:
                self.stream_chunk(text_field(event))
            elif event.type == SYNTHESIZE_STOP:
                self.stop_stream()
            else:
                raise Refusal(f"unknown event type {event.type!r}; this text-to-speech server "
                              f"answers: {', '.join(HANDLED)}", "unknown-event")
        except Refusal as refusal:
            self.count(event.type, refusal.code)
            self.later(self.send_error, refusal)

    def choose_voice(self, voice: dict) -> tuple[str | None, str | None]:
        """(voice name or None for the default, speaker or None) for a `voice` field."""
        if voice.get("name"):
            return voice["name"], voice.get("speaker")
        if voice.get("language"):
            chosen = self.service.voice_for_language(voice["language"])
            if chosen is None:
                languages = sorted({v.language for v in self.service.voices.values()})
                raise Refusal(f"voice: no voice speaks {voice['language']!r}; languages: "
                              f"{', '.join(languages)}", ERROR_CODES[404])
            return chosen.name, voice.get("speaker")
        return None, voice.get("speaker")

    def start_stream(self, voice: dict) -> None:
        if self.stream is not None:
            raise Refusal("synthesize-start: a stream is already open; end it with synthesize-stop",
                          "stream-open")
        self.stream = TextStream(None, None, self.service.settings.max_chars)
        name, speaker = self.choose_voice(voice)  # a Refusal leaves the stream open, voiceless
        try:
            self.stream.voice = self.service.pick_speaking_voice(name, speaker)
        except HTTPException as error:
            raise refusal_of(error) from None
        self.stream.speaker = speaker
        self.count(SYNTHESIZE_START, "ok")

    def stream_chunk(self, text: str) -> None:
        if self.stream is None:
            raise Refusal("synthesize-chunk outside a stream: send synthesize-start first", "no-stream")
        if self.stream.voice is None:
            self.count(SYNTHESIZE_CHUNK, "ignored")  # its voice was refused at synthesize-start
            return
        complete = self.stream.add(text)
        self.count(SYNTHESIZE_CHUNK, "ok")
        if complete is not None:
            sentences, pause_kind = complete
            # Followed by more text: the pause after its last sentence belongs at its end.
            self.later(self.speak, SYNTHESIZE_CHUNK, sentences, self.stream.voice.name,
                       self.stream.speaker, False, pause_seconds(self.stream.voice, pause_kind))

    def stop_stream(self) -> None:
        if self.stream is None:
            raise Refusal("synthesize-stop outside a stream: send synthesize-start first", "no-stream")
        stream, self.stream = self.stream, None
        rest = stream.finish()
        if stream.voice is not None and rest.strip():
            self.later(self.speak, SYNTHESIZE_STOP, rest, stream.voice.name, stream.speaker, False, 0.0)
        self.count(SYNTHESIZE_STOP, "ok")
        self.later(self.write, SynthesizeStopped().event())

    async def speak(self, event_type: str, text: str, voice_name: str | None, speaker: str | None,
                    counted: bool, pause_after: float) -> None:
        """`text` as audio-start, audio-chunk..., audio-stop through the service's queue, then
        `pause_after` seconds of silence before the audio-stop; refusals as an error event.
        `counted`: the answer is counted under `event_type` (a stream's parts count their events)."""
        try:
            await self._speak(text, voice_name, speaker, pause_after)
        except Refusal as refusal:
            if counted:
                self.count(event_type, refusal.code)
            await self.send_error(refusal)
            return
        if counted:
            self.count(event_type, "ok")

    async def _speak(self, text: str, voice_name: str | None, speaker: str | None,
                     pause_after: float) -> None:
        service = self.service
        try:
            # No speed here: Wyoming's synthesize event (wyoming.tts.Synthesize: text, voice,
            # text_format, context) has no speed field, and no event carries word timings.
            voice, synthesizer = service.prepare(text, voice_name, None, None, speaker=speaker)
            chunks = await service.start_stream(uuid.uuid4().hex, text, voice, synthesizer, "pcm",
                                                self.gone)
        except HTTPException as error:
            raise refusal_of(error) from None
        except UserError as error:
            raise Refusal(f"text: {error}", ERROR_CODES[422]) from None
        except QueueFull:
            raise Refusal("the server is busy: every worker is speaking and the queue is full; "
                          "try again shortly", ERROR_CODES[503]) from None
        except JobTimeout:
            raise self.timed_out() from None
        except ClientGone:
            return
        rate = synthesizer.sample_rate
        chunk_bytes = round(rate * CHUNK_SECONDS) * SAMPLE_WIDTH * CHANNELS
        sent = 0  # bytes of audio, for the timestamps (milliseconds since audio-start)
        await self.write(AudioStart(rate=rate, width=SAMPLE_WIDTH, channels=CHANNELS, timestamp=0).event())

        async def send(pcm: bytes) -> None:
            nonlocal sent
            for start in range(0, len(pcm), chunk_bytes):
                piece = pcm[start:start + chunk_bytes]
                await self.write(AudioChunk(rate=rate, width=SAMPLE_WIDTH, channels=CHANNELS, audio=piece,
                                            timestamp=self.milliseconds(sent, rate)).event())
                sent += len(piece)

        try:
            async for pcm in chunks:
                await send(pcm)
        except JobTimeout:
            raise self.timed_out() from None  # no audio-stop: the audio is not whole
        finally:
            await chunks.aclose()
        if pause_after > 0:
            await send(bytes(round(pause_after * rate) * SAMPLE_WIDTH * CHANNELS))
        await self.write(AudioStop(timestamp=self.milliseconds(sent, rate)).event())

    @staticmethod
    def milliseconds(audio_bytes: int, rate: int) -> int:
        """An audio event's timestamp: the milliseconds of audio sent before it."""
        return round(1000 * audio_bytes / (SAMPLE_WIDTH * CHANNELS) / rate)

    def timed_out(self) -> Refusal:
        return Refusal(f"synthesis took longer than {self.service.settings.timeout_seconds:g} s "
                       "(serve.timeout_seconds) and was stopped; send a shorter text", ERROR_CODES[504])


class WyomingServer:
    """Serves Wyoming clients on `listener` (open_listener) with `service`, from start() to stop(),
    in the event loop that runs the HTTP server too (or alone)."""

    def __init__(self, service: SpeechService, listener: socket.socket):
        self.service = service
        self.listener = listener
        self.address = listener_address(listener)
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task] = set()

    async def start(self) -> None:
        if self.listener.family == socket.AF_UNIX:
            self._server = await asyncio.start_unix_server(self._serve, sock=self.listener,
                                                           limit=MAX_EVENT_BYTES)
        else:
            self._server = await asyncio.start_server(self._serve, sock=self.listener,
                                                      limit=MAX_EVENT_BYTES)

    async def stop(self) -> None:
        """Stop listening and end every connection (their synthesis is cancelled)."""
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self.listener.family == socket.AF_UNIX:
            Path(self.address.removeprefix("unix://")).unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        self._connections.add(task)
        try:
            await Connection(self.service, reader, writer).run()
        except asyncio.CancelledError:
            # stop() ends it: finish quietly. asyncio's stream server asks a finished connection task
            # for its exception, which a cancelled one raises, and logs that as an error (Python 3.11).
            writer.close()
        except Exception:  # one connection's failure is logged; the server goes on
            LOG.exception("a Wyoming connection failed")
        finally:
            self._connections.discard(task)

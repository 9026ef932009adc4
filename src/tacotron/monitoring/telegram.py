"""Telegram sink: a run tells a chat when it starts, how it progresses (a card with the alignment
picture and a sample to listen to), at once when something goes wrong, and when it ends.

The bot token and chat id come only from the environment (TELEGRAM_BOT_TOKEN, TELEGRAM_CHAT_ID);
requests go to `{TELEGRAM_API_URL}/bot{token}/{method}` (default base: the official Bot API), so a
test points TELEGRAM_API_URL at a local server (tests/bot_server.py). The token is never
logged: every error text passes through `redact`. Messages are sent from a background thread
(monitoring/delivery.py), so a Telegram outage never slows training.
"""

from __future__ import annotations

import html
import json
import math
import os
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from tacotron.config import MonitorConfig
from tacotron.errors import UserError
from tacotron.monitoring.delivery import DeliveryWorker, PermanentError, RetryAfter, never_raises
from tacotron.runs.events import Event
from tacotron.monitoring.media import MediaCache, SampleMedia
from tacotron.monitoring.progress import format_duration
from tacotron.training.callbacks import Callback, RunView, ValidationSample
from tacotron.training.eta import StepRate, eta_seconds

DEFAULT_API_URL = "https://api.telegram.org"
TOKEN_ENV, CHAT_ENV, API_URL_ENV = "TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "TELEGRAM_API_URL"
REQUEST_TIMEOUT_SECONDS = 30.0
MESSAGE_LIMIT, CAPTION_LIMIT = 4096, 1024  # Bot API limits, in characters
TRACEBACK_LINES = 8


def credentials_from_env() -> tuple[str, str, str]:
    """(token, chat_id, api_url) from the environment; a UserError names what is missing."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    chat_id = os.environ.get(CHAT_ENV, "").strip()
    missing = [name for name, value in ((TOKEN_ENV, token), (CHAT_ENV, chat_id)) if not value]
    if missing:
        raise UserError(f"monitor.telegram=true needs the environment variable(s) "
                        f"{' and '.join(missing)} (the bot token and chat id are never read "
                        "from a config file)")
    api_url = os.environ.get(API_URL_ENV, "").strip() or DEFAULT_API_URL
    return token, chat_id, api_url.rstrip("/")


class BotApi:
    """The few Bot API methods a run needs, over urllib (no request logging that could show
    the token). Errors: 429 -> RetryAfter, other 4xx -> PermanentError, the rest retryable."""

    def __init__(self, token: str, chat_id: str, api_url: str = DEFAULT_API_URL):
        self.token = token
        self.chat_id = chat_id
        self.api_url = api_url.rstrip("/")

    def redact(self, text: str) -> str:
        return text.replace(self.token, "<TELEGRAM_BOT_TOKEN>") if self.token else text

    def send_message(self, text: str) -> dict:
        return self.call("sendMessage", {"text": text[:MESSAGE_LIMIT], "parse_mode": "HTML",
                                         "disable_web_page_preview": True})

    def send_photo(self, png: bytes, caption: str = "") -> dict:
        return self.call("sendPhoto", {"caption": caption[:CAPTION_LIMIT], "parse_mode": "HTML"},
                         files={"photo": ("alignment.png", "image/png", png)})

    def send_audio(self, wav: bytes, caption: str = "", title: str = "sample") -> dict:
        return self.call("sendAudio", {"caption": caption[:CAPTION_LIMIT], "parse_mode": "HTML",
                                       "title": title},
                         files={"audio": (f"{title}.wav", "audio/wav", wav)})

    def call(self, method: str, fields: dict[str, Any],
             files: dict[str, tuple[str, str, bytes]] | None = None) -> dict:
        fields = {"chat_id": self.chat_id, **fields}
        if files:
            body, content_type = multipart_body(fields, files)
        else:
            body, content_type = json.dumps(fields).encode("utf-8"), "application/json"
        request = urllib.request.Request(f"{self.api_url}/bot{self.token}/{method}", data=body,
                                         headers={"Content-Type": content_type}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            answer = _json_or_empty(error.read())
            description = self.redact(str(answer.get("description", error.reason)))
            if error.code == 429:
                retry = float(answer.get("parameters", {}).get("retry_after", 5))
                raise RetryAfter(retry, f"{method}: HTTP 429 {description}") from None
            if 400 <= error.code < 500:
                raise PermanentError(f"{method}: HTTP {error.code} {description}") from None
            raise ConnectionError(f"{method}: HTTP {error.code} {description}") from None
        except urllib.error.URLError as error:
            raise ConnectionError(self.redact(f"{method}: {error.reason}")) from None
        if not answer.get("ok", False):
            raise PermanentError(self.redact(f"{method}: {answer.get('description', answer)}"))
        return answer


def _json_or_empty(data: bytes) -> dict:
    try:
        answer = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return {}
    return answer if isinstance(answer, dict) else {}


def multipart_body(fields: dict[str, Any], files: dict[str, tuple[str, str, bytes]]
                   ) -> tuple[bytes, str]:
    """multipart/form-data (RFC 7578): one part per field, then one per (filename, type, bytes)."""
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        value = json.dumps(value) if isinstance(value, bool) else str(value)
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     .encode() + value.encode("utf-8") + b"\r\n")
    for name, (filename, content_type, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                     + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# ---------------------------------------------------------------------- messages (HTML)
def _e(value: Any) -> str:
    return html.escape(_value(value), quote=False)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{key}={_value(item)}" for key, item in value.items())
    return str(value)


def _metric(values: dict[str, float], key: str, label: str, digits: int = 3) -> str | None:
    if key not in values:
        return None
    return f"{label} {values[key]:.{digits}f}"


def start_message(run: str, event: Event, trainer: RunView) -> str:
    fields, config = event.fields, trainer.config
    until = f"step {fields.get('max_steps', config.train.max_steps)}"
    if fields.get("max_minutes"):
        until += f" or {fields['max_minutes']:g} min"
    lines = [
        f"▶️ <b>{_e(run)}</b> started on {_e(fields.get('device', trainer.device))}",
        f"data: {_e(fields.get('data', ''))} ({_e(fields.get('train_utterances', '?'))} utterances, "
        f"{_e(config.text.language)})",
        f"model: {fields.get('parameters', 0) / 1e6:.2f}M parameters, "
        f"r={config.model.reduction_factor}, batch {config.train.batch_size}, "
        f"lr {config.train.learning_rate:g}, guided attention {config.loss.guided_attention_weight:g}",
        f"until: {_e(until)}",
    ]
    if fields.get("resumed_from"):
        lines.append(f"resumed from {_e(fields['resumed_from'])} at step {event.step}")
    return "\n".join(lines)


def progress_card(run: str, step: int, logs: dict[str, float], val: dict[str, float],
                  val_step: int | None, rate: float | None, eta: float | None,
                  end_step: int | None) -> str:
    """Step, losses, validation alignment, speed and ETA in a few lines."""
    head = f"📈 <b>{_e(run)}</b> step {step}" + (f" / {end_step}" if end_step else "")
    losses = [_metric(logs, "total", "loss"), _metric(logs, "postnet_l1", "mel L1"),
              _metric(logs, "gate", "gate"), _metric(logs, "guided_attention", "guided", 4)]
    lines = [head, " · ".join(item for item in losses if item)]
    if not math.isfinite(logs.get("total", 0.0)):
        lines.append("⚠️ loss is not finite")
    if val:
        scores = [_metric(val, "mel_l1", "val mel L1"), _metric(val, "diagonality", "diagonality", 2),
                  _metric(val, "focus_rate", "focus", 2), _metric(val, "gate_accuracy", "gate acc", 2),
                  _metric(val, "wer", "WER", 2), _metric(val, "cer", "CER", 2),
                  _metric(val, "mos", "MOS", 2)]
        lines.append(" · ".join(item for item in scores if item) + f" (step {val_step})")
    if rate:
        lines.append(f"{rate:.2f} steps/s" + (f" · ETA {format_duration(eta)}"
                                             if eta is not None else ""))
    return "\n".join(lines)


def event_message(run: str, event: Event) -> str:
    """An immediate message for an alert, auto-fix, phase change, crash or any other event."""
    f, head = event.fields, f"<b>{_e(run)}</b> step {event.step}"
    if event.kind == "alert":
        extra = {k: v for k, v in f.items() if k not in ("rule", "message")}
        return "\n".join([f"⚠️ {head}: <b>{_e(f.get('rule', 'alert'))}</b>",
                          _e(f.get("message", "")), *([_e(extra)] if extra else [])]).strip()
    if event.kind == "autofix":
        lines = [f"🛠 {head}: auto-fix <b>{_e(f.get('rule', '?'))}</b>"]
        if "observed" in f:
            lines.append(f"observed: {_e(f['observed'])}")
        action = _e(f.get("action", ""))
        if "before" in f or "after" in f:
            action += f" ({_e(f.get('before', '?'))} → {_e(f.get('after', '?'))})"
        lines.append(f"action: {action}")
        return "\n".join(lines)
    if event.kind == "phase":
        text = f"🔀 {head}: phase {_e(f.get('from', '?'))} → <b>{_e(f.get('to', '?'))}</b>"
        return text + (f"\n{_e(f['reason'])}" if f.get("reason") else "")
    if event.kind == "crash":
        tail = "\n".join(str(f.get("traceback", "")).splitlines()[-TRACEBACK_LINES:])
        text = f"💥 {head}: crashed\n{_e(f.get('error', ''))}"
        return text + (f"\n<pre>{html.escape(tail, quote=False)}</pre>" if tail else "")
    return f"ℹ️ <b>{_e(run)}</b> {_e(event.summary())}"


def finish_message(run: str, trainer: RunView, reason: str, suppressed: int) -> str:
    val = trainer.last_val_metrics
    lines = [f"✅ <b>{_e(run)}</b> finished: {_e(reason)} at step {trainer.step} "
             f"({format_duration(trainer.train_seconds)} of training)"]
    if math.isfinite(trainer.best_val_mel_l1):
        lines.append(f"best val mel L1 {trainer.best_val_mel_l1:.3f}")
    if val:
        scores = [_metric(val, "mel_l1", "last val mel L1"),
                  _metric(val, "diagonality", "diagonality", 2),
                  _metric(val, "focus_rate", "focus", 2),
                  _metric(val, "gate_accuracy", "gate acc", 2)]
        lines.append(" · ".join(item for item in scores if item))
    if suppressed:
        lines.append(f"{suppressed} repeated alert(s) were held back by the cooldown")
    return "\n".join(lines)


# ---------------------------------------------------------------------- the sink
class AlertGate:
    """Cooldown and de-duplication: an alert with the same key within `cooldown` seconds of the
    last one sent is counted instead of sent; the next one sent says how many were held back."""

    def __init__(self, cooldown: float, clock=time.monotonic):
        self.cooldown = cooldown
        self.clock = clock
        self.last_sent: dict[tuple, float] = {}
        self.held: dict[tuple, int] = {}

    def admit(self, key: tuple) -> tuple[bool, int]:
        """(send it?, how many of this key were held back since the last one sent)."""
        now = self.clock()
        last = self.last_sent.get(key)
        if last is not None and now - last < self.cooldown:
            self.held[key] = self.held.get(key, 0) + 1
            return False, 0
        self.last_sent[key] = now
        return True, self.held.pop(key, 0)

    def total_held(self) -> int:
        return sum(self.held.values())


class TelegramNotifier(Callback):
    QUIET = ("validation", "checkpoint", "train_end")  # told by progress cards / finish message

    def __init__(self, monitor: MonitorConfig, bot: BotApi, media: MediaCache | None = None):
        self.monitor = monitor
        self.bot = bot
        self.media = media or MediaCache()
        self.redact = bot.redact
        self.worker = DeliveryWorker("telegram", monitor.queue_size, monitor.retry_attempts,
                                     monitor.retry_backoff_seconds, redact=bot.redact)
        self.alerts = AlertGate(monitor.telegram_alert_cooldown_seconds)
        self.rate = StepRate()
        self.pending: SampleMedia | None = None
        self.val: dict[str, float] = {}
        self.val_step: int | None = None
        self.last_logs: dict[str, float] = {}
        self.closed = False

    @classmethod
    def from_env(cls, monitor: MonitorConfig, media: MediaCache | None = None) -> "TelegramNotifier":
        return cls(monitor, BotApi(*credentials_from_env()), media)

    def run_name(self, trainer: RunView) -> str:
        return trainer.run_dir.resolve().name

    def send_text(self, description: str, text: str) -> None:
        self.worker.submit(description, lambda: self.bot.send_message(text))

    @never_raises
    def on_event(self, trainer: RunView, event: Event) -> None:
        run = self.run_name(trainer)
        if event.kind == "train_start":
            self.send_text("start message", start_message(run, event, trainer))
        elif event.kind in self.QUIET:
            return
        elif event.kind == "crash":
            self.send_text(f"crash alert step {event.step}", event_message(run, event))
            self.close()
        elif event.kind == "autofix":
            # Each action changed the run; the controller's own cooldown and max_actions already
            # keep them few, so none is held back.
            self.send_text(f"autofix step {event.step}", event_message(run, event))
        else:
            key = (event.kind, str(event.fields.get("rule", event.fields.get("to", ""))))
            send, held = self.alerts.admit(key)
            if send:
                text = event_message(run, event)
                if held:
                    text += f"\n({held} more like this held back by the cooldown)"
                self.send_text(f"{event.kind} step {event.step}", text)

    @never_raises
    def on_validation_end(self, trainer: RunView, metrics: dict[str, float],
                          sample: ValidationSample | None) -> None:
        self.val, self.val_step = dict(metrics), trainer.step
        if sample is not None:
            self.pending = self.media.get(trainer.step, sample, trainer.config.audio)

    @never_raises
    def on_step_end(self, trainer: RunView, logs: dict[str, float]) -> None:
        self.rate.add(trainer.step, logs.get("seconds", 0.0))
        self.last_logs = logs
        every = (self.monitor.telegram_progress_every_steps
                 or trainer.config.train.val_every_steps)
        if trainer.step % every == 0:
            self.send_card(trainer, logs)

    def send_card(self, trainer: RunView, logs: dict[str, float]) -> None:
        """A progress card; with the alignment picture and audio of a validation not shown yet."""
        rate = self.rate.steps_per_second()
        eta, end_step = eta_seconds(trainer.step, trainer.config.train.max_steps,
                                    logs.get("seconds", 0.0),
                                    trainer.config.train.max_minutes * 60.0, rate)
        card = progress_card(self.run_name(trainer), trainer.step, dict(logs), self.val,
                             self.val_step, rate, eta, end_step)
        media, self.pending = self.pending, None
        if media is None:
            self.send_text(f"progress card step {trainer.step}", card)
            return
        self.send_media(f"progress card step {trainer.step}", media, card)

    def send_media(self, description: str, media: SampleMedia, caption: str) -> None:
        self.worker.submit(description, lambda: self.bot.send_photo(media.png, caption))
        if self.monitor.telegram_send_audio:
            audio_caption = f"step {media.step}: {_e(media.text[:200])}"
            self.worker.submit(f"audio sample step {media.step}",
                               lambda: self.bot.send_audio(media.wav, audio_caption,
                                                           f"step_{media.step:07d}"))

    @never_raises
    def on_train_end(self, trainer: RunView, reason: str) -> None:
        if self.pending is not None:  # the last validation came after the last card
            self.send_card(trainer, self.last_logs)
        self.send_text("finish message", finish_message(self.run_name(trainer), trainer, reason,
                                                        self.alerts.total_held()))
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.worker.close(self.monitor.flush_seconds)

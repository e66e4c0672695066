"""The ``emoalign`` command: one group, one module per sub-command family.

Command modules only parse arguments, call library functions and print; the work happens in the
library packages (affect, data, encode, store, pair, learn, eval, serve).
"""

from __future__ import annotations

from importlib import import_module

import click

from emoalign import __version__

#: (module in emoalign.cli, attribute): each attribute is a click command or group.
COMMANDS: list[tuple[str, str]] = [
    ("taxonomy", "taxonomy"),
    ("datasets", "datasets"),
    ("fixtures", "fixtures"),
    ("demo", "demo"),
    ("analyze", "analyze"),
    ("analyze", "backends"),
    ("train", "train"),
    ("train", "evaluate"),
    ("pairs", "pairs"),
    ("pairs", "matching"),
    ("retrieval", "adapter"),
    ("retrieval", "index"),
    ("retrieval", "match"),
    ("serve", "serve"),
    ("features", "features"),
]


class _Emoalign(click.Group):
    """The root group: turns the library's errors into one-line messages and exit codes.

    A traceback is for bugs, not for bad input: errors emoalign raises on purpose (bad files, a
    busy or existing output folder, undecodable text) print ``error: <message>`` and exit 1;
    Ctrl-C/SIGTERM exits 130 after saying what was kept. ``EMOALIGN_DEBUG=1`` shows tracebacks.
    """

    def invoke(self, ctx: click.Context):
        from emoalign.cli.errors import handle

        with handle(ctx):
            return super().invoke(ctx)


@click.group(cls=_Emoalign, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="emoalign")
def cli() -> None:
    """Multimodal emotion understanding and emotion-aware music–image matching."""


def _register() -> None:
    for module, attr in COMMANDS:
        try:
            mod = import_module(f"emoalign.cli.{module}")
        except ModuleNotFoundError as exc:
            if exc.name == f"emoalign.cli.{module}":
                continue  # command family not built yet
            raise
        if hasattr(mod, attr):
            cli.add_command(getattr(mod, attr))


_register()


def main() -> None:
    cli(prog_name="emoalign")

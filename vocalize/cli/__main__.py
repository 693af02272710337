"""``python -m vocalize.cli``: the ``vocalize`` command."""

from . import run

run()

"""``python -m vocalize.cli``: the ``vocalize`` command."""

from . import main

main()

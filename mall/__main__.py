"""``python -m mall …`` is the same as the ``mall`` command."""

from mall.cli import main

main()

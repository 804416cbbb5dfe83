"""``python -m tracker`` is the ``ice-tracker`` command."""

from tracker.cli import main

main()

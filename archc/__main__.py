"""`python -m archc` is the `archc` command."""

from archc.cli import run

run()

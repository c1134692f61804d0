"""``python -m gemgate``."""

from gemgate.cli import app

app()

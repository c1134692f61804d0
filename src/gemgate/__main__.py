"""``gemgate`` and ``python -m gemgate``: the command line, or what to install for it."""

from __future__ import annotations

import sys

__all__ = ["main"]

_EXTRA_OF = {"typer": "emulator", "rich": "emulator", "uvicorn": "emulator"}


SERVERS = ("serve", "emulate")
"""Commands whose process serves until stopped: they run on glibc's malloc (`gemgate._heap`)."""


def main() -> None:
    """Run the command line; without its packages, say which extra brings them."""
    if sys.argv[1:2] and sys.argv[1] in SERVERS and "--help" not in sys.argv:
        from gemgate._heap import run_on_malloc

        run_on_malloc()
    try:
        from gemgate.cli import app
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        extra = _EXTRA_OF.get(missing, "gateway")
        print(
            f"gemgate: the command line needs {missing!r}, which is not installed: "
            f"pip install 'gemgate[{extra}]' (or 'gemgate[gateway]' for `gemgate serve`)",
            file=sys.stderr,
        )
        raise SystemExit(2) from None
    app()


if __name__ == "__main__":
    main()

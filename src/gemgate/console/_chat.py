r"""``gemgate chat``: a terminal chat on a running gateway's session, streamed as it comes.

It talks to the gateway's sessions API: ``POST /api/v1/sessions`` makes a session,
``POST /api/v1/sessions/{id}/messages`` with ``"stream": true`` answers a turn as
server-sent events (``text_delta`` … ``final_answer``, or ``error``), ``GET`` on a session
reads its messages, and ``GET /v1/models`` lists the models.

Lines come from standard input, so a chat can be piped in; a line ending with ``\``
continues on the next one. Ctrl-C during an answer stops that answer; at the prompt,
Ctrl-C or Ctrl-D leaves.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gemgate.console._http import (
    DEFAULT_URL,
    GatewayClient,
    GatewayError,
    KeyOption,
    UrlOption,
    fail,
)

__all__ = ["Chat", "chat", "read_message"]

SESSIONS = "/api/v1/sessions"
HELP = r"""commands:
  /model NAME   use the model NAME from the next turn on (/model alone lists the models)
  /new          start a new session
  /history      this session's messages
  /sessions     every session
  /help         this help
  /quit         leave (Ctrl-D too; Ctrl-C stops an answer, or leaves at the prompt)
A line ending with \ continues on the next line."""

Readline = Callable[[str], "str | None"]
"""Reads one line, showing a prompt; None at the end of input."""


def chat(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    session: Annotated[
        str | None, typer.Option("--session", help="Resume this session (by id).")
    ] = None,
    model: Annotated[
        str | None,
        typer.Option("--model", help="The model to talk to (default: the gateway's)."),
    ] = None,
) -> None:
    """Chat with a running gateway in the terminal, on a stored session (/help for commands)."""
    console = Console(highlight=False, emoji=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
    with GatewayClient(url, key) as gateway:
        room = Chat(gateway, console, errors, model)
        try:
            room.open(session)
        except GatewayError as exc:
            fail(str(exc))
        room.run(_readline())


def read_message(readline: Readline) -> str | None:
    r"""One message: a line, or several joined when each but the last ends with ``\``."""
    lines: list[str] = []
    while True:
        line = readline("… " if lines else "› ")
        if line is None:
            return "\n".join(lines) if lines else None
        if line.endswith("\\"):
            lines.append(line[:-1])
            continue
        lines.append(line)
        return "\n".join(lines)


def _readline() -> Readline:
    """Lines from the terminal (with a prompt and line editing) or from piped input."""
    if sys.stdin.isatty():

        def prompt(text: str) -> str | None:
            try:
                return input(text)
            except EOFError:
                return None

        return prompt

    def piped(text: str) -> str | None:
        line = sys.stdin.readline()
        return line.rstrip("\r\n") if line else None

    return piped


class Chat:
    """One terminal chat: the current session and model, the commands and the turns."""

    def __init__(
        self, gateway: GatewayClient, console: Console, errors: Console, model: str | None
    ) -> None:
        self.gateway = gateway
        self.console = console
        self.errors = errors
        self.model = model
        self.session_id = ""

    def open(self, session_id: str | None) -> None:
        """Resume ``session_id``, or start a new session."""
        if session_id is None:
            self.new()
            return
        info = self.gateway.get_json(f"{SESSIONS}/{session_id}")
        self.session_id = str(info["id"])
        count = len(info.get("messages", []))
        self._note(f"session {self.session_id} resumed ({count} messages) · {self._model()}")

    def new(self) -> None:
        """Start a new session and make it the current one."""
        info = self.gateway.post_json(SESSIONS, {"title": "gemgate chat"})
        self.session_id = str(info["id"])
        self._note(f"session {self.session_id} · {self._model()} · /help for commands")

    def run(self, readline: Readline) -> None:
        """Read messages and commands until ``/quit``, the end of input or Ctrl-C."""
        while True:
            try:
                text = read_message(readline)
            except KeyboardInterrupt:
                self.console.print()
                return
            if text is None:
                return
            if not text.strip():
                continue
            if text.startswith("/"):
                if not self.command(text.strip()):
                    return
                continue
            self.send(text)

    def command(self, line: str) -> bool:
        """Run a slash command; False to leave."""
        name, _, argument = line.partition(" ")
        argument = argument.strip()
        actions: dict[str, Callable[[], None]] = {
            "/new": self.new,
            "/history": self.history,
            "/sessions": self.sessions,
            "/help": lambda: self.console.print(HELP, markup=False),
            "/model": lambda: self.use_model(argument) if argument else self.models(),
        }
        if name in ("/quit", "/exit"):
            return False
        action = actions.get(name)
        if action is None:
            self.error(f"unknown command {name} (/help lists them)")
            return True
        try:
            action()
        except GatewayError as exc:
            self.error(str(exc))
        except KeyboardInterrupt:
            self._note("(stopped)")
        return True

    def send(self, text: str) -> None:
        """Send one turn and print the answer as it streams."""
        body: dict[str, Any] = {"content": text, "stream": True}
        if self.model:
            body["model"] = self.model
        events = self.gateway.events(f"{SESSIONS}/{self.session_id}/messages", body)
        streamed = False
        try:
            streamed = self._print(events)
        except KeyboardInterrupt:
            events.close()  # closes the response: the gateway stops the turn
            self._end(streamed=True)
            self._note("(answer stopped)")
            return
        except GatewayError as exc:
            self._end(streamed)
            self.error(str(exc))
            return
        self._end(streamed)

    def _print(self, events: Iterator[dict[str, Any]]) -> bool:
        """Print the events' text as it comes; whether anything was printed on the line."""
        streamed = False
        for event in events:
            kind = event.get("type")
            if kind == "text_delta":
                self.console.print(str(event.get("text", "")), end="", markup=False)
                streamed = True
            elif kind == "final_answer" and not streamed and event.get("text"):
                self.console.print(str(event["text"]), end="", markup=False)
                streamed = True
            elif kind == "function_call":
                self._end(streamed)
                streamed = False
                self._note(f"(calls {event.get('name')})")
            elif kind == "max_iterations":
                self._end(streamed)
                streamed = False
                self.error("the model kept calling tools; the turn was stopped")
            elif kind == "error":
                self._end(streamed)
                streamed = False
                self.error(str(event.get("message") or "the gateway reported an error"))
        return streamed

    def history(self) -> None:
        """Print the current session's messages."""
        info = self.gateway.get_json(f"{SESSIONS}/{self.session_id}")
        messages = info.get("messages", [])
        if not messages:
            self._note("(no messages yet)")
        for message in messages:
            parts = message.get("parts", [])
            text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
            calls = [p["functionCall"].get("name") for p in parts if "functionCall" in p]
            if calls and not text:
                text = f"(calls {', '.join(map(str, calls))})"
            role = message.get("role")
            who = "you" if role == "user" else message.get("metadata", {}).get("model") or role
            self.console.print(Text.assemble((f"{who}: ", "bold cyan"), text))

    def sessions(self) -> None:
        """List the sessions (the current one marked)."""
        listed = self.gateway.get_json(SESSIONS).get("sessions", [])
        table = Table(title="sessions", title_justify="left")
        table.add_column("")
        table.add_column("id", no_wrap=True, min_width=32)
        table.add_column("title")
        table.add_column("msgs", justify="right")
        table.add_column("updated", no_wrap=True)
        for info in listed:
            updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(info.get("updated_at", 0)))
            table.add_row(
                "*" if info.get("id") == self.session_id else "",
                str(info.get("id")),
                str(info.get("title") or ""),
                str(info.get("message_count", 0)),
                updated,
            )
        self.console.print(table)

    def models(self) -> None:
        """List the gateway's models (the current one marked)."""
        listed = self.gateway.get_json("/v1/models").get("data", [])
        names = [str(m.get("id")) for m in listed if isinstance(m, dict)]
        for name in names:
            mark = "*" if name == self.model else " "
            self.console.print(f"{mark} {name}", markup=False)
        self._note(f"{self._model()}; /model NAME switches")

    def use_model(self, name: str) -> None:
        """Use ``name`` from the next turn on."""
        self.model = name.removeprefix("models/")
        self._note(f"model {self.model} from the next turn on")

    def error(self, message: str) -> None:
        """One error line; the chat goes on."""
        self.errors.print(Text.assemble(("error: ", "red"), message))

    def _model(self) -> str:
        return f"model {self.model}" if self.model else "the gateway's default model"

    def _note(self, message: str) -> None:
        self.console.print(Text(message, style="dim"))

    def _end(self, streamed: bool) -> None:
        """End the answer's line, if one was started."""
        if streamed:
            self.console.print()

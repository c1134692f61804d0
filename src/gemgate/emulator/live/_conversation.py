"""A Live session's conversation: history, outstanding tool calls and buffered realtime input.

``clientContent`` turns are appended as sent. Realtime input is buffered until a turn ends
(``text``, ``audioStreamEnd`` or ``activityEnd``) and then becomes one user turn: the
audio chunks joined into one ``inlineData`` part, the latest video frame, then the text.
Model turns hold what was actually sent, so an interrupted reply is kept only up to the
interruption. With ``contextWindowCompression`` the oldest turns slide out once the
history passes the trigger size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gemgate.emulator._tokens import count_contents
from gemgate.emulator.live._audio import join_audio
from gemgate.emulator.live._resumption import Snapshot
from gemgate.emulator.live._wire import INVALID, LiveClose

__all__ = ["Conversation"]


def _is_user_turn(content: dict[str, Any]) -> bool:
    parts = content.get("parts", [])
    return content.get("role", "user") == "user" and any("functionResponse" not in p for p in parts)


@dataclass
class Conversation:
    """Everything a session remembers (and a resumption handle restores)."""

    history: list[dict[str, Any]] = field(default_factory=list)
    pending_calls: list[dict[str, Any]] = field(default_factory=list)
    audio: list[str] = field(default_factory=list)
    audio_mime: str = "audio/pcm;rate=16000"
    frame: dict[str, Any] | None = None

    @classmethod
    def restore(cls, snapshot: Snapshot) -> Conversation:
        """The conversation a resumption snapshot holds."""
        return cls(history=snapshot.history, pending_calls=snapshot.pending_calls)

    def snapshot(self, project: str, model: str) -> Snapshot:
        """A resumable copy of this conversation (buffered input is not part of it)."""
        return Snapshot(project, model, self.history, self.pending_calls)

    def add_turns(self, turns: list[dict[str, Any]]) -> None:
        """Append ``clientContent`` turns (role defaults to ``user``)."""
        for turn in turns:
            self.history.append({"role": turn.get("role") or "user", "parts": turn["parts"]})

    def buffer_audio(self, blob: dict[str, Any]) -> None:
        """Keep an audio chunk for the next realtime turn."""
        if not self.audio:
            self.audio_mime = blob.get("mimeType", self.audio_mime)
        self.audio.append(blob.get("data", ""))

    def buffer_frame(self, blob: dict[str, Any]) -> None:
        """Keep the latest video frame (or image) for the next realtime turn."""
        self.frame = {"mimeType": blob.get("mimeType", "image/jpeg"), "data": blob.get("data", "")}

    @property
    def buffered(self) -> bool:
        """Whether realtime input waits for the end of its turn."""
        return bool(self.audio) or self.frame is not None

    def end_realtime_turn(self, text: str = "") -> bool:
        """Turn buffered input (and ``text``) into a user turn; False if there was none."""
        parts: list[dict[str, Any]] = []
        if self.audio:
            parts.append(
                {"inlineData": {"mimeType": self.audio_mime, "data": join_audio(self.audio)}}
            )
        if self.frame is not None:
            parts.append({"inlineData": self.frame})
        if text:
            parts.append({"text": text})
        self.audio, self.frame = [], None
        if parts:
            self.history.append({"role": "user", "parts": parts})
        return bool(parts)

    def add_model(self, parts: list[dict[str, Any]]) -> None:
        """Append what the model sent."""
        if parts:
            self.history.append({"role": "model", "parts": parts})

    def answer_calls(self, responses: list[dict[str, Any]]) -> bool:
        """Record ``toolResponse`` answers; True once every pending call is answered."""
        pending = {call["id"]: call for call in self.pending_calls}
        parts = []
        for response in responses:
            call = pending.pop(response.get("id", ""), None)
            if call is None:
                raise LiveClose(
                    INVALID,
                    f"Function response id '{response.get('id', '')}' does not match a "
                    "pending function call.",
                )
            parts.append({"functionResponse": {"name": call["name"], **response}})
        self.history.append({"role": "user", "parts": parts})
        self.pending_calls = list(pending.values())
        return not self.pending_calls

    def cancel_calls(self) -> list[str]:
        """Forget the outstanding calls; return their ids."""
        ids = [call["id"] for call in self.pending_calls]
        self.pending_calls = []
        return ids

    def compress(self, trigger: int, target: int) -> None:
        """Slide the oldest turns out once the history is over ``trigger`` tokens."""
        if count_contents(self.history) <= trigger:
            return
        while self.history and count_contents(self.history) > target:
            self.history.pop(0)
            while self.history and not _is_user_turn(self.history[0]):
                self.history.pop(0)

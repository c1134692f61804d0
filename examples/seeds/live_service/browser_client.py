"""A browser's side of the seed's WebSocket consumer, against ``gemgate serve``'s /ws/live."""

import asyncio
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

import httpx2
import websockets


def free_port() -> int:
    """A free port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def turn(ws: websockets.ClientConnection, frame: dict[str, str]) -> dict[str, object]:
    """Send one frame; print transcriptions; return the turn's last event."""
    await ws.send(json.dumps(frame))
    while True:
        event = json.loads(await ws.recv())
        if event["type"] == "transcription":
            print("  heard:", event["text"])
        if event["type"] in ("turn_complete", "error"):
            return dict(event)


async def converse(base: str) -> None:
    """Text, an image and audio in one conversation, then its stored messages."""
    async with websockets.connect(base.replace("http", "ws") + "/ws/live?user=mina") as ws:
        session = json.loads(await ws.recv())["id"]
        answer = await turn(ws, {"type": "text", "content": "Hello from the browser!"})
        print("text  <", str(answer["text"])[:70], "...", f"({answer['processing_time']} s)")
        picture = base64.b64encode(b"\x89PNG\r\n\x1a\n not really a picture").decode()
        answer = await turn(ws, {"type": "image", "data": picture, "prompt": "What is this?"})
        print("image <", str(answer["text"])[:70], "...")
        pcm = base64.b64encode(struct.pack("<1600h", *([800, -800] * 800))).decode()
        await ws.send(json.dumps({"type": "audio", "data": pcm}))  # 100 ms at 16 kHz
        answer = await turn(ws, {"type": "audio_end"})
        print("audio <", str(answer["text"])[:70], "...")
    async with httpx2.AsyncClient(base_url=base) as http:
        stored = (await http.get(f"/api/v1/sessions/{session}")).json()["messages"]
    for message in stored:
        print(f"stored: {message['sender']:<9} {message['message_type']:<6}", end=" ")
        print(f"{message['processing_time'] or 0:.3f} s")


def main() -> None:
    """Start ``gemgate serve`` (emulator upstream, a throwaway SQLite file) and talk to it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GEMGATE_SESSIONS_URL": f"sqlite:///{home}/chat.db"}
        server = subprocess.Popen(
            [sys.executable, "-m", "gemgate", "serve", "--port", str(port)],
            env=env,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(200):
                try:
                    httpx2.get(f"{base}/healthz")
                    break
                except httpx2.TransportError:
                    time.sleep(0.05)  # noqa: TID251 - no event loop runs here yet
            asyncio.run(converse(base))
        finally:
            server.terminate()
            server.wait(timeout=30)


main()

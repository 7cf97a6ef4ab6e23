"""A small /ws/tts/ client for the tests and the benchmark: a reader thread collects every message and the audio
of each context's pieces (a binary frame belongs to the `audio` header just before it), with arrival times."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections import defaultdict

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect


class LiveSocket:
    def __init__(self, url: str, *, headers: dict | None = None) -> None:
        self._exit = contextlib.ExitStack()
        self.ws = self._exit.enter_context(
            connect(url, additional_headers=headers or {}, open_timeout=30, max_size=None)
        )
        self.messages: list[dict] = []
        self.audio: dict[str, dict[int, bytearray]] = defaultdict(lambda: defaultdict(bytearray))
        self.first_audio_at: dict[tuple[str, int], float] = {}
        self.protocol_errors: list[str] = []  # a binary frame without its `audio` header just before it
        self.closed = threading.Event()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        header = None
        try:
            while True:
                frame = self.ws.recv()
                now = time.monotonic()
                with self._changed:
                    if isinstance(frame, bytes):
                        if header is None or header["bytes"] != len(frame):
                            self.protocol_errors.append(f"binary frame of {len(frame)} bytes after {header}")
                            continue
                        key = (header["context_id"], header["piece"])
                        self.audio[key[0]][key[1]] += frame
                        self.first_audio_at.setdefault(key, now)
                        header = None
                    else:
                        message = json.loads(frame)
                        message["_at"] = now
                        if message["type"] == "audio":
                            header = message
                        self.messages.append(message)
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        finally:
            self.closed.set()
            with self._changed:
                self._changed.notify_all()

    def send(self, **message) -> float:
        self.ws.send(json.dumps(message))
        return time.monotonic()

    def wait_for(self, predicate, timeout: float = 60) -> dict:
        """The first message (in arrival order) for which `predicate` holds, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for message in self.messages:
                    if predicate(message):
                        return message
                left = deadline - time.monotonic()
                if left <= 0 or self.closed.is_set():
                    raise AssertionError(f"no such message after {timeout}s; got {self.types()}")
                self._changed.wait(left)

    def done(self, context_id: str, timeout: float = 90) -> dict:
        return self.wait_for(lambda m: m["type"] == "done" and m["context_id"] == context_id, timeout)

    def of(self, context_id: str, kind: str) -> list[dict]:
        return [m for m in self.messages if m.get("context_id") == context_id and m["type"] == kind]

    def joined_audio(self, context_id: str) -> bytes:
        pieces = self.audio[context_id]
        return b"".join(bytes(pieces[n]) for n in sorted(pieces))

    def types(self) -> list[str]:
        return [f"{m['type']}:{m.get('code', '')}" for m in self.messages]

    def close(self) -> None:
        self._exit.close()
        self._reader.join(timeout=10)

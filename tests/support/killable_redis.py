"""A Redis server of a test's own on a fixed port: started, SIGKILLed and started again on the same port, empty
(no persistence), as a crashed Redis comes back."""

from __future__ import annotations

import signal
import subprocess

from odiadev.embedded_redis import _free_port, _wait_until_up, server_command


class KillableRedis:
    def __init__(self, data_dir) -> None:
        self.port = _free_port()
        self.data_dir = str(data_dir)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            server_command(self.port, self.data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _wait_until_up(self.port, self.proc)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

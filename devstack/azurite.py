"""Start and stop Azurite (npm package, installed by the Makefile into .tools/) on free ports.

`Azurite(location=...)` persists to that folder, so `restart()` (or stopping and starting Azurite on
the same folder) loses nothing; `python -m devstack.azurite` and `make demo` use `.azurite/` in the
work tree. Without a location it runs in memory (the tests: fast, nothing left behind)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port, wait_listening

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LOCATION = ROOT / ".azurite"
# The emulator's well-known public development key (published in Microsoft's Azurite docs).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_binary() -> str:
    local = ROOT / ".tools" / "node_modules" / ".bin" / "azurite"
    if local.exists():
        return str(local)
    found = shutil.which("azurite")
    if not found:
        raise RuntimeError("Azurite is not installed: run `make setup` (npm install into .tools/)")
    return found


@dataclass
class Azurite:
    """A running Azurite with blob, queue and table services on free loopback ports."""

    blob_port: int = field(default_factory=free_port)
    queue_port: int = field(default_factory=free_port)
    table_port: int = field(default_factory=free_port)
    location: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    workdir: str | None = None

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{self.blob_port}/{DEV_ACCOUNT};"
            f"QueueEndpoint=http://127.0.0.1:{self.queue_port}/{DEV_ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{self.table_port}/{DEV_ACCOUNT};"
        )

    def start(self) -> Azurite:
        # cwd is a temp folder for Azurite's debris; data lives in `location`, or in memory.
        self.workdir = self.workdir or tempfile.mkdtemp(prefix="azurite-")
        if self.location is not None:
            self.location.mkdir(parents=True, exist_ok=True)
            persistence = ["--location", str(self.location)]
        else:
            persistence = ["--inMemoryPersistence"]
        args = [
            azurite_binary(), "--silent", *persistence, "--skipApiVersionCheck",
            "--disableTelemetry", "--loose",
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            args,
            cwd=self.workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        for port in (self.blob_port, self.queue_port, self.table_port):
            wait_listening(port, timeout=60)
        return self

    def kill(self, *, graceful: bool = True) -> None:
        """Stop the Azurite process only (the data folder and ports stay for `start`)."""
        if self.process and self.process.poll() is None:
            if graceful:
                self.process.terminate()
            else:
                self.process.kill()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop Azurite, stay down `down_seconds`, start it again on the same ports and data."""
        self.kill()
        time.sleep(down_seconds)
        self.start()

    def stop(self) -> None:
        self.kill()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    with Azurite(location=DEFAULT_LOCATION) as az:
        print(az.connection_string, flush=True)
        try:
            assert az.process is not None
            az.process.wait()
        except KeyboardInterrupt:
            pass
    os._exit(0)

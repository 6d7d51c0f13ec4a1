"""`helpdesk serve --workers 2`, really started: a burst of connections is spread over both workers."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HELPDESK = Path(sys.executable).parent / "helpdesk"
CONNECTIONS = 32
# The spread is the Linux kernel's (SO_REUSEPORT), and the connections are counted from /proc.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _established_inodes(port: int) -> set[str]:
    """Inodes of the established TCP connections whose local end is `port` (the server's side)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
            inodes.add(fields[9])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def _service_env(data_dir: Path) -> dict[str, str]:
    seed = data_dir / "no-articles"
    seed.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HELPDESK_", "RASA_", "DATABASE_URL"))}
    return env | {
        "HELPDESK_DATA_DIR": str(data_dir),
        "HELPDESK_SECRET_KEY": "serving-test-secret",
        # The demo directory and dev mailbox: `helpdesk serve` refuses them otherwise.
        "HELPDESK_DEMO": "true",
        "HELPDESK_KB_SEED_DIR": str(seed),
        "HELPDESK_KB_WARM_START": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """The service with two workers on a free port: (port, supervisor pid)."""
    env = _service_env(tmp_path)
    port = _free_port()
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [str(HELPDESK), "serve", "--workers", "2", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while (tmp_path / "serve.log").read_text().count("Application startup complete") < 2:
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the service did not start in 120 s"
            time.sleep(0.2)
        assert _healthy(port)
        yield port, server.pid
    finally:
        _stop(server)
        log.close()


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_connections_waiting_for_busy_workers_are_spread_over_them(two_workers: tuple[int, int]) -> None:
    """After a restart (or with both workers busy) connections wait in the kernel's queue. With one socket
    shared by the workers, the first worker to look accepts every one of them (asyncio accepts all that
    wait) and keeps them: keep-alive clients stay on it. With a socket per worker each finds its share."""
    port, supervisor = two_workers
    workers = [pid for pid in _children(supervisor) if _socket_inodes(pid)]
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    try:
        clients = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(CONNECTIONS)]
    finally:
        for pid in workers:  # one after the other, as workers finish starting after a restart
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.5)
    try:
        request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()
        for client in clients:
            client.sendall(request)
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")
        connections = _established_inodes(port)
        held = {pid: len(_socket_inodes(pid) & connections) for pid in workers}
    finally:
        for client in clients:
            client.close()
    assert sum(held.values()) == CONNECTIONS
    # Spread by the kernel's hash of each connection: fewer than 5 on either of two workers happens once
    # in 50,000 runs.
    assert min(held.values()) >= 5, held


def test_a_port_in_use_is_said_plainly(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [str(HELPDESK), "serve", "--workers", "2", "--port", str(port)],
            env=_service_env(tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("trusted", "blocked"), [("10.9.9.9", True), ("*", False)])
def test_failed_sign_ins_count_per_client_behind_a_trusted_proxy(
    tmp_path: Path, trusted: str, blocked: bool
) -> None:
    """Behind a proxy every request comes from the proxy's address: with its forwarded client address
    not believed, every agent shared one failed-sign-in budget (one person's typos locked out all)."""
    env = _service_env(tmp_path) | {"HELPDESK_TRUSTED_PROXIES": trusted}
    port = _free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [str(HELPDESK), "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 120
            while not _healthy(port):
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the service did not start in 120 s"
                time.sleep(0.2)
            url = f"http://127.0.0.1:{port}/api/v1/queues/l2"
            # One client, ten wrong tokens: its budget is spent.
            for n in range(10):
                wrong = {"Authorization": f"Bearer hd_wrong{n}", "X-Forwarded-For": "203.0.113.7"}
                assert httpx.get(url, headers=wrong, timeout=10).status_code == 401
            another = {"Authorization": "Bearer hd_typo", "X-Forwarded-For": "198.51.100.20"}
            answered = httpx.get(url, headers=another, timeout=10).status_code
            assert answered == (429 if blocked else 401), answered
        finally:
            _stop(server)

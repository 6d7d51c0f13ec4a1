"""A real OpenLDAP slapd for the tests: temporary config and database, loopback port, own data."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness.certificates import self_signed_certificate

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SCHEMA_DIR = Path("/etc/ldap/schema")
MODULE_DIR = Path("/usr/lib/ldap")
BASE_DN = "dc=example,dc=com"
SERVICE_DN = f"cn=helpdesk,ou=services,{BASE_DN}"
SERVICE_PASSWORD = "helpdesk-test-secret"

# Least privilege for the helpdesk's service account: read people, write only the lock attribute.
CONFIG = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
pidfile {root}/slapd.pid
TLSCertificateFile {certificate}
TLSCertificateKeyFile {key}
modulepath {modules}
moduleload back_mdb
moduleload ppolicy
database mdb
suffix "{base}"
rootdn "cn=admin,{base}"
rootpw admin-test-secret
directory {root}/db
maxsize 10485760
overlay ppolicy
access to attrs=userPassword by self write by anonymous auth by * none
access to attrs=pwdAccountLockedTime by dn.exact="{service}" write by * none
access to * by dn.exact="{service}" read by * none
"""

PEOPLE = [
    # uid, name, mail, locked (True: after failed binds; a string: that pwdAccountLockedTime)
    ("jdoe", "Jane Doe", "jane.doe@example.com", False),
    ("mlocked", "Max Locked", "max.locked@example.com", True),
    ("asmith", "Alex Smith", "alex.smith@example.com", False),
    ("twin1", "Twin One", "shared@example.com", False),
    ("twin2", "Twin Two", "shared@example.com", False),
    ("star*", "Star Name", "star@example.com", False),
    # Locked by an administrator (ppolicy's permanent lock), not by failed binds.
    ("alocked", "Ada Locked", "ada.locked@example.com", "000001010000Z"),
]


def _ldif() -> str:
    entries = [
        f"dn: {BASE_DN}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n",
        f"dn: ou=people,{BASE_DN}\nobjectClass: organizationalUnit\nou: people\n",
        f"dn: ou=services,{BASE_DN}\nobjectClass: organizationalUnit\nou: services\n",
        f"dn: {SERVICE_DN}\nobjectClass: person\ncn: helpdesk\nsn: service\n"
        f"userPassword: {SERVICE_PASSWORD}\n",
    ]
    for uid, name, mail, locked in PEOPLE:
        entry = (
            f"dn: uid={uid},ou=people,{BASE_DN}\nobjectClass: inetOrgPerson\n"
            f"uid: {uid}\ncn: {name}\nsn: {name.split()[-1]}\nmail: {mail}\n"
        )
        if locked:
            entry += f"pwdAccountLockedTime: {locked if isinstance(locked, str) else '20260101000000Z'}\n"
        entries.append(entry)
    return "\n".join(entries)


@dataclass(frozen=True)
class Slapd:
    url: str
    ca_file: Path
    base_dn: str = f"ou=people,{BASE_DN}"
    bind_dn: str = SERVICE_DN
    bind_password: str = SERVICE_PASSWORD


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run_slapd(root: Path) -> Iterator[Slapd]:
    if not Path(SLAPD).exists():
        if os.environ.get("CI") == "true":
            pytest.fail("slapd is not installed; `make system-deps` installs it")
        pytest.skip("slapd is not installed (make system-deps); required when CI=true")
    (root / "db").mkdir(parents=True)
    # StartTLS on the same port, with a certificate only a client given `ca_file` trusts.
    certificate, key = self_signed_certificate(root / "tls", "slapd")
    config = root / "slapd.conf"
    config.write_text(
        CONFIG.format(
            schema=SCHEMA_DIR,
            root=root,
            modules=MODULE_DIR,
            base=BASE_DN,
            service=SERVICE_DN,
            certificate=certificate,
            key=key,
        )
    )
    (root / "data.ldif").write_text(_ldif())
    subprocess.run(
        [SLAPADD, "-f", str(config), "-l", str(root / "data.ldif")], check=True, capture_output=True
    )
    port = _free_port()
    log = (root / "slapd.log").open("wb")
    process = subprocess.Popen(
        [SLAPD, "-f", str(config), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"], stdout=log, stderr=log
    )
    try:
        _wait_for_port(port, process, root)
        yield Slapd(url=f"ldap://127.0.0.1:{port}", ca_file=certificate)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for_port(port: int, process: subprocess.Popen[bytes], root: Path) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"slapd exited with {process.returncode}:\n{(root / 'slapd.log').read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    pytest.fail("slapd did not listen within 15 s")

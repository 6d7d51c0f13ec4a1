"""Self-signed certificates for the tests' real servers (SMTP with STARTTLS, slapd with StartTLS)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def self_signed_certificate(folder: Path, name: str, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A certificate for `host` (its IP address in subjectAltName) and its key, made by the openssl
    command; no CA signs it, so a client trusts it only when told to (a CA file setting)."""
    folder.mkdir(parents=True, exist_ok=True)
    certificate, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            f"/CN={host}",
            "-addext",
            f"subjectAltName=IP:{host}",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key

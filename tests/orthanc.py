"""Orthanc (Debian's package `orthanc`, 1.10) with and without its DICOMweb plugin (`orthanc-dicomweb`, 1.7), as the
tests and the benchmarks run it: its own process on free ports of 127.0.0.1, a generated configuration, its storage
and index in a directory of the caller's, never the package's own service.

Used by tests/test_orthanc_differential.py (the oracle for mie's DICOMweb) and by bench/ (cstore_ingest.py,
fetch_one.py, wado_orthanc.py: the baseline). Nothing here imports mie or pytest: the callers decide what a
missing Orthanc means (a test skips or fails, a benchmark stops).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ORTHANC = Path("/usr/sbin/Orthanc")
PACKAGES = {"orthanc": ORTHANC}


def dicomweb_plugin() -> Path | None:
    """The DICOMweb plugin's shared library, as the package `orthanc-dicomweb` installed it (None without it)."""
    listed = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, check=False)
    libraries = [Path(line) for line in listed.stdout.splitlines() if "/plugins/" in line and line.endswith(".so")]
    found = [path for path in libraries if path.exists()]
    return found[0] if found else None


def missing(dicomweb: bool = False) -> list[str]:
    """The Debian packages not installed of what a caller needs (`orthanc`, and `orthanc-dicomweb` if `dicomweb`)."""
    needed = [] if ORTHANC.exists() else ["orthanc"]
    if dicomweb and dicomweb_plugin() is None:
        needed.append("orthanc-dicomweb")
    return needed


def install(dicomweb: bool = False) -> list[str]:
    """apt-get install what is missing, when this runs as root with apt-get (run `apt-get update` first on a fresh
    machine), then stop the package's own service if the install started one. Returns what is still missing."""
    needed = missing(dicomweb)
    if needed and os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"Orthanc: installing the Debian package(s) {' '.join(needed)} (apt-get install -y)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", *needed], check=True, stdout=subprocess.DEVNULL, env=env)
        stop_distro_service()
    return missing(dicomweb)


def stop_distro_service() -> None:
    """The package's own service, if the install just started one (systemd or SysV), is stopped: it would hold
    4242/8042 and use CPU beside the runs. Callers run their own Orthanc on ports of their own. (In a container
    without systemd the package starts nothing.)"""
    for command in (["systemctl", "stop", "orthanc"], ["service", "orthanc", "stop"]):
        if shutil.which(command[0]):
            stopped = subprocess.run(command, capture_output=True, text=True)
            if stopped.returncode == 0:
                print(f"Orthanc: {' '.join(command)}: the package's own service is not left running", flush=True)
                return


def version() -> str:
    return subprocess.run([str(ORTHANC), "--version"], capture_output=True, text=True).stdout.split("\n")[0].strip()


def configuration(workdir: Path, http_port: int, dicom_port: int | None = None, dicomweb: bool = False, **extra: Any) -> Path:
    """A configuration file in `workdir` for an Orthanc with its storage and index there, HTTP on `http_port` of
    127.0.0.1 without authentication, DICOM on `dicom_port` (None: off), the DICOMweb plugin at /dicom-web/ if
    `dicomweb`; `extra` overrides or adds options. Returns its path (the one argument Orthanc takes)."""
    config: dict[str, Any] = {
        "Name": "mie-peer",
        "StorageDirectory": str(workdir / "orthanc-storage"),
        "IndexDirectory": str(workdir / "orthanc-index"),
        "StorageCompression": False,
        "Plugins": [],
        "HttpServerEnabled": True,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "DicomServerEnabled": dicom_port is not None,
        "SaveJobs": False,
    }
    if dicom_port is not None:
        config["DicomPort"] = dicom_port
    if dicomweb:
        plugin = dicomweb_plugin()
        if plugin is None:
            raise RuntimeError("Orthanc's DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)")
        config["Plugins"] = [str(plugin)]
        # its URLs (RetrieveURL, BulkDataURI) under the address the caller uses, not a guess from the Host header
        # QidoCaseSensitive: the plugin's documented default, which 1.7 applies only when it is set (unset, its
        # wild card matching ignores case, against PS3.4 C.2.2.2.4)
        config["DicomWeb"] = {
            "Enable": True,
            "Root": "/dicom-web/",
            "Host": f"127.0.0.1:{http_port}",
            "Ssl": False,
            "QidoCaseSensitive": True,
        }
    config.update(extra)
    path = workdir / "orthanc.json"
    path.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return path


def command(config: Path) -> list[str]:
    return [str(ORTHANC), str(config)]


def wait_until_ready(port: int, process: subprocess.Popen[Any], log: Path, timeout: float = 60.0) -> None:
    """Until Orthanc answers `GET /system` (its plugins are loaded by then)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Orthanc exited at start:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/system", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise RuntimeError(f"Orthanc did not answer on {port} within {timeout}s:\n{log.read_text(errors='replace')[-3000:]}")


def upload(port: int, data: bytes) -> str:
    """Store a Part 10 file by Orthanc's REST upload (`POST /instances`); its Orthanc instance id."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/instances", data=data, headers={"Content-Type": "application/dicom"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        stored = json.loads(answer.read())
    if stored.get("Status") not in ("Success", "AlreadyStored"):
        raise RuntimeError(f"Orthanc did not store the instance: {stored}")
    return str(stored["ID"])

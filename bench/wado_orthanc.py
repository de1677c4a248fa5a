"""Benchmark: WADO-RS retrieve of one 0.5 MB CT instance, and of its frame, under wrk, from mie beside Orthanc's
DICOMweb plugin on the same file, at 1 and 4 connections.

Targets, each started here on a free port, in one run:

  mie      `mie serve` as it starts by default (`--workers` at its default), the instance stored by §2.2 after its
           exam (§2.1) and study (§2.3); HTTP Basic with the institution's code and key.
  orthanc  Orthanc 1.10 (Debian) with its DICOMweb plugin 1.7 (`orthanc-dicomweb`), generated configuration
           (tests/orthanc.py), the same file stored by `POST /instances`; no authentication.

Requests, the same paths and headers to both (wrk, bench/fetch_image.lua, GET):

  instance  GET {root}/studies/{study}/series/{series}/instances/{sop}
            Accept: multipart/related; type="application/dicom"
  frame     GET {root}/studies/{study}/series/{series}/instances/{sop}/frames/1
            Accept: multipart/related; type="application/octet-stream"; transfer-syntax=*   (as OHIF asks)

Before the runs each answer is fetched once and checked: the instance's part has the stored file's MD5, the frame's
part is the file's pixel data. wrk has no response callback (its own CPU would decide the rate); it counts non-2xx
answers. MB/s is requests/s times the answer's length as checked. The goal (issue 13): mie at least Orthanc's rate.

Run:  .venv/bin/python bench/wado_orthanc.py                   (about 2 minutes)
      .venv/bin/python bench/wado_orthanc.py --duration 4 --warmup 1     (quick look)
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import os
import sys
import tempfile
from pathlib import Path

import cstore_ingest as cstore  # bench/: the corpus, the registration of an exam; puts the checkout on sys.path
import fetch_one  # bench/: `mie serve` as fetch_one starts it
import http_save_exam as base  # bench/: wrk, servers, CPU accounting
import pydicom
from pydicom.uid import generate_uid

from mie.client import MieClient
from tests import orthanc

LUA = fetch_one.LUA
INSTANCE_ACCEPT = 'multipart/related; type="application/dicom"'
FRAME_ACCEPT = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'


def get(port: int, path: str, headers: dict[str, str]) -> tuple[bytes, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{path} answered HTTP {answer.status}: {body[:300]!r}")
        return body, answer.getheader("Content-Type", "")
    finally:
        connection.close()


def single_part(body: bytes, content_type: str) -> bytes:
    """The one part of a multipart/related answer (its body, by the boundary: both peers send one part here)."""
    boundary = content_type.split("boundary=")[1].split(";")[0].strip('"').encode()
    parts = body.split(b"--" + boundary)[1:-1]
    if len(parts) != 1:
        raise RuntimeError(f"{len(parts)} parts, one expected")
    _head, _, rest = parts[0].partition(b"\r\n\r\n")
    return rest[:-2] if rest.endswith(b"\r\n") else rest


def cpu_ms(result: base.WrkResult) -> float:
    """The server's CPU (all its processes) per request: steadier than req/s on a shared machine."""
    return result.server_cpu_s * 1000 / max(1, result.requests)


def orthanc_server(workdir: Path) -> base.Server:
    port = base.free_port()
    config = orthanc.configuration(workdir, port, dicomweb=True)
    return base.Server("orthanc", orthanc.command(config), port, workdir / "orthanc.log")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=8, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2, help="seconds of warm-up per target and request")
    parser.add_argument("--workers", help="mie serve --workers (default: mie's own default)")
    parser.add_argument("--targets", default="mie,orthanc")
    args = parser.parse_args()
    wrk = base.ensure_wrk()
    if orthanc.install(dicomweb=True):
        sys.exit("bench: Orthanc and its DICOMweb plugin are needed: apt-get install orthanc orthanc-dicomweb")
    print(f"bench: mie code {base.code_state()}; {orthanc.version()}, plugin {orthanc.dicomweb_plugin()}", flush=True)
    print(f"bench: load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    spec = base.load_spec()
    hi_img_indx = base.example_body(spec)["input"][0]["hiImgIndx"]
    # (target, request) -> connections -> result; and the answer's length per (target, request)
    results: dict[tuple[str, str], dict[int, base.WrkResult]] = {}
    lengths: dict[tuple[str, str], int] = {}
    with tempfile.TemporaryDirectory(prefix="mie-wado-orthanc-", dir="/var/tmp") as tmp:
        workdir = Path(tmp)
        study_uid = generate_uid()
        ctx = cstore.RunContext(spec, study_uid, hi_img_indx, 1, Path("/dev/null"))
        dicom = fetch_one.instance_file(workdir, study_uid)
        data = dicom.read_bytes()
        dataset = pydicom.dcmread(dicom)
        pixels = bytes(dataset.PixelData)
        series_uid, sop = str(dataset.SeriesInstanceUID), str(dataset.SOPInstanceUID)
        print(f"bench: one CT instance, {len(data):,} bytes ({dataset.Rows}x{dataset.Columns}, "
              f"{dataset.file_meta.TransferSyntaxUID.name}), frame {len(pixels):,} bytes", flush=True)  # fmt: skip
        instance_path = f"/dicom-web/studies/{study_uid}/series/{series_uid}/instances/{sop}"
        requests = {"instance": (instance_path, INSTANCE_ACCEPT), "frame": (f"{instance_path}/frames/1", FRAME_ACCEPT)}
        credentials = base64.b64encode(f"{cstore.INSTITUTION}:{cstore.KEY}".encode()).decode()
        for name in args.targets.split(","):
            print(f"target {name}:", flush=True)
            server = fetch_one.mie_server(workdir, args.workers) if name == "mie" else orthanc_server(workdir)
            server.start(timeout=120)
            try:
                if name == "mie":
                    cstore.register(server.port, ctx)
                    with MieClient(f"http://127.0.0.1:{server.port}", cstore.INSTITUTION, cstore.KEY) as client:
                        client.upload_image(dicom, hi_img_indx=hi_img_indx, study_uid=study_uid,
                                            accession_number=cstore.ACCESSION, image_total_num=1)  # fmt: skip
                    headers = {"Authorization": f"Basic {credentials}"}
                else:
                    orthanc.wait_until_ready(server.port, server.process, server.log)  # type: ignore[arg-type]
                    orthanc.upload(server.port, data)
                    headers = {}
                for request, (path, accept) in requests.items():
                    body, content_type = get(server.port, path, {**headers, "Accept": accept})
                    part = single_part(body, content_type)
                    expected = data if request == "instance" else pixels
                    if hashlib.md5(part).digest() != hashlib.md5(expected).digest():
                        raise SystemExit(f"bench: {name} answered another {request} ({len(part):,} bytes)")
                    lengths[(name, request)] = len(body)
                    extra = tuple(f"{key}: {value}" for key, value in {**headers, "Accept": accept}.items())
                    base.run_wrk(wrk, LUA, server, Path("-"), 1, 4, args.warmup, 2, path, extra)
                    results[(name, request)] = {}
                    for connections in (1, 4):
                        result = base.run_wrk(wrk, LUA, server, Path("-"), 2, connections, args.duration, 2, path, extra)
                        results[(name, request)][connections] = result
                        if result.non2xx or result.socket_errors:
                            print(f"  non-2xx {result.non2xx}, socket errors {result.socket_detail}", flush=True)
                        cpu = cpu_ms(result)
                        megabytes = result.rps * len(body) / 1e6
                        print(f"  {request:<8} {connections} conn: {result.rps:7,.0f} req/s {megabytes:7.1f} MB/s"
                              f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  server CPU {cpu:.3f} ms/request"
                              f"  other CPU {result.other_cpu_s / result.duration_s:.0%}"
                              f"  load {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
            finally:
                server.stop()
    print()
    if all((target, request) in results for target in ("mie", "orthanc") for request in requests):
        print("| request | connections | mie req/s | mie MB/s | mie CPU ms/req | Orthanc req/s | Orthanc MB/s "
              "| Orthanc CPU ms/req | mie / Orthanc (req/s) |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|---|")
        met = True
        for request in requests:
            for connections in (1, 4):
                mie, peer = results[("mie", request)][connections], results[("orthanc", request)][connections]
                ratio = mie.rps / peer.rps if peer.rps else float("inf")
                met = met and ratio >= 1.0
                print(f"| {request} | {connections} | {mie.rps:,.0f} | {mie.rps * lengths[('mie', request)] / 1e6:,.1f} "
                      f"| {cpu_ms(mie):.2f} | {peer.rps:,.0f} | {peer.rps * lengths[('orthanc', request)] / 1e6:,.1f} "
                      f"| {cpu_ms(peer):.2f} | x{ratio:.2f} |")  # fmt: skip
        print(f"goal (mie at least Orthanc's rate, instance and frame, 1 and 4 connections): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

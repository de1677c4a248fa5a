"""Benchmark: fetching a stored study back, §2.7 + §2.8 over HTTP from mie beside Orthanc's REST download of
the same instances, in the same run, with the same client code (or beside mie on an object store: --receivers
mie,mie-s3).

Both receivers are filled first, untimed, with the same corpus pushed by dcmtk's storescu (four
associations): the "real" corpus of bench/cstore_ingest.py (2,000 instances of about 0.5 MB: CT and MR at
512x512, 1 in 10 compressed). Then, timed, with 1 and with 4 concurrent clients (threads of this script,
each with its own keep-alive connection, a quarter of the instances each when 4):

  mie      one §2.7 queryImgCaheFileSn for the exam's list, then one §2.8 queryImgCahe per instance: the
           answer is the envelope with the Part 10 file in base64 (a third more bytes than the file).
  orthanc  one `GET /instances` for the list, then `GET /instances/{id}/file` per instance (raw bytes).

mie's §2.7 list goes through mie.client (untimed); its §2.8 requests are built by mie.client's `Messages`
before the clock starts and sent with the same http.client code as Orthanc's. The client reads every answer
whole. After the timed runs, every instance fetched from mie is decoded (by the generated ImgCaheResponse) and
its MD5 compared with the stored file's (the row's; untimed). The goal (issue 7): mie at least Orthanc's
instances/s with 4 clients.

Run:  .venv/bin/python bench/fetch_images.py                      (about 5 minutes)
      .venv/bin/python bench/fetch_images.py --instances 200      (quick look)
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cstore_ingest as cstore  # bench/: corpora, receivers and storescu of the C-STORE benchmark
from http_save_exam import code_state, example_body, load_spec, machine_busy_seconds
from pydicom.uid import generate_uid

from generated.models import FileSnDTO, ImgCaheResponse
from mie.client import Messages, MieClient, wire

QUERY_IMAGES = "/mie/api/mie/queryImgCaheFIndex"


def mie_list(port: int, hi_img_indx: str) -> list[FileSnDTO]:
    with MieClient(f"http://127.0.0.1:{port}", cstore.INSTITUTION, cstore.KEY) as client:
        listing = client.list_images(hi_img_indx)
    if listing.data is None or listing.data.img_file_sn_list is None:
        raise RuntimeError(f"§2.7 listed nothing: {listing.message}")
    return listing.data.img_file_sn_list


def mie_fetch_bodies(hi_img_indx: str, listed: list[FileSnDTO]) -> list[bytes]:
    """Every §2.8 request, built by mie.client before the clock starts (a query's msgid is not remembered, so a
    body built early is as good as one built on the spot): the timed loop only sends."""
    messages = Messages(cstore.INSTITUTION, cstore.KEY)
    return [json.dumps(wire(messages.fetch_image(hi_img_indx, item))).encode("utf-8") for item in listed]


def mie_fetch(connection: http.client.HTTPConnection, body: bytes) -> bytes:
    connection.request("POST", QUERY_IMAGES, body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    content = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"{QUERY_IMAGES} answered HTTP {answer.status}: {content[:300]!r}")
    return content


def orthanc_fetch(connection: http.client.HTTPConnection, instance_id: str) -> bytes:
    connection.request("GET", f"/instances/{instance_id}/file")
    answer = connection.getresponse()
    content = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"Orthanc answered HTTP {answer.status} for {instance_id}")
    return content


def timed_fetch(
    port: int, items: list[Any], clients: int, fetch: Callable[[http.client.HTTPConnection, Any], bytes]
) -> tuple[float, int, list[bytes]]:
    """Every item fetched by `clients` threads (round robin shares); wall seconds, bytes received, answers."""
    answers: list[bytes] = [b""] * len(items)
    errors: list[str] = []

    def client(share: range) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            for position in share:
                answers[position] = fetch(connection, items[position])
        except Exception as error:  # noqa: BLE001 - reported after the run
            errors.append(f"{type(error).__name__}: {error}")
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(range(n, len(items), clients),)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]}")
    return seconds, sum(len(answer) for answer in answers), answers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=2000, help="instances in the corpus (a multiple of 4)")
    parser.add_argument("--workdir", default="/var/tmp", help="where the receivers' files go")
    parser.add_argument(
        "--receivers",
        default="mie,orthanc",
        help="comma-separated, of mie, mie-s3 (mie with --object-store on SeaweedFS, see bench/cstore_ingest.py) and orthanc",
    )
    args = parser.parse_args()
    names = args.receivers.split(",")
    cstore.check_tools()
    print(f"bench: mie code {code_state()}")
    spec = load_spec()
    hi_img_indx = example_body(spec)["input"][0]["hiImgIndx"]
    results: dict[tuple[str, int], tuple[float, int]] = {}
    with tempfile.TemporaryDirectory(prefix="mie-fetch-bench-", dir=args.workdir) as tmp:
        base = Path(tmp)
        cfg = Path(shutil.copy(cstore.STORESCU_CFG, base / "storescu.cfg"))
        study_uid = generate_uid()
        ctx = cstore.RunContext(spec, study_uid, hi_img_indx, args.instances, cfg)
        corpus = cstore.build_corpus("real", base / "corpus", args.instances, study_uid)
        print(f"bench: corpus of {len(corpus.files)} files, {corpus.total_bytes / 1e6:.0f} MB", flush=True)

        receivers: dict[str, cstore.Receiver] = {}
        try:
            for name in names:
                receiver = cstore.RECEIVERS[name](base / name)
                (base / name).mkdir()
                receiver.start(ctx)
                receivers[name] = receiver
                quarters = [[quarter] for quarter in corpus.quarters]
                seconds, _, problems = cstore.send_with_storescu(ctx, receiver.dicom_port, quarters, base / name)
                if problems:
                    raise SystemExit(f"bench: storing into {name} failed: {problems[:2]}")
                print(f"bench: {name} filled in {seconds:.1f}s (untimed)", flush=True)
                cstore.settle_disk(base)

            runs: list[tuple[str, int, list[Any], Callable[[http.client.HTTPConnection, Any], bytes]]] = []
            md5_by_uid: dict[str, dict[str, str]] = {}
            listings: dict[str, list[FileSnDTO]] = {}
            for name, receiver in receivers.items():
                port = receiver.http_port  # type: ignore[attr-defined]
                if name == "orthanc":
                    status, items = cstore.http_json(port, "/instances")
                    runs.append((name, port, items, orthanc_fetch))
                    continue
                listings[name] = items = mie_list(port, hi_img_indx)
                runs.append((name, port, mie_fetch_bodies(hi_img_indx, items), mie_fetch))
                # what mie stored: storescu may have sent a data set in another transfer syntax than its file's
                # (the one the SCP accepted), so the fetched file is compared with the stored file's MD5
                with sqlite3.connect(receiver.data / "mie.sqlite3") as connection:  # type: ignore[attr-defined]
                    md5_by_uid[name] = dict(connection.execute("SELECT sop_instance_uid, md5 FROM instance"))
            if any(len(items) != len(corpus.files) for _, _, items, _ in runs):
                raise SystemExit(f"bench: listed {[len(items) for _, _, items, _ in runs]} of {len(corpus.files)}")
            verified = 0
            for clients in (1, 4):
                for name, port, items, fetch in runs:  # side by side: the machine's load drifts
                    busy = machine_busy_seconds()
                    seconds, size, answers = timed_fetch(port, items, clients, fetch)
                    busy = machine_busy_seconds() - busy
                    results[(name, clients)] = (seconds, size)
                    print(f"  {name:<8} {clients} client(s): {len(items) / seconds:7.1f} instances/s, "
                          f"{size / 1e6 / seconds:6.1f} MB/s received, machine CPU {busy / seconds:.0%}", flush=True)  # fmt: skip
                    if name != "orthanc" and clients == 4:
                        for item, answer in zip(listings[name], answers, strict=True):
                            data = ImgCaheResponse.model_validate_json(answer).data  # fileContent decoded by the model
                            content = data.file_content if data else None
                            if content is None or hashlib.md5(content).hexdigest() != md5_by_uid[name][item.inst_uuid]:
                                raise SystemExit(f"bench: {item.inst_uuid} came back different from {name}")
                            verified += 1
            print(f"bench: {verified} instances fetched from mie decoded and compared with the stored MD5: all equal")
        finally:
            for receiver in receivers.values():
                receiver.stop()

    print()
    if "mie" in names and "orthanc" in names:
        print("ratios (instances/s, mie / Orthanc):")
        for clients in (1, 4):
            (mie_s, _), (orthanc_s, _) = results[("mie", clients)], results[("orthanc", clients)]
            print(f"  {clients} client(s): x{orthanc_s / mie_s:.2f}")
        met = results[("mie", 4)][0] <= results[("orthanc", 4)][0]
        print(f"goal (4 clients: mie at least Orthanc's instances/s): {'met' if met else 'NOT met'}")
    if "mie" in names and "mie-s3" in names:
        for clients in (1, 4):
            ratio = results[("mie", clients)][0] / results[("mie-s3", clients)][0]
            print(f"goal ({clients} client(s): §2.8 from S3 at least 0.8 of the local store): "
                  f"{'met' if ratio >= 0.8 else 'NOT met'} (mie-s3 / mie x{ratio:.2f})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

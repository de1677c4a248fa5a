"""Benchmark: which S3 client for mie's object store. Put (with Content-MD5, as mie.store.objects puts) and get of
0.5 MB objects against SeaweedFS on this machine, with boto3 (the client mie uses) and, when it is installed,
MinIO's Python SDK (`minio`), interleaved round by round, one thread and four.

SeaweedFS is started by this script (tests/objectstore.py's SeaweedFS: `weed server` and `weed s3`, loopback)
and stopped afterwards. Each round puts N objects of fresh random content and gets them back, checking the bytes.

`boto3-signed` is mie's configuration with the body's SHA-256 signed (SigV4's default on a plain-HTTP endpoint, mie's
before it sent UNSIGNED-PAYLOAD). Beside each rate: the CPU per put of this process (the client) and of SeaweedFS's
processes (read from /proc).

Run:  .venv/bin/python bench/s3_client.py [--objects 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.objectstore import ACCESS_KEY, SECRET_KEY, SeaweedFS  # noqa: E402

SIZE = 512 * 1024

Put = Callable[[str, bytes, str], None]
Get = Callable[[str], bytes]


def boto3_client(endpoint: str, bucket: str, sign_payload: bool = False) -> tuple[Put, Get]:
    from mie.store.objects import s3_client

    client = s3_client()
    if sign_payload:
        client.meta.config.s3 = {**(client.meta.config.s3 or {}), "payload_signing_enabled": True}

    def put(key: str, data: bytes, md5: str) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=data, ContentMD5=base64.b64encode(bytes.fromhex(md5)).decode())

    def get(key: str) -> bytes:
        return client.get_object(Bucket=bucket, Key=key)["Body"].read()  # type: ignore[no-any-return]

    return put, get


def minio_client(endpoint: str, bucket: str) -> tuple[Put, Get]:
    import urllib3
    from minio import Minio

    pool = urllib3.PoolManager(maxsize=16)
    client = Minio(endpoint.removeprefix("http://"), ACCESS_KEY, SECRET_KEY, secure=False, http_client=pool)

    def put(key: str, data: bytes, md5: str) -> None:
        headers = {"Content-MD5": base64.b64encode(bytes.fromhex(md5)).decode()}
        client.put_object(bucket, key, io.BytesIO(data), len(data), metadata=headers)  # type: ignore[arg-type]

    def get(key: str) -> bytes:
        response = client.get_object(bucket, key)
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    return put, get


CLK_TCK = os.sysconf("SC_CLK_TCK")


def store_cpu_seconds(server: SeaweedFS) -> float:
    total = 0
    for process in (server._storage, server._gateway):
        if process is not None:
            with open(f"/proc/{process.pid}/stat", encoding="ascii") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def run(
    put: Put, get: Get, objects: list[tuple[str, bytes, str]], threads: int, server: SeaweedFS
) -> tuple[float, float, float, float]:
    """Objects per second: put, then get; and the CPU milliseconds per put of this process and of SeaweedFS."""
    with ThreadPoolExecutor(threads) as pool:
        started, cpu, store = time.perf_counter(), time.process_time(), store_cpu_seconds(server)
        list(pool.map(lambda item: put(*item), objects))
        put_seconds = time.perf_counter() - started
        client_ms = (time.process_time() - cpu) / len(objects) * 1000
        store_ms = (store_cpu_seconds(server) - store) / len(objects) * 1000
        started = time.perf_counter()
        got = list(pool.map(lambda item: get(item[0]), objects))
        get_seconds = time.perf_counter() - started
    assert all(data == item[1] for data, item in zip(got, objects, strict=True)), "an object came back different"
    return len(objects) / put_seconds, len(objects) / get_seconds, client_ms, store_ms


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    clients: dict[str, Callable[[str, str], tuple[Put, Get]]] = {
        "boto3": boto3_client,
        "boto3-signed": lambda endpoint, bucket: boto3_client(endpoint, bucket, sign_payload=True),
    }
    try:
        import minio  # noqa: F401

        clients["minio"] = minio_client
    except ImportError:
        print("bench: minio (MinIO's Python SDK) is not installed: boto3 alone")
    with tempfile.TemporaryDirectory(prefix="mie-s3-bench-", dir="/var/tmp") as directory:
        server = SeaweedFS(Path(directory))
        try:
            server.start()
            os.environ.update(server.environment)
            server.client().create_bucket(Bucket="mie-bench")
            print(f"bench: SeaweedFS at {server.endpoint}; {args.objects} objects of {SIZE} bytes per run; "
                  f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
            results: dict[tuple[str, int], list[tuple[float, float, float, float]]] = {}
            for round_number in range(args.rounds):
                for threads in (1, 4):
                    for name, make in clients.items():  # side by side: the machine's load drifts
                        put, get = make(server.endpoint, "mie-bench")
                        objects = []
                        for index in range(args.objects):
                            data = os.urandom(SIZE)
                            key = f"{name}/{round_number}/{threads}/{index}.dcm"
                            objects.append((key, data, hashlib.md5(data, usedforsecurity=False).hexdigest()))
                        rates = run(put, get, objects, threads, server)
                        results.setdefault((name, threads), []).append(rates)
                        print(f"  round {round_number + 1} {name:<12} x{threads}: put {rates[0]:6.0f}/s  get {rates[1]:6.0f}/s "
                              f"CPU per put: client {rates[2]:.2f} ms, SeaweedFS {rates[3]:.2f} ms "
                              f"(load {os.getloadavg()[0]:.1f})", flush=True)  # fmt: skip
            print("\nmedians (objects/s; CPU ms per put):")
            for (name, threads), rates in sorted(results.items()):
                put_rate, get_rate, client_ms, store_ms = (statistics.median(rate[i] for rate in rates) for i in range(4))
                print(f"  {name:<12} x{threads}: put {put_rate:6.0f}  get {get_rate:6.0f}  "
                      f"client {client_ms:.2f} ms  SeaweedFS {store_ms:.2f} ms")  # fmt: skip
            for threads in (1, 4):
                this = [statistics.median(rate[i] for rate in results[("boto3", threads)]) for i in (0, 2, 3)]
                signed = [statistics.median(rate[i] for rate in results[("boto3-signed", threads)]) for i in (0, 2, 3)]
                print(f"  x{threads}: boto3 / boto3-signed put x{this[0] / signed[0]:.2f}, "
                      f"client CPU x{this[1] / signed[1]:.2f}, SeaweedFS CPU x{this[2] / signed[2]:.2f}")  # fmt: skip
            if "minio" in clients:
                for threads in (1, 4):
                    boto = [statistics.median(rate[i] for rate in results[("boto3", threads)]) for i in (0, 1)]
                    other = [statistics.median(rate[i] for rate in results[("minio", threads)]) for i in (0, 1)]
                    print(f"  x{threads}: boto3 / minio put x{boto[0] / other[0]:.2f}, get x{boto[1] / other[1]:.2f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

# ruff: noqa: F811 (the fixtures imported from tests.objectstore are named again as parameters)
"""Two `mie serve` processes (HTTP and DICOM each, a data directory each for its spool) on one PostgreSQL schema
and one bucket, sharing --secrets-dir, are one processor: what one stores (C-STORE, §2.2) the other lists and
returns (§2.7/§2.8, MD5 equal), a page link one issues (§2.6) opens on the other, a §2.5 delete on one is seen by
the other, and one's start-up recovery leaves the other's spool and its puts in flight alone. PostgreSQL only: one
SQLite file is one machine's."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from mie.service.institutions import add_institution, allow_sources
from mie.store.database import Database
from tests.conftest import POSTGRES_URL, delete_message, own_postgres_schema
from tests.dicom_files import make_instance, md5, part10_bytes
from tests.objectstore import SeaweedFS, object_store, seaweedfs  # noqa: F401 (fixtures)
from tests.retrieval_helpers import QUERIER, QUERIER_KEY, QUERY_INDEX, index_query
from tests.test_cli import free_port
from tests.test_crash import c_store_senders, serve_registered_study, start_server
from tests.test_images_http import headers, upload
from tests.test_object_store import fetched, listed


def test_two_processes_on_one_database_and_one_bucket_are_one_processor(
    object_store: str, seaweedfs: SeaweedFS, tmp_path: Path
) -> None:
    with own_postgres_schema("mie_two") as schema:
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
        shared = ["--object-store", object_store, "--secrets-dir", str(tmp_path / "secrets")]
        first, first_dicom, record = serve_registered_study(tmp_path / "first", url, total=3, extra=shared)
        second_http = free_port()
        second = start_server(tmp_path / "second", url, second_http, free_port(), extra=shared)
        try:
            database = Database(POSTGRES_URL, schema=schema)
            add_institution(database, QUERIER, QUERIER_KEY, name="查询方医院")
            allow_sources(database, QUERIER, ["127.0.0.0/8"])
            database.dispose()
            one = httpx.Client(base_url=f"http://127.0.0.1:{first.args[first.args.index('--http-port') + 1]}", timeout=60)
            other = httpx.Client(base_url=f"http://127.0.0.1:{second_http}", timeout=60)

            # stored through the first: two by C-STORE, one by §2.2
            pushed = [make_instance(record["studyUid"]) for _ in range(2)]
            statuses: list[int] = []
            for sender in c_store_senders(first_dicom, [pushed], statuses):
                sender.join()
            assert statuses == [0, 0]
            uploaded = part10_bytes(make_instance(record["studyUid"]))
            assert upload(one, record, uploaded, head=headers(), imageTotalNum="3").json()["code"] == 0  # type: ignore[arg-type]

            # listed and returned by the second, each with the MD5 the first stored (the §2.2 file's own)
            database = Database(POSTGRES_URL, schema=schema)
            with database.unit_of_work() as repository:
                sent = {digest for name, digest in repository.stored_files() if name.startswith("dicom/")}
            database.dispose()
            assert len(sent) == 3 and md5(uploaded) in sent
            listing = listed(other, record["hiImgIndx"])  # type: ignore[arg-type]
            assert len(listing) == 3
            assert {md5(fetched(other, record["hiImgIndx"], item)) for item in listing} == sent  # type: ignore[arg-type]

            # a page link issued by the first (§2.6) opens on the second: the secrets are shared
            found = one.post(
                QUERY_INDEX, json=index_query(certno=record["certno"], psnName=record["psnName"], begntime=None, endtime=None)
            ).json()
            assert found["code"] == 0 and len(found["data"]) == 1, found
            page = urlsplit(found["data"][0]["imgInfoLinkUrl"])
            assert other.get(f"{page.path}?{page.query}").status_code == 200

            # one's start-up recovery leaves the other's spool and a put in flight in the bucket alone
            in_flight = (tmp_path / "first" / "tmp" / "in-flight.part", f"mie/dicom/{record['studyUid']}/1.2.3/4.5.6_0.dcm")
            in_flight[0].write_bytes(b"being received")
            bucket = object_store.removeprefix("s3://").split("/", 1)[0]
            seaweedfs.client().put_object(Bucket=bucket, Key=in_flight[1], Body=b"put before its commit")
            second.terminate()
            second.wait(timeout=30)
            second = start_server(tmp_path / "second", url, second_http, free_port(), extra=shared)
            assert in_flight[0].read_bytes() == b"being received"
            assert in_flight[1] in seaweedfs.objects(bucket)

            # a §2.5 delete on the second is seen by the first
            assert (
                other.post("/mie/api/mie/deleteExamRpotImgIdxInfo", json=delete_message(record["hiImgIndx"])).json()["code"] == 0
            )
            gone = one.post(
                QUERY_INDEX, json=index_query(certno=record["certno"], psnName=record["psnName"], begntime=None, endtime=None)
            ).json()
            assert gone["code"] == 0 and not gone["data"], gone
        finally:
            for server in (first, second):
                server.terminate()
            for server in (first, second):
                try:
                    server.wait(timeout=30)
                except Exception:  # noqa: BLE001 - a server that does not stop is killed
                    server.kill()

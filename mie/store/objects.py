"""The storage area in an S3-compatible object store (AWS S3, Aliyun OSS, Huawei OBS, Ceph RGW, MinIO, SeaweedFS).

`mie serve --object-store s3://BUCKET[/PREFIX]`; the endpoint, credentials and region come from the standard
variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION) through boto3. A stored file
`dicom/<study>/<series>/<sop>.dcm` is the object `PREFIX/dicom/<study>/<series>/<sop>.dcm`.

What `mie.store.files` promises holds here thus: a put sends the spooled file's MD5 (Content-MD5, a signed
header), which the store checks before it keeps the object (it refuses a body that does not match); the body itself
is not hashed again for the signature (UNSIGNED-PAYLOAD); a file above PART_SIZE goes in
parts of PART_SIZE, each with its own Content-MD5, read from the spool one part at a time, completed only if the
parts together have the spooled file's MD5, and an upload that fails is aborted. A put returns only once the
store has answered that the object is kept, so it is durable when the row commits. The store down, refusing or
timing out is `StorageUnavailable`; a missing object is FileNotFoundError. Reads are streams: one GET from the
position read, reopened at a new position after a seek.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mie.store.files import Placed, Spooled, StorageArea, StorageUnavailable, StoredFile

RECOVERY_GRACE = 3600.0
"""Seconds an object no row knows is left alone by start-up recovery: the bucket is shared by every process of the
processor, and another's put made before its transaction's commit is not a crash's leftover (a transaction takes
seconds; the next start removes what is really left over)."""
PART_SIZE = 16 * 1024 * 1024
"""Files larger than this go in parts of this size (S3 allows 5 MiB to 5 GiB a part, 10,000 parts)."""
_MD5_ETAG = re.compile(r"^[0-9a-f]{32}$")


class ObjectStoreURL(ValueError):
    """An --object-store value that is not s3://BUCKET[/PREFIX]."""


def parse_url(url: str) -> tuple[str, str]:
    """The bucket and the key prefix ("" or ending in "/") of s3://BUCKET[/PREFIX]."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ObjectStoreURL(f"--object-store takes s3://BUCKET[/PREFIX], not {url!r}")
    prefix = parts.path.strip("/")
    return parts.netloc, f"{prefix}/" if prefix else ""


def s3_client() -> Any:
    """A boto3 S3 client configured from the standard AWS variables (AWS_ENDPOINT_URL is read by boto3 itself)."""
    import boto3
    from botocore.config import Config

    config = Config(
        region_name=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        connect_timeout=5,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
        max_pool_connections=64,  # HTTP workers' threads and every SCP association may put or get at once
        # the Content-MD5 sent with every put is the checksum the store confirms; no second one computed
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        # SigV4 signs a hash of the body: on a plain-HTTP endpoint botocore would compute SHA-256 over every body
        # (and the store again to check it). Content-MD5 is a signed header and the store refuses a body that does
        # not match it, so the body is as protected without: UNSIGNED-PAYLOAD, as botocore sends over HTTPS.
        s3={"payload_signing_enabled": False},
    )
    return boto3.session.Session().client("s3", config=config)


class S3Area(StorageArea):
    # a put is a network round trip or several: done before the transaction, in parallel (FileStore.stage)
    puts_early = True

    def __init__(self, bucket: str, prefix: str = "", client: Any = None, recovery_grace: float = RECOVERY_GRACE) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.bucket, self.prefix = bucket, prefix
        self.recovery_grace = recovery_grace
        self.client = client or s3_client()
        self._errors = (BotoCoreError, ClientError)

    @classmethod
    def from_url(cls, url: str) -> S3Area:
        bucket, prefix = parse_url(url)
        return cls(bucket, prefix)

    def key(self, relative: Path) -> str:
        return self.prefix + relative.as_posix()

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    # writing -------------------------------------------------------------------------------------------------------
    def put(self, spooled: Spooled, relative: Path) -> Placed:
        key = self.key(relative)
        try:
            if spooled.size <= PART_SIZE:
                self._put_whole(spooled, key)
            else:
                self._put_in_parts(spooled, key)
        except self._errors as error:
            raise StorageUnavailable(f"对象存储无法保存 {key}: {_reason(error)}") from None
        return Placed(key, None)

    def _put_whole(self, spooled: Spooled, key: str) -> None:
        with spooled.path.open("rb") as body:
            answer = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentLength=spooled.size, ContentMD5=_content_md5(spooled.md5)
            )
        _confirm(answer, spooled.md5, key)

    def _put_in_parts(self, spooled: Spooled, key: str) -> None:
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            parts, digests = [], []
            whole = hashlib.md5(usedforsecurity=False)
            with spooled.path.open("rb") as source:
                number = 1
                while piece := source.read(PART_SIZE):  # one part in memory at a time
                    whole.update(piece)
                    digest = hashlib.md5(piece, usedforsecurity=False).hexdigest()
                    answer = self.client.upload_part(
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=upload,
                        PartNumber=number,
                        Body=piece,
                        ContentMD5=_content_md5(digest),
                    )
                    _confirm(answer, digest, key)
                    parts.append({"PartNumber": number, "ETag": answer["ETag"]})
                    digests.append(binascii.unhexlify(digest))
                    number += 1
                    del piece
            if whole.hexdigest() != spooled.md5:  # the parts sent are not the file as it was received
                raise StorageUnavailable(f"上传 {key} 的内容与收到的文件不符 (MD5 {whole.hexdigest()}, 应为 {spooled.md5})")
            answer = self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
            )
            # a multipart object's ETag is the MD5 of its parts' MD5s, then "-" and their count
            expected = f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"
            etag = str(answer.get("ETag", "")).strip('"')
            if etag and "-" in etag and etag != expected:
                raise StorageUnavailable(f"对象存储保存的 {key} 与上传的内容不符 (ETag {etag}, 应为 {expected})")
        except BaseException:
            try:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            except self._errors:
                pass  # the store is down: its lifecycle rules (or an operator) clear the upload later
            raise

    def unput(self, spooled: Spooled, relative: Path) -> None:
        self.remove(relative)  # the spooled file was copied, not moved: it is still there

    def remove(self, relative: Path) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key(relative))
        except self._errors as error:
            raise StorageUnavailable(f"对象存储无法删除 {self.key(relative)}: {_reason(error)}") from None

    # reading -------------------------------------------------------------------------------------------------------
    def open(self, relative: Path) -> StoredFile:
        reader = _ObjectReader(self, self.key(relative))
        return StoredFile(reader, reader.size, buffer_size=256 * 1024)

    def get(self, key: str, start: int = 0) -> dict[str, Any]:
        """A GET of the object from byte `start` on: its answer, whose Body is read as a stream."""
        try:
            if start:
                return self.client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-")  # type: ignore[no-any-return]
            return self.client.get_object(Bucket=self.bucket, Key=key)  # type: ignore[no-any-return]
        except self._errors as error:
            if _not_found(error):
                raise FileNotFoundError(key) from None
            raise StorageUnavailable(f"对象存储无法读取 {key}: {_reason(error)}") from None

    def names(self, area: str, before: float | None = None) -> Iterator[Path]:
        base = f"{self.prefix}{area}/"
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base):
                for item in page.get("Contents", []):
                    if before is None or item["LastModified"].timestamp() < before:
                        yield Path(item["Key"][len(self.prefix) :])
        except self._errors as error:
            raise StorageUnavailable(f"对象存储无法列出 {base}: {_reason(error)}") from None


class _ObjectReader(io.RawIOBase):
    """An object read as a stream: one GET from the current position, reopened (ranged) after a seek."""

    def __init__(self, area: S3Area, key: str) -> None:
        super().__init__()
        self._area, self._key = area, key
        answer = area.get(key)
        self.size = int(answer["ContentLength"])
        self._body: Any = answer["Body"]
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        position = max(0, base + offset)
        if position != self._position:
            self._drop_body()
            self._position = position
        return position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self.size or not len(buffer):
            return 0
        if self._body is None:
            self._body = self._area.get(self._key, self._position)["Body"]
        try:
            data = self._body.read(len(buffer))
        except self._area._errors as error:  # the connection broke mid-object
            raise StorageUnavailable(f"对象存储读取 {self._key} 中断: {_reason(error)}") from None
        except OSError as error:
            raise StorageUnavailable(f"对象存储读取 {self._key} 中断: {error}") from None
        if not data:
            raise StorageUnavailable(f"对象 {self._key} 在 {self._position} 字节处提前结束 (应为 {self.size})")
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop_body()
        super().close()


def _content_md5(hex_digest: str) -> str:
    return base64.b64encode(binascii.unhexlify(hex_digest)).decode("ascii")


def _confirm(answer: dict[str, Any], md5: str, key: str) -> None:
    """The store checked Content-MD5 before keeping the object; an ETag that is an MD5 must be that one too
    (stores that encrypt with their own keys answer another kind of ETag)."""
    etag = str(answer.get("ETag", "")).strip('"').lower()
    if _MD5_ETAG.match(etag) and etag != md5:
        raise StorageUnavailable(f"对象存储保存的 {key} 与上传的内容不符 (ETag {etag}, MD5 {md5})")


def _not_found(error: Exception) -> bool:
    response = getattr(error, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")


def _reason(error: Exception) -> str:
    response = getattr(error, "response", None)
    if response:
        return str(response.get("Error", {}).get("Code") or type(error).__name__)
    return type(error).__name__

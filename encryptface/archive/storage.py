"""Object storage behind one small interface: a local folder or S3 (boto3, retried).

Listing runs on the driver (paginated); reads and writes run inside the workers, each worker
keeping one client per endpoint.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.fs as pafs

from encryptface.config import StorageSettings


class StorageError(OSError):
    """An object could not be listed, read or written; the message says which and why."""


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    """A listed object. ``version`` changes when the object does: the ETag on S3, the modification
    time (ns) of a local file; incremental runs compare it with the manifest."""

    uri: str
    relative_path: str
    size: int
    version: str = ""


@dataclasses.dataclass(frozen=True)
class Location:
    """A parsed URI: ``scheme`` is ``file`` or ``s3``; for S3 ``bucket`` and ``key`` (prefix)."""

    scheme: str
    bucket: str
    key: str

    def join(self, relative_path: str) -> str:
        """The URI of ``relative_path`` under this location."""
        if self.scheme == "s3":
            prefix = self.key.rstrip("/")
            return f"s3://{self.bucket}/{prefix + '/' if prefix else ''}{relative_path}"
        return str(Path(self.key) / relative_path)


def parse_uri(uri: str) -> Location:
    """Parse ``s3://bucket/prefix``, ``file:///path`` or a plain path."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ValueError(f"S3 URI without a bucket: {uri}")
        return Location("s3", parsed.netloc, parsed.path.lstrip("/"))
    if parsed.scheme == "file":
        return Location("file", "", unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:  # one letter: a Windows drive, not a scheme
        raise ValueError(f"unsupported storage scheme {parsed.scheme!r} in {uri} (use s3:// or a path)")
    return Location("file", "", os.path.abspath(uri))


def list_objects(uri: str, settings: StorageSettings,
                 extensions: tuple[str, ...] | None = None) -> Iterator[ObjectInfo]:
    """Every object under ``uri`` whose name ends with one of ``extensions`` (default: the
    configured image extensions; ``()``: every object), in key order."""
    location = parse_uri(uri)
    extensions = tuple(ext.lower() for ext in (settings.extensions if extensions is None else extensions))
    if location.scheme == "s3":
        yield from _list_s3(location, settings, extensions)
        return
    root = Path(location.key)
    if root.is_file():
        if root.name.lower().endswith(extensions):
            yield _local_info(root, root.name)
        return
    if not root.is_dir():
        raise StorageError(f"input folder does not exist: {root}")
    found = []
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            if name.lower().endswith(extensions) and not name.endswith(".partial"):
                path = Path(dirpath) / name
                found.append(_local_info(path, path.relative_to(root).as_posix()))
    yield from sorted(found, key=lambda info: info.relative_path)  # key order, as S3 lists


def _local_info(path: Path, relative_path: str) -> ObjectInfo:
    stat = path.stat()
    return ObjectInfo(str(path), relative_path, stat.st_size, f"mtime:{stat.st_mtime_ns}")


def _list_s3(location: Location, settings: StorageSettings,
             extensions: tuple[str, ...]) -> Iterator[ObjectInfo]:
    """Like a local path, ``s3://bucket/x`` is the object ``x`` itself (its relative path is its
    name) or everything under the "folder" ``x/`` (relative paths below it); never ``xyz/...``."""
    client = s3_client(settings)
    prefix = location.key
    folder = prefix.rstrip("/") + "/" if prefix else ""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=location.bucket, Prefix=prefix,
                               PaginationConfig={"PageSize": settings.list_page_size})
    try:
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"]
                if key == prefix:
                    relative = key.rsplit("/", 1)[-1]
                elif key.startswith(folder):
                    relative = key[len(folder):]
                else:
                    continue
                if key.lower().endswith(extensions) and not key.endswith("/"):
                    yield ObjectInfo(f"s3://{location.bucket}/{key}", relative, int(item["Size"]),
                                     f"etag:{item.get('ETag', '').strip(chr(34))}")
    except Exception as exc:
        raise StorageError(f"cannot list s3://{location.bucket}/{prefix}: {_describe(exc)}") from None


def read_bytes(uri: str, settings: StorageSettings) -> bytes:
    """The whole object at ``uri``. S3 reads are checked against the object's length, and a body
    cut short or a connection dropped while streaming is read again (boto3 retries the request
    itself, not the streaming of its body)."""
    location = parse_uri(uri)
    try:
        if location.scheme == "s3":
            return _read_s3(location.bucket, location.key, settings)
        return Path(location.key).read_bytes()
    except Exception as exc:
        raise StorageError(f"cannot read {uri}: {_describe(exc)}") from None


def _read_s3(bucket: str, key: str, settings: StorageSettings) -> bytes:
    from botocore.exceptions import ClientError

    for attempt in range(settings.max_attempts):
        try:
            response = s3_client(settings).get_object(Bucket=bucket, Key=key)
            data = response["Body"].read()
            if len(data) == response["ContentLength"]:
                return data
            error: Exception = OSError(f"short read: {len(data)} of {response['ContentLength']} bytes")
        except ClientError:
            raise  # boto3 has already retried what is worth retrying (5xx, throttling)
        except Exception as exc:  # incomplete body, reset while streaming
            error = exc
        time.sleep(min(2.0, 0.05 * 2 ** attempt))
    raise error


def exists(uri: str, settings: StorageSettings) -> bool:
    """Whether the object (or local file) at ``uri`` exists."""
    location = parse_uri(uri)
    if location.scheme != "s3":
        return Path(location.key).is_file()
    from botocore.exceptions import ClientError

    try:
        s3_client(settings).head_object(Bucket=location.bucket, Key=location.key)
        return True
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise StorageError(f"cannot read {uri}: {_describe(exc)}") from None


def copy_object(source: str, target: str, settings: StorageSettings) -> None:
    """Copy one object to another key of the same store (S3: server side; local: a hard link,
    else a copy). Both URIs are of the same kind."""
    source_at, target_at = parse_uri(source), parse_uri(target)
    try:
        if source_at.scheme == "s3":
            s3_client(settings).copy_object(Bucket=target_at.bucket, Key=target_at.key,
                                            CopySource={"Bucket": source_at.bucket, "Key": source_at.key})
            return
        Path(target_at.key).parent.mkdir(parents=True, exist_ok=True)
        try:  # a hard link costs no I/O; deleting the source later only drops its name
            os.link(source_at.key, target_at.key)
        except OSError:
            shutil.copy2(source_at.key, target_at.key)
    except Exception as exc:
        raise StorageError(f"cannot copy {source} to {target}: {_describe(exc)}") from None


def delete_tree(uri: str, settings: StorageSettings) -> None:
    """Delete every object under the folder ``uri`` (S3: the keys under ``prefix/``)."""
    location = parse_uri(uri)
    if location.scheme != "s3":
        shutil.rmtree(location.key, ignore_errors=True)
        return
    client = s3_client(settings)
    prefix = location.key.rstrip("/") + "/"
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=location.bucket, Delete={"Objects": keys, "Quiet": True})
    except Exception as exc:
        raise StorageError(f"cannot delete {uri}: {_describe(exc)}") from None


def list_folders(uri: str, settings: StorageSettings) -> list[str]:
    """The names of the folders directly under ``uri`` (S3: common prefixes)."""
    location = parse_uri(uri)
    if location.scheme != "s3":
        root = Path(location.key)
        return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    prefix = location.key.rstrip("/") + "/"
    pages = s3_client(settings).get_paginator("list_objects_v2").paginate(
        Bucket=location.bucket, Prefix=prefix, Delimiter="/")
    try:
        return sorted(common["Prefix"][len(prefix):].rstrip("/")
                      for page in pages for common in page.get("CommonPrefixes", []))
    except Exception as exc:
        raise StorageError(f"cannot list {uri}: {_describe(exc)}") from None


def arrow_filesystem(uri: str, settings: StorageSettings) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and the path in it for ``uri``: Parquet reads (footers, column and
    row-group projection) go through it; writes go through :func:`write_bytes`."""
    location = parse_uri(uri)
    if location.scheme != "s3":
        return pafs.LocalFileSystem(), location.key
    return _arrow_s3(settings), f"{location.bucket}/{location.key}"


@functools.lru_cache(maxsize=8)
def _arrow_s3(settings: StorageSettings) -> pafs.FileSystem:
    endpoint = settings.endpoint_url or os.environ.get("AWS_ENDPOINT_URL") or None
    region = settings.region or os.environ.get("AWS_DEFAULT_REGION") or None
    return pafs.S3FileSystem(endpoint_override=endpoint, region=region,
                             retry_strategy=pafs.AwsStandardS3RetryStrategy(settings.max_attempts))


def write_bytes(uri: str, data: bytes, settings: StorageSettings) -> None:
    """Write ``data`` to ``uri`` (atomically for local files: write then rename)."""
    location = parse_uri(uri)
    try:
        if location.scheme == "s3":
            # Content-MD5: the store rejects a body damaged on the way instead of keeping it.
            digest = base64.b64encode(hashlib.md5(data).digest()).decode()  # noqa: S324 - integrity
            s3_client(settings).put_object(Bucket=location.bucket, Key=location.key, Body=data,
                                           ContentMD5=digest)
            return
        path = Path(location.key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        partial.write_bytes(data)
        os.replace(partial, path)
    except Exception as exc:
        raise StorageError(f"cannot write {uri}: {_describe(exc)}") from None


@functools.lru_cache(maxsize=8)
def s3_client(settings: StorageSettings):  # noqa: ANN201 - boto3 clients are dynamically typed
    """One retried boto3 S3 client per settings (endpoint/region) per process."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": settings.retry_mode, "max_attempts": settings.max_attempts},
                    max_pool_connections=16)
    return boto3.session.Session().client("s3", endpoint_url=settings.endpoint_url or None,
                                          region_name=settings.region or None, config=config)


def _describe(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:
        error = response["Error"]
        return f"{error.get('Code', 'error')}: {error.get('Message', '')}".strip()
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"

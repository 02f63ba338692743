"""Zip-based documents (.docx .pptx .xlsx .odt .epub) checked before any library opens them.

Office, OpenDocument and EPUB files are zip archives. Before a reader hands one
to its library, `check_package` turns the ways such a file goes wrong into a
DocumentLoadError a person can act on:

- a password-protected Office file is not a zip at all but an OLE compound file
  holding an "EncryptionInfo" stream: "encrypted ... remove the password";
- an old binary Office file (.doc .xls .ppt) renamed to the new suffix: "save it as ...";
- a damaged or truncated archive;
- a zip bomb: a few kilobytes that expand to gigabytes. Python's zipfile never
  inflates a member past the size its header declares, so capping the declared
  sizes (`MAX_UNCOMPRESSED_BYTES` in all, `MAX_MEMBERS` entries) caps what any
  library can read.
"""

from __future__ import annotations

import io
import zipfile

from index.errors import DocumentLoadError

__all__ = ["MAX_MEMBERS", "MAX_UNCOMPRESSED_BYTES", "check_package", "read_member"]

MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 20_000
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_STREAM = "EncryptionInfo".encode("utf-16-le")  # OLE names its streams in UTF-16


def check_package(data: bytes, kind: str) -> zipfile.ZipFile:
    """The archive of a `kind` file (".docx", ...), or DocumentLoadError saying what is wrong with it."""
    if data.startswith(_OLE_MAGIC):
        if _ENCRYPTION_STREAM in data:
            raise DocumentLoadError(
                f"encrypted (password-protected) {kind} file: open it, remove the password and save it again"
            )
        old = {".docx": ".doc", ".xlsx": ".xls", ".pptx": ".ppt"}.get(kind, "an old binary format")
        raise DocumentLoadError(f"an old binary Office file ({old}) named {kind}: open it and save it as {kind}")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as error:
        raise DocumentLoadError(f"damaged {kind} file (not a readable zip archive: {error})") from error
    if len(members) > MAX_MEMBERS:
        raise DocumentLoadError(f"{kind} file holds {len(members):,} parts, over the {MAX_MEMBERS:,} limit")
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNCOMPRESSED_BYTES:
        raise DocumentLoadError(
            f"{kind} file unpacks to {unpacked // (1024 * 1024):,} MB, over the "
            f"{MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MB limit (a zip bomb, or a file to split)"
        )
    if any(member.flag_bits & 0x1 for member in members):
        raise DocumentLoadError(f"encrypted {kind} file (its parts are password-protected): remove the password")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, kind: str) -> bytes:
    """One part of the archive, or DocumentLoadError naming the part that is missing or damaged."""
    try:
        return archive.read(name)
    except KeyError as error:
        raise DocumentLoadError(f"damaged {kind} file: it has no {name}") from error
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        raise DocumentLoadError(f"damaged {kind} file: cannot unpack {name} ({error})") from error

"""What the two file-upload endpoints share (an institution's files, the bureau's): the body as
the OpenAPI document describes it, the size limit, and telling a file's format."""
from __future__ import annotations

import io
from typing import IO

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from server.errors import ValidationFailed
from server.imports.parsing import FORMATS_BY_EXTENSION

_MEDIA_TYPES = {"text/csv": "csv", "application/x-ndjson": "jsonl", "application/jsonl": "jsonl",
                "application/x-jsonlines": "jsonl"}
_BINARY = {"type": "string", "format": "binary"}


def file_body(description: str) -> dict:
    """The request body: the file itself, or a multipart `file` field."""
    return {"required": True, "description": f"{description}：请求体直接为文件内容，或 multipart 的 file 字段",
            "content": {"application/x-ndjson": {"schema": _BINARY}, "text/csv": {"schema": _BINARY},
                        "application/octet-stream": {"schema": _BINARY},
                        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                                           "properties": {"file": _BINARY}}}}}


def uploaded_file(filename: str, max_bytes: int) -> tuple[str, IO[bytes]]:
    """The file's name and content as a stream, from a multipart `file` field or the raw body."""
    request.max_content_length = max_bytes  # above the app's 1 MiB for JSON, for this endpoint only
    if request.content_length is not None and request.content_length > max_bytes:
        raise RequestEntityTooLarge()
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed("请在 file 字段上传文件", code="IMPORT_FILE_EMPTY")
        return filename or upload.filename or "", upload.stream
    if request.is_json:  # a JSON-lines body labelled JSON was already read, and its size checked, by the input guard
        return filename, io.BytesIO(request.get_data())
    return filename, request.stream


def format_of(filename: str) -> str:
    """jsonl or csv, by the file's extension or else the request's media type."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    file_format = FORMATS_BY_EXTENSION.get(extension) or _MEDIA_TYPES.get(request.mimetype)
    if file_format is None:
        raise ValidationFailed("请用 format 参数注明文件格式（jsonl 或 csv）", code="IMPORT_FORMAT_REQUIRED")
    return file_format

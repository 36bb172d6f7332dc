"""Request body limits, enforced before the body is read.

Django reads a whole body (to memory, or to a temporary file for uploads) before a form can say
that a file is too large. Here every view has a body limit, checked before a byte is read:

- a view declares it with ``upload_limit = UploadLimit(...)`` (a form with files: so many files of
  at most so many bytes each) or ``max_body_bytes`` (a class attribute, or ``@limit_body`` on a
  function view); any other view takes at most ``settings.DATA_UPLOAD_MAX_MEMORY_SIZE``;
- ``RequestLimitMiddleware`` refuses a larger ``Content-Length`` at once, and for an upload puts
  ``LimitedUploadHandler`` first among the upload handlers, which stops the stream as soon as one
  file (or the whole body, when the length was not announced) grows past its limit;
- ``@limit_body`` also reads a function view's body with a cap, for servers that pass a body of
  unannounced length (chunked, under ASGI).

The person gets a clear answer: an HTML page with the limit (413) for browser forms, and under
``/api/`` the contract's JSON error, ``{"error": …, "field": ""}`` with 400 (platform-api.md has no
413; the body was never read, so nothing else about it can be said).
"""

from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.files.uploadhandler import FileUploadHandler
from django.http import JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

# The other fields of a form with files, and the multipart framing around each file.
FORM_OVERHEAD_BYTES = 64 * 1024
# One signed platform event or carrier callback (platform-api.md): a big order is a few kilobytes.
API_BODY_MAX_BYTES = 1024 * 1024
API_PREFIX = "/api/"


@dataclass(frozen=True)
class UploadLimit:
    """A form with files: at most `files` files of at most `file_bytes` bytes each."""

    file_bytes: int
    files: int = 1

    @property
    def body_bytes(self) -> int:
        return self.files * self.file_bytes + FORM_OVERHEAD_BYTES


class UploadTooLarge(RequestDataTooBig):
    """A file or the whole body grew past its limit while it was streamed in (a 400 if nobody catches it)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def limit_body(max_bytes: int):
    """Decorate a function view: a body above `max_bytes` is refused, and never read past the limit."""

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            data = request.read(max_bytes + 1)
            if len(data) > max_bytes:
                return too_large_response(request, body_message(max_bytes))
            # HttpRequest.body serves this from now on: the view reads request.body as usual.
            request._body = data
            return view(request, *args, **kwargs)

        wrapper.max_body_bytes = max_bytes
        return wrapper

    return decorate


def limits_of(view_func) -> tuple[int, UploadLimit | None]:
    """(body limit in bytes, upload limit or None) that a view declares, or the default."""
    view = getattr(view_func, "view_class", view_func)
    upload = getattr(view, "upload_limit", None)
    if upload is not None:
        return upload.body_bytes, upload
    return getattr(view, "max_body_bytes", None) or settings.DATA_UPLOAD_MAX_MEMORY_SIZE, None


def content_length(request) -> int | None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


def body_message(max_bytes: int, upload: UploadLimit | None = None) -> str:
    if upload is None:
        return _("What you sent is larger than %(max)s, the most this page takes. Nothing was saved.") % {
            "max": filesizeformat(max_bytes)
        }
    return ngettext(
        "What you sent is larger than this form takes: one file of at most %(each)s. "
        "Nothing was saved: go back and send a smaller file.",
        "What you sent is larger than this form takes: at most %(files)s files of %(each)s each. "
        "Nothing was saved: go back and send smaller files.",
        upload.files,
    ) % {"files": upload.files, "each": filesizeformat(upload.file_bytes)}


def too_large_response(request, message: str):
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"error": message, "field": ""}, status=400, json_dumps_params={"ensure_ascii": False})
    back = request.META.get("HTTP_REFERER", "")
    if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        back = ""  # a link back only to a page of this site
    return render(request, "413.html", {"message": message, "back": back}, status=413)


class LimitedUploadHandler(FileUploadHandler):
    """First upload handler: passes the data on, and stops the upload once a limit is passed."""

    def __init__(self, request, limit: UploadLimit):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.file_received = 0

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file_received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        self.file_received += len(raw_data)
        if self.file_received > self.limit.file_bytes:
            raise UploadTooLarge(
                _("%(name)s is larger than %(max)s. Nothing was saved: go back and send a smaller file.")
                % {"name": self.file_name, "max": filesizeformat(self.limit.file_bytes)}
            )
        if self.received > self.limit.body_bytes:
            raise UploadTooLarge(body_message(self.limit.body_bytes, self.limit))
        return raw_data

    def file_complete(self, file_size):
        return None  # the next handler (memory or temporary file) makes the file


class RequestLimitMiddleware:
    """Refuses a body above the view's limit before reading it (see the module docstring).

    Must come before CsrfViewMiddleware, whose process_view reads the POST data.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        max_bytes, upload = limits_of(view_func)
        length = content_length(request)
        if length is not None and length > max_bytes:
            return too_large_response(request, body_message(max_bytes, upload))
        if upload is not None and request.method == "POST" and request.content_type == "multipart/form-data":
            request.upload_handlers.insert(0, LimitedUploadHandler(request, upload))
            try:
                request.POST  # noqa: B018  (parsed here, where a file too large gets its answer)
            except UploadTooLarge as exc:
                return too_large_response(request, exc.message)
        return None

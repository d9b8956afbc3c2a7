"""An upload handler that stops keeping a file once it passes AVATAR_MAX_BYTES.

Django's own handlers keep every byte of a file (in memory, then in a temporary
file) and a form can only look at its size afterwards. This one comes first in
FILE_UPLOAD_HANDLERS: it counts each file's bytes as the request is parsed and,
past the limit, passes nothing more on and throws away what the others kept. The
form then receives an empty stand-in whose size says how much was sent, and
refuses it with the usual "too large" message; nothing is decoded or stored.
"""

import io

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class OversizedUpload(UploadedFile):
    """A file that was cut off: `size` is how many bytes were sent, and none of
    them were kept."""

    def __init__(self, *, name, content_type, size, charset, content_type_extra):
        super().__init__(
            io.BytesIO(), name, content_type, size, charset, content_type_extra
        )


class FileSizeLimitHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.AVATAR_MAX_BYTES:
            return None  # the handlers after this one see no more of this file
        return raw_data

    def file_complete(self, file_size):
        if self.received <= settings.AVATAR_MAX_BYTES:
            return None  # a handler after this one returns the file
        for handler in self.request.upload_handlers:
            kept = getattr(handler, "file", None)
            if handler is not self and kept is not None:
                kept.close()
        return OversizedUpload(
            name=self.file_name,
            content_type=self.content_type,
            size=self.received,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )

"""Uploads into the storage directory, checked before they replace anything.

FileUploadSink receives UploadService chunks into DIR/upload.tmp, so a blob
never lives in RAM while it arrives. CheckedUploadService adds one step to
UPLOAD_END: once size and CRC are right, `accept(kind, temp_name)` decides
(validates the bundle, installs the file) and returns (reason, error text);
an error text goes to the host as a LOG event at level ERROR before the
UPLOAD_RESULT, so the host can show why.
"""

from protocol import messages as m
from protocol.upload_service import UploadService
from board.storage import UPLOAD_TEMP, fsync_file


class FileUploadSink:
    """UploadService storage writing to a temp file; a write error poisons the upload."""

    def __init__(self, storage):
        self.storage = storage
        self._handle = None
        self.error = None

    def begin(self, kind, total_size):
        self.close()
        self.error = None
        try:
            self._handle = open(self.storage.path(UPLOAD_TEMP), "wb")
        except OSError as error:
            self.error = "cannot create %s: %s" % (UPLOAD_TEMP, error)

    def write(self, data):
        if self._handle is None or self.error is not None:
            return
        try:
            self._handle.write(data)
        except OSError as error:
            self.error = "cannot write %s: %s" % (UPLOAD_TEMP, error)

    def finish(self, kind, accepted):
        """Close the temp file; keep it (for accept) only if the upload checked out."""
        self.close()
        if not accepted:
            self.storage.remove(UPLOAD_TEMP)

    def close(self):
        if self._handle is None:
            return
        try:
            fsync_file(self._handle)  # the bytes must be durable before a rename
        except OSError as error:
            self.error = self.error or "cannot sync %s: %s" % (UPLOAD_TEMP, error)
        self._handle.close()
        self._handle = None


class CheckedUploadService(UploadService):
    def __init__(self, sink, accept, log_error):
        UploadService.__init__(self, sink)
        self.accept = accept          # (kind, temp_name) -> (reason, text or None)
        self.log_error = log_error    # text -> None; sends the LOG event

    def abandon(self):
        """Forget the upload in progress (RESET): the next BEGIN starts from zero."""
        self.storage.finish(0, False)
        self._identity = None

    def _end(self, link, message, fields):
        kind = fields["kind"]
        reason = self._verdict(kind)
        held, crc = self._held, self._crc
        text = None
        if self._identity is not None:
            reason, text = self._settle(kind, reason)
        if reason != m.REJECT_NO_UPLOAD:
            self._identity = None  # accepted or rejected: the next BEGIN starts afresh
        if text is not None:
            self.log_error(text)
        link.reply(message, m.UPLOAD_RESULT,
                   m.encode(m.UPLOAD_RESULT, kind=kind, reason=reason, held=held, crc32=crc))

    def _settle(self, kind, reason):
        sink = self.storage
        sink.finish(kind, reason == m.UPLOAD_ACCEPTED)
        if reason != m.UPLOAD_ACCEPTED:
            return reason, None
        if sink.error is not None:
            reason, text = m.REJECT_STORAGE, "upload rejected: " + sink.error
        else:
            reason, text = self.accept(kind, UPLOAD_TEMP)
        if reason != m.UPLOAD_ACCEPTED:
            sink.storage.remove(UPLOAD_TEMP)
        return reason, text

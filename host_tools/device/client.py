"""BoardClient: one board on one serial port, as the host tools see it.

Every failure a user can cause or meet becomes a one-line UserError: a port
that does not open, a board that stops answering (the link gives up within
its retry budget, so nothing here waits without a deadline), a board that
refuses a request or an upload (with the reason from its ERROR log line).
"""
import time
from contextlib import contextmanager

from protocol import Link, LinkError
from protocol import messages as m
from protocol.serial_port import open_serial
from protocol.transfer import UploadRejected, download, upload
from host_tools.device.bundle_file import check_fits
from host_tools.device.progress import LogLine, decode_event
from host_tools.errors import UserError

HELLO_LOG_SECONDS = 0.05
UPLOAD_ATTEMPTS = 3     # resumes after a broken link, as long as each one made headway


class BoardClient:
    def __init__(self, port, ack_timeout=0.2, retries=8, reply_timeout=5.0):
        self.port = port
        try:
            self.transport = open_serial(port)
        except (OSError, ValueError) as error:  # serial.SerialException is an OSError
            raise UserError(f"cannot open {port}: {_os_reason(error)}") from None
        self.started = time.monotonic()
        self.events = []          # Progress / LogLine, in arrival order
        self.listeners = []       # callables(event), called as events arrive
        self.link = Link(self.transport, ack_timeout=ack_timeout, retries=retries,
                         reply_timeout=reply_timeout, on_event=self._on_event, max_inbox=64)
        self.info = None

    def close(self):
        self.transport.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def parked(self):
        """The board's "training parked: ..." text if its last run is parked, else None."""
        for event in reversed(self.events):
            if isinstance(event, LogLine) and event.text.startswith("training parked"):
                return event.text
        return None

    @property
    def name(self):
        return self.info["device_name"] if self.info else self.port

    # ---- requests ------------------------------------------------------

    def hello(self):
        with self.talking("HELLO"):
            self.info = m.expect(self.link.request(m.HELLO, m.encode(
                m.HELLO, protocol_version=m.PROTOCOL_VERSION)), m.INFO)
        if self.info["protocol_version"] != m.PROTOCOL_VERSION:
            raise UserError(f"board {self.name} on {self.port} speaks protocol "
                            f"{self.info['protocol_version']}, this host {m.PROTOCOL_VERSION}")
        self.pump(HELLO_LOG_SECONDS)  # a parked run is announced right after INFO
        return self.info

    def flash(self, bundle, on_progress=None):
        """Uploads a checked BundleFile; returns the UPLOAD_RESULT dict."""
        check_fits(bundle, self.info or self.hello(), self.port)
        return self.upload_blob(m.KIND_BUNDLE, bundle.data, f"bundle {bundle.path}", on_progress)

    def upload_samples(self, x, y, on_progress=None):
        from board.samples import encode_samples
        return self.upload_blob(m.KIND_SAMPLES, encode_samples(x, y), f"{len(x)} samples",
                                on_progress)

    def start(self, epochs=0, iterations=0, checkpoint_every=0):
        with self.talking("TRAIN_START"):
            m.expect(self.link.request(m.TRAIN_START, m.encode(
                m.TRAIN_START, epochs=epochs, iterations=iterations,
                checkpoint_every=checkpoint_every)), m.OK)

    def stop(self):
        with self.talking("TRAIN_STOP"):
            m.expect(self.link.request(m.TRAIN_STOP), m.OK)

    def download(self, what, on_progress=None):
        with self.talking("DOWNLOAD"):
            return download(self.link, what, on_progress=on_progress)

    def pump(self, seconds):
        """Services the link (events arrive) for up to `seconds`."""
        with self.talking("waiting for events"):
            self.link.poll(seconds)

    def upload_blob(self, kind, data, what, on_progress=None):
        """Resumable upload of any blob; `what` names it in errors."""
        mark = len(self.events)
        reached = [0]

        def progress(done, total):
            reached[0] = done
            if on_progress is not None:
                on_progress(done, total)

        held = -1
        for attempt in range(UPLOAD_ATTEMPTS):
            try:
                with self.talking(f"uploading {what}"):
                    return upload(self.link, kind, data, on_progress=progress)
            except UploadRejected as rejected:
                raise UserError(f"board {self.name} rejected {what}: "
                                f"{self._refusal(rejected.result, mark)}") from None
            except UserError:
                # A broken link: upload() again resumes where the board stopped,
                # but only while that gets somewhere (a dead board fails fast).
                if attempt + 1 == UPLOAD_ATTEMPTS or reached[0] <= held:
                    raise
                held = reached[0]

    # ---- internals -----------------------------------------------------

    def _refusal(self, result, mark):
        """The board's ERROR log line says why; the reason code is the fallback."""
        errors = [e.text for e in self.events[mark:]
                  if isinstance(e, LogLine) and e.level >= m.LOG_ERROR]
        if errors:
            return errors[-1]
        return m.REJECT_REASONS.get(result["reason"], f"reason {result['reason']}")

    def _on_event(self, message):
        try:
            event = decode_event(message, self.started)
        except ValueError:
            return  # a malformed event is the board's bug; it must not kill the host
        if event is None:
            return
        self.events.append(event)
        for listener in self.listeners:
            listener(event)

    @contextmanager
    def talking(self, doing):
        """Maps link and board errors to one-line UserErrors."""
        try:
            yield
        except LinkError as error:
            text = str(error)
            if text.startswith("serial transport failed"):
                raise UserError(f"lost {self.port} while {doing}: {text}") from None
            if error.noisy:
                raise UserError(f"line to the board on {self.port} is too noisy ({doing}: "
                                f"{error.retransmissions} retransmissions)") from None
            raise UserError(f"board on {self.port} stopped answering ({doing})") from None
        except m.RemoteError as error:
            raise UserError(f"board {self.name} refused {doing}: {error.text}") from None


def _os_reason(error):
    """pyserial nests errno texts ('could not open port X: [Errno 2] No such file or
    directory: X'): keep the operating system's words only."""
    text = str(error)
    if "exclusively lock" in text or "Resource temporarily unavailable" in text:
        return "port busy: used by another program"
    if "could not open port" in text and "] " in text:
        return text.rsplit("] ", 1)[1].split(": ", 1)[0]
    return text

"""The device agent: serves the link protocol and trains, in one poll loop.

Each turn of the loop polls the link once (answering HELLO, uploads,
downloads, TRAIN_* and RESET) and, while a run is active, trains one chunk of
iterations sized to take ~20 ms, so the host is never kept waiting. No
threads and no numpy here (MicroPython-portable structure): the training
engine is a module passed in (board/trainer.py on CPython). The contract is
docs/device.md.
"""

import sys

from board import checkpoint, storage as files
from board.resumes import ResumeCounter
from protocol import LinkError, messages as m
from protocol.clock import now
from protocol.crc32 import crc32
from protocol.download_service import DownloadService
from board.run import PlanError, Run, plan
from board.samples import SamplesError, decode_samples
from board.uploads import CheckedUploadService, FileUploadSink

DEFAULT_RAM = 64 << 20
DEFAULT_NAME = "microtrain-sim"
DEFAULT_MAX_RESUMES = 2     # resumes of one checkpoint before the run is parked
PROGRESS_SECONDS = 0.2      # PROGRESS at least this often while training (contract: 0.25 s)
IDLE_READ_TIMEOUT = 0.005   # transport read timeout between messages when not training
LEVEL_NAMES = {m.LOG_DEBUG: "debug", m.LOG_INFO: "info", m.LOG_WARNING: "warning",
               m.LOG_ERROR: "error"}


class Agent:
    def __init__(self, link, directory, engine, ram_limit=DEFAULT_RAM, name=DEFAULT_NAME,
                 max_resumes=DEFAULT_MAX_RESUMES, flash_limit=None):
        self.link = link
        self.storage = files.Storage(directory, flash_limit)
        self.engine = engine
        self.ram_limit = ram_limit
        self.name = fit_device_name(name, engine.KERNEL_VERSION)
        self.max_resumes = max_resumes
        self.resumes = ResumeCounter(self.storage)
        self.parked = None           # why the last run is not resumed, for HELLO's LOG
        self.uploads = CheckedUploadService(FileUploadSink(self.storage), self._accept_upload,
                                            lambda text: self._log(m.LOG_ERROR, text))
        self.downloads = DownloadService()
        self.host_listening = True   # False after an event went unacknowledged
        self.trainer = self.run = self.slots = None
        self.bundle_crc = self.data_crc = None
        self._last_progress = 0.0
        self._handlers = {m.HELLO: self._hello, m.RESET: self._reset,
                          m.TRAIN_START: self._train_start, m.TRAIN_STOP: self._train_stop,
                          m.DOWNLOAD: self._download}
        _drop_stale_input(link.transport)  # sent to the board's previous life: never act on it
        self.boot()

    # ---- power-on ------------------------------------------------------------

    def boot(self):
        """State from flash, as at power-on: bundle, newest checkpoint, maybe resume."""
        self._stop_running()
        self.parked = None
        self.storage.remove_temps()
        self.slots = checkpoint.Slots(self.storage)
        self.downloads.blobs = {}
        self._load_bundle()
        self._restore(resume=True)

    def _load_bundle(self):
        if self.trainer is not None:
            self.trainer.close()
        self.trainer = self.bundle_crc = None
        data = self.storage.read(files.BUNDLE)
        if data is None:
            return
        try:
            view = self.engine.inspect_bundle(data)
            if view.arena_bytes > self.ram_limit:
                raise ValueError("its arena needs %d B, RAM limit %d B" % (view.arena_bytes, self.ram_limit))
            self.trainer = self.engine.Trainer(view, self.storage.path(files.FLASH))
        except (ValueError, OSError, RuntimeError) as error:
            self._log(m.LOG_ERROR, "stored bundle unusable: %s" % error)
            return
        self.bundle_crc = crc32(data)

    def _restore(self, resume):
        """Load the newest checkpoint of this bundle; resume its run if it was cut short."""
        found = self.slots.newest(self.bundle_crc) if self.trainer is not None else None
        if found is None:
            return
        info, tensors, _ = found
        try:
            for tid, data in tensors:
                self.trainer.write_tensor(tid, data)
        except (ValueError, KeyError, IndexError, OSError) as error:
            self._log(m.LOG_ERROR, "checkpoint %d does not fit the bundle: %s" % (info["seq"], error))
            self.trainer.reset()
            return
        unfinished = info["state"] == m.STATE_RUNNING and info["iteration"] < info["target_iterations"]
        if resume and unfinished:
            self._resume_or_park(info)

    def _resume_or_park(self, info):
        """Resume a cut-short run, unless resuming this very checkpoint already failed
        max_resumes times (the run itself stops the board): then park it."""
        done = self.resumes.count(self.bundle_crc, info["seq"])
        if done >= self.max_resumes:
            self.parked = ("training parked: the run stopped abnormally after each of %d resumes "
                           "at iteration %d of %d; flash a bundle or start training again"
                           % (done, info["iteration"], info["target_iterations"]))
            self._log(m.LOG_WARNING, self.parked)
            return
        try:
            self.resumes.record(self.bundle_crc, info["seq"], done + 1)
        except OSError as error:
            self._log(m.LOG_ERROR, "not resuming: cannot record the attempt: %s" % error)
            return
        self._resume(info)

    def _resume(self, info):
        try:
            n_samples, data_crc = self._prepare_data()
        except PlanError as error:
            self._log(m.LOG_ERROR, "cannot resume training: %s" % error)
            return
        if data_crc != info["data_crc"]:
            self._log(m.LOG_WARNING, "not resuming training: the training data changed")
            return
        settings = self.trainer.view.train
        self.data_crc = data_crc
        self._start(Run(info["per_epoch"], info["target_iterations"], info["target_epochs"],
                        info["checkpoint_every"], n_samples, settings.shuffle_seed,
                        bool(settings.flags & self.engine.TRAIN_SHUFFLE), iteration=info["iteration"]))
        self._log(m.LOG_INFO, "resumed training at iteration %d of %d" % (self.run.iteration, self.run.total))

    # ---- the loop ------------------------------------------------------------

    def serve_forever(self):
        while True:
            self.step()

    def step(self):
        """One turn: poll the link once, then train one chunk if a run is active."""
        try:
            message = self.link.poll()
            if message is not None:
                self.host_listening = True
                self.handle(message)
            if self.run is not None:
                self._train_chunk()
        except LinkError as error:
            self.host_listening = False
            _stderr("link: %s" % error)

    def handle(self, message):
        try:
            self._dispatch(message)
        except LinkError:
            raise
        except Exception as error:  # a bug must not take the board off the line
            self._log(m.LOG_ERROR, "internal error in %s: %r" % (m.name_of(message.msg_type), error))
            self._error(message, m.ERR_INTERNAL, "internal error: %r" % (error,))

    def _dispatch(self, message):
        if self.uploads.handle(self.link, message):
            return
        handler = self._handlers.get(message.msg_type)
        if handler is None:
            if message.is_request:
                self._error(message, m.ERR_UNKNOWN_MESSAGE, "unknown message %s" % m.name_of(message.msg_type))
            return
        try:
            fields = m.decode(message.msg_type, message.payload)
        except ValueError as error:
            self._error(message, m.ERR_BAD_PAYLOAD, str(error))
            return
        handler(message, fields)

    # ---- requests ------------------------------------------------------------

    def _hello(self, message, fields):
        self.link.reply(message, m.INFO, m.encode(
            m.INFO, protocol_version=m.PROTOCOL_VERSION, ram_bytes=min(self.ram_limit, files.MAX_U32),
            flash_bytes=self.storage.free_bytes(), device_name=self.name,
            kernel_version=self.engine.KERNEL_VERSION))
        if self.parked is not None:
            self._log(m.LOG_WARNING, self.parked)

    def _reset(self, message, fields):
        self.link.reply(message, m.OK)
        self.uploads.abandon()
        self.boot()

    def _train_start(self, message, fields):
        if self.trainer is None:
            return self._error(message, m.ERR_NOT_FOUND, "no bundle: upload one first")
        if self.run is not None:
            return self._error(message, m.ERR_BAD_STATE, "training is running: send TRAIN_STOP first")
        settings, view = self.trainer.view.train, self.trainer.view
        try:
            n_samples, data_crc = self._prepare_data()
            per_epoch, total, epochs = plan(settings, n_samples, view.iteration_samples, fields["epochs"],
                                            fields["iterations"])
        except PlanError as error:
            return self._error(message, getattr(error, "code", m.ERR_BAD_STATE), str(error))
        self.trainer.reset()
        self.data_crc = data_crc
        self.parked = None
        run = Run(per_epoch, total, epochs, fields["checkpoint_every"] or settings.checkpoint_interval,
                  n_samples, settings.shuffle_seed, bool(settings.flags & self.engine.TRAIN_SHUFFLE))
        self._start(run)
        try:
            self._checkpoint(m.STATE_RUNNING)  # the run survives a power cut from now on
        except OSError as error:
            self._stop_running()
            return self._error(message, m.ERR_STORAGE, "cannot write checkpoint: %s" % error)
        self.link.reply(message, m.OK)

    def _train_stop(self, message, fields):
        self.link.reply(message, m.OK)
        if self.run is not None:
            self._end_run(m.STATE_STOPPED)

    def _download(self, message, fields):
        what = fields["what"]
        if fields["offset"] == 0 or what not in self.downloads.blobs:
            # A download reads one snapshot: training may go on between its requests.
            blob = self._blob(what)
            if blob is None:
                self.downloads.blobs.pop(what, None)
                return self._error(message, m.ERR_NOT_FOUND, self._missing(what))
            self.downloads.blobs[what] = blob
        self.downloads.handle(self.link, message)

    def _blob(self, what):
        if self.trainer is None:
            return None
        if what == m.WHAT_WEIGHTS:
            return self.trainer.weights_blob()
        if what == m.WHAT_CHECKPOINT:
            found = self.slots.newest(self.bundle_crc)
            return None if found is None else found[2]
        return None

    def _missing(self, what):
        if self.trainer is None:
            return "no bundle: upload one first"
        if what == m.WHAT_CHECKPOINT:
            return "no checkpoint of the current bundle"
        return "nothing to download for what=%d" % what

    def _error(self, message, code, text):
        if message.is_request:
            self.link.reply(message, m.ERROR, m.error_payload(code, text))

    # ---- uploads -------------------------------------------------------------

    def _accept_upload(self, kind, temp_name):
        """Validate a complete, CRC-checked upload and install it -> (reason, error text)."""
        data = self.storage.read(temp_name)
        if data is None:
            return m.REJECT_STORAGE, "upload rejected: %s vanished" % temp_name
        if kind == m.KIND_BUNDLE:
            return self._accept_bundle(temp_name, data)
        if kind == m.KIND_SAMPLES:
            return self._accept_samples(temp_name, data)
        return m.REJECT_STORAGE, "upload rejected: unknown upload kind %d" % kind

    def _accept_bundle(self, temp_name, data):
        """Load the bundle completely (program, swap schedule and queue, flash store,
        INIT values) before anything of the current one is touched."""
        reason, text, candidate = self._load_candidate(data)
        if candidate is None:
            return reason, text
        if self.run is not None:
            self._log(m.LOG_WARNING, "new bundle: the running training stops")
            self._end_run(m.STATE_STOPPED)
        try:
            self.storage.install(temp_name, files.BUNDLE)
        except OSError as error:
            candidate.close()
            self.storage.remove(files.FLASH_CANDIDATE)
            return m.REJECT_STORAGE, "upload rejected: cannot install it: %s" % error
        self._replace_trainer(candidate, crc32(data))
        return m.UPLOAD_ACCEPTED, None

    def _load_candidate(self, data):
        """-> (reason, text, Trainer or None): the bundle loaded against a scratch flash file."""
        try:
            view = self.engine.inspect_bundle(data)
        except self.engine.BundleError as error:
            return m.REJECT_INVALID_BUNDLE, "invalid bundle: %s" % error, None
        if view.arena_bytes > self.ram_limit:
            return m.REJECT_TOO_BIG, ("bundle too big: its arena needs %d bytes of RAM, this board "
                                      "has %d" % (view.arena_bytes, self.ram_limit)), None
        room = self.storage.free_bytes() + self.storage.size(files.FLASH)  # flash.bin is replaced
        if view.flash_bytes > room:
            return m.REJECT_TOO_BIG, ("bundle too big: its swap store needs %d bytes of flash, this "
                                      "board has %d free" % (view.flash_bytes, room)), None
        try:
            return m.UPLOAD_ACCEPTED, None, self.engine.Trainer(
                view, self.storage.path(files.FLASH_CANDIDATE))
        except (ValueError, OSError, RuntimeError) as error:
            self.storage.remove(files.FLASH_CANDIDATE)
            return m.REJECT_INVALID_BUNDLE, "bundle cannot run on this board: %s" % error, None

    def _replace_trainer(self, candidate, bundle_crc):
        """The installed bundle's trainer becomes the live one; its flash file becomes flash.bin."""
        if self.trainer is not None:
            self.trainer.close()
        if self.storage.exists(files.FLASH_CANDIDATE):  # only bundles that swap have one
            try:
                self.storage.install(files.FLASH_CANDIDATE, files.FLASH)
            except OSError as error:  # the trainer keeps its open file; the next boot rebuilds
                self._log(m.LOG_WARNING, "cannot rename the new flash file: %s" % error)
        self.trainer, self.bundle_crc = candidate, bundle_crc
        self.parked = None
        self.downloads.blobs = {}
        self._restore(resume=False)

    def _accept_samples(self, temp_name, data):
        reason, text = self._check_samples(data)
        if reason != m.UPLOAD_ACCEPTED:
            return reason, text
        try:
            self.storage.install(temp_name, files.SAMPLES)
        except OSError as error:
            return m.REJECT_STORAGE, "upload rejected: cannot install it: %s" % error
        return m.UPLOAD_ACCEPTED, None

    def _check_samples(self, data):
        try:
            decode_samples(data)
        except SamplesError as error:
            return m.REJECT_INVALID_SAMPLES, "invalid samples: %s" % error
        return m.UPLOAD_ACCEPTED, None

    # ---- training ------------------------------------------------------------

    def _prepare_data(self):
        """samples.bin if present, else the bundle's DATA -> (n_samples, data crc; 0 = DATA)."""
        blob = self.storage.read(files.SAMPLES)
        view = self.trainer.view
        if blob is None:
            n_samples = self.trainer.use_bundle_data()
            if not n_samples:
                raise _plan_error(m.ERR_NOT_FOUND, "no training data: upload samples or a bundle with DATA")
            return n_samples, 0
        try:
            n_samples, x_numel, y_bytes, x, y = decode_samples(blob)
        except SamplesError as error:
            raise _plan_error(m.ERR_BAD_STATE, "samples.bin: %s" % error)
        if (x_numel, y_bytes) != (view.x_numel, view.y_bytes):
            raise _plan_error(m.ERR_BAD_STATE, "samples have x_numel %d, y_bytes %d; the bundle needs %d, %d"
                              % (x_numel, y_bytes, view.x_numel, view.y_bytes))
        self.trainer.use_samples(n_samples, x, y)
        return n_samples, crc32(blob)

    def _start(self, run):
        self.run = run
        self._last_progress = now()
        _set_read_timeout(self.link.transport, 0)  # training: never idle in read()

    def _stop_running(self):
        self.run = None
        _set_read_timeout(self.link.transport, IDLE_READ_TIMEOUT)

    def _train_chunk(self):
        try:
            self._train_one_chunk()
        except LinkError:
            raise
        except Exception as error:  # a bug must end the run, not the board
            self._fail("internal error while training: %r" % (error,))

    def _train_one_chunk(self):
        run, trainer = self.run, self.trainer
        first, n_iter = run.next_chunk()
        started = now()
        try:
            loss, correct = trainer.train(run.order(), first, n_iter)
        except (RuntimeError, ValueError, OSError) as error:
            return self._fail("training failed at iteration %d: %s" % (run.iteration + 1, error))
        epoch_end = run.record(n_iter, loss, correct, trainer.view.iteration_samples, started)
        held_out = self._held_out() if epoch_end else None
        if run.done:
            return self._end_run(m.STATE_FINISHED, held_out)
        if run.checkpoint_due:
            try:
                self._checkpoint(m.STATE_RUNNING)
            except OSError as error:
                return self._fail("cannot write checkpoint: %s" % error)
        if epoch_end or now() - self._last_progress >= PROGRESS_SECONDS:
            self._progress(m.STATE_RUNNING, held_out)
        if epoch_end:
            run.new_epoch()

    def _held_out(self):
        """Accuracy on the bundle's test section at an epoch's end, or None."""
        try:
            return self.trainer.test_accuracy()
        except (RuntimeError, ValueError, OSError) as error:
            self._log(m.LOG_WARNING, "held-out evaluation failed: %s" % error)
            return None

    def _end_run(self, state, held_out=None):
        """Checkpoint, then the final PROGRESS (FINISHED or STOPPED)."""
        try:
            self._checkpoint(state)
        except OSError as error:
            return self._fail("cannot write checkpoint: %s" % error)
        self._progress(state, held_out)
        self._stop_running()

    def _fail(self, text):
        self._log(m.LOG_ERROR, text)
        self._progress(m.STATE_FAILED)
        self._stop_running()

    def _checkpoint(self, state):
        run, trainer = self.run, self.trainer
        tensors = [(tid, trainer.read_tensor(tid)) for tid in trainer.persistent_ids]
        self.slots.write({"bundle_crc": self.bundle_crc, "data_crc": self.data_crc,
                          "iteration": run.iteration, "epoch": run.epoch,
                          "target_epochs": run.target_epochs, "target_iterations": run.total,
                          "per_epoch": run.per_epoch, "checkpoint_every": run.checkpoint_every,
                          "state": state}, tensors)

    def _progress(self, state, held_out=None):
        run = self.run
        if run is None:
            return
        loss, accuracy, rate = run.figures(self.trainer.view.iteration_samples)
        read, written = self.trainer.swap_bytes()
        self._last_progress = now()
        self._emit(m.PROGRESS, m.encode(
            m.PROGRESS, state=state, epoch=min(run.shown_epoch, 0xFFFF), iteration=run.iteration,
            total_iterations=run.total, loss=loss, accuracy=accuracy, samples_per_s=rate,
            arena_bytes=self.trainer.view.arena_bytes, swap_read_bytes=read & files.MAX_U32,
            swap_written_bytes=written & files.MAX_U32, test_accuracy=held_out))

    # ---- events and logging --------------------------------------------------

    def _emit(self, msg_type, payload):
        """Send an event if a host is listening; an unacknowledged one pauses events
        until the host speaks again, so training never waits on an absent host."""
        if not self.host_listening:
            return
        try:
            self.link.send_event(msg_type, payload)
        except LinkError as error:
            self.host_listening = False
            _stderr("events paused until the host speaks: %s" % error)

    def _log(self, level, text):
        _stderr("%s: %s" % (LEVEL_NAMES.get(level, level), text))
        raw = text.encode("utf-8")[:m.MAX_PAYLOAD - 1].decode("utf-8", "ignore")
        self._emit(m.LOG, m.encode(m.LOG, level=level, text=raw))


def fit_device_name(name, kernel_version):
    """The name cut (at a UTF-8 boundary) to what INFO can carry next to the kernel version."""
    room = min(255, m.MAX_PAYLOAD - m.INFO_FIXED_BYTES - len(kernel_version.encode("utf-8")))
    return name.encode("utf-8")[:room].decode("utf-8", "ignore")


def _plan_error(code, text):
    error = PlanError(text)
    error.code = code
    return error


def _drop_stale_input(transport):
    reset = getattr(transport, "reset_input_buffer", None)
    if reset is not None:
        reset()


def _set_read_timeout(transport, seconds):
    # pyserial and board/fd_transport.py both take a settable `timeout`.
    if getattr(transport, "timeout", seconds) != seconds:
        transport.timeout = seconds


def _stderr(text):
    print("board: " + text, file=sys.stderr)

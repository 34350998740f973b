"""A bare-metal board under QEMU: the firmware (firmware/, PlatformIO) booted on
an emulated Cortex-M with its UART on a pseudo-terminal, its flash a directory
of host files (semihosting; QEMU runs in that directory).

    port, board = start_qemu_board("baremetal-m4f", storage_dir)
    ... microtrain flash/monitor/pull against `port` ...
    board.power_cut(); port = board.start()   # reboot: the flash persists

Each boot gets a new pty, so after a power cut the host reopens `board.port`.
"""

import os
import pathlib
import re
import shutil
import signal
import subprocess
import threading

from host_tools.errors import UserError

FIRMWARE_DIR = pathlib.Path(__file__).resolve().parents[2] / "firmware"
TARGETS = {  # --target -> (PlatformIO environment, QEMU machine)
    "baremetal-m4f": ("qemu_m4f", "mps2-an386"),
    "baremetal-m3": ("qemu_m3", "mps2-an385"),
}
TOOLS = {"arm-none-eabi-gcc": "gcc-arm-none-eabi libnewlib-arm-none-eabi",
         "qemu-system-arm": "qemu-system-arm"}
PTY_LINE = re.compile(rb"char device redirected to (/dev/pts/\d+)")
BOOT_SECONDS = 20


def check_tools():
    """One-line UserError naming the Debian packages when the toolchain or QEMU is missing."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        packages = " ".join(TOOLS[tool] for tool in missing)
        raise UserError("%s not found: apt-get install --no-install-recommends %s"
                        % (", ".join(missing), packages))


def core_dir():
    """PlatformIO's home for the offline build (seeded by firmware/tools/setup_offline.sh)."""
    return pathlib.Path(os.environ.get("PLATFORMIO_CORE_DIR", FIRMWARE_DIR / ".pio-core"))


def firmware_path(env):
    return FIRMWARE_DIR / ".pio" / "build" / env / "program.elf"


def build_firmware(target):
    """Builds the target's firmware with PlatformIO (offline) -> path of the ELF."""
    check_tools()
    env = TARGETS[target][0]
    if shutil.which("pio") is None:
        raise UserError("PlatformIO not found: pip install 'microtrain[firmware]' (platformio, scons)")
    environ = dict(os.environ, PLATFORMIO_CORE_DIR=str(core_dir()),
                   PLATFORMIO_SETTING_ENABLE_TELEMETRY="No")
    if not (core_dir() / "packages" / "tool-scons" / "scons.py").exists():
        _run(["sh", str(FIRMWARE_DIR / "tools" / "setup_offline.sh")], environ, "firmware set-up")
    _run(["pio", "run", "-s", "-e", env, "-d", str(FIRMWARE_DIR)], environ, "firmware build (%s)" % env)
    return firmware_path(env)


def _run(argv, environ, what):
    done = subprocess.run(argv, env=environ, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        raise UserError("%s failed: %s" % (what, lines[-1] if lines else "status %d" % done.returncode))


class QemuBoard:
    """QEMU running the firmware; Popen-like (pid, poll, wait, kill), like board/sim.py.
    Subclasses run other firmware (micropython_board.py): their own `targets` and build()."""

    targets = TARGETS   # --target -> (how the firmware is built, QEMU machine)

    def __init__(self, target, storage_dir, elf=None, stderr=None, extra_args=()):
        if target not in self.targets:
            raise UserError("unknown target %r (choose %s)" % (target, ", ".join(sorted(self.targets))))
        self.target = target
        self.storage_dir = str(storage_dir)
        self.elf = pathlib.Path(elf) if elf else self.build(target)
        self.stderr = stderr
        self.extra_args = list(extra_args)
        self.process = self.port = None
        self._log_thread = None
        self.start()

    @staticmethod
    def build(target):
        return build_firmware(target)

    def argv(self):
        return ["qemu-system-arm", "-M", self.targets[self.target][1], "-display", "none",
                "-monitor", "none", "-serial", "pty",
                "-semihosting-config", "enable=on,target=native",
                "-kernel", str(self.elf)] + self.extra_args

    def start(self):
        """Boot (again): the firmware reloads its state from the flash directory -> port path."""
        os.makedirs(self.storage_dir, exist_ok=True)
        self.process = subprocess.Popen(self.argv(), cwd=self.storage_dir, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        preexec_fn=_die_with_parent)
        self.port = self._read_port()
        if self.stderr is not subprocess.PIPE:  # PIPE: the caller reads process.stdout itself
            self._log_thread = threading.Thread(target=self._forward_log, daemon=True)
            self._log_thread.start()
        return self.port

    def _read_port(self):
        timer = threading.Timer(BOOT_SECONDS, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                found = PTY_LINE.search(line)
                if found:
                    return found.group(1).decode()
        finally:
            timer.cancel()
        raise UserError("QEMU did not start the board (status %s)" % self.process.wait())

    def _forward_log(self):
        """The firmware's semihosting console (its 'board: ...' lines) -> self.stderr."""
        for line in self.process.stdout:  # drained even when dropped, or QEMU would block
            target = self.stderr
            if target == subprocess.DEVNULL:
                continue
            if target is None:
                os.write(2, line)
            elif hasattr(target, "buffer"):
                target.buffer.write(line)
                target.flush()
            else:
                target.write(line)
                target.flush()

    def power_cut(self):
        """SIGKILL QEMU mid-whatever: no clean-up, like pulling the plug."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def restart(self):
        self.power_cut()
        return self.start()

    def stop(self, timeout=5.0):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.power_cut()

    @property
    def pid(self):
        return self.process.pid

    @property
    def returncode(self):
        return self.process.returncode

    def poll(self):
        return self.process.poll()

    def wait(self, timeout=None):
        return self.process.wait(timeout)

    def kill(self):
        self.power_cut()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _die_with_parent():
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_qemu_board(target, storage_dir, stderr=None, elf=None):
    """-> (port path, QemuBoard); builds the firmware first if needed."""
    board = QemuBoard(target, storage_dir, elf=elf, stderr=stderr)
    return board.port, board

"""A simulated board: the agent in its own process behind a pseudo-terminal.

Design (one pty pair, no bridging thread): this process opens the pair, sets
both ends raw and keeps both open for its lifetime. The agent subprocess
inherits the MASTER fd (`python -m board --port fd:N`); the host opens the
SLAVE path (/dev/pts/N) exactly as it would open /dev/ttyUSB0. Holding both
ends here means the port path outlives the agent: kill it (a power cut) and
`restart()` it, and the host's open port keeps working, as with a USB-UART
adapter whose board reboots. Holding the slave open also keeps the pty out of
the hang-up state while no host has it open.
"""

import os
import signal
import subprocess
import sys
import tty


class BoardSim:
    """The pty pair plus the agent process; Popen-like (pid, poll, wait, kill).
    Subclasses run another agent program (host_tools/device/micropython_board.py):
    their own agent_command() and `env`."""

    env = None      # the agent's environment (None: ours)

    def __init__(self, storage_dir, ram_limit=None, name=None, stderr=None, agent_options=()):
        self.storage_dir = str(storage_dir)
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)  # no echo or line editing of the binary protocol
        self.port_path = os.ttyname(self.slave)
        self.argv = self.agent_command() + ["--port", "fd:%d" % self.master,
                                            "--storage", self.storage_dir]
        if ram_limit is not None:
            self.argv += ["--ram-limit", str(int(ram_limit))]
        if name is not None:
            self.argv += ["--name", name]
        self.argv += list(agent_options)   # e.g. ("--max-resumes", "1")
        self.stderr = stderr
        self.process = None
        self.start()

    def agent_command(self):
        return [sys.executable, "-m", "board"]

    def start(self):
        self.process = subprocess.Popen(self.argv, pass_fds=(self.master,), env=self.env,
                                        stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=self.stderr,
                                        preexec_fn=_die_with_parent)
        return self.process

    def power_cut(self):
        """SIGKILL the agent: no clean-up, like pulling the plug."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def restart(self):
        self.power_cut()
        return self.start()

    def stop(self, timeout=5.0):
        """End the agent (SIGTERM, then SIGKILL) and close the pty."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.power_cut()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self.master = self.slave = -1

    # Popen-like surface, so callers can treat the sim as "the process".
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

    def terminate(self):
        self.process.terminate()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def _die_with_parent():
    # Linux: the agent gets SIGKILL when the simulator dies, so no orphan holds the pty.
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_board_sim(storage_dir, ram_limit=None, name=None, stderr=None, agent_options=()):
    """-> (port path for the host, BoardSim). stderr: where the agent's log goes
    (None inherits ours; subprocess.PIPE lets the caller read sim.process.stderr);
    agent_options: more `python -m board` arguments."""
    sim = BoardSim(storage_dir, ram_limit=ram_limit, name=name, stderr=stderr,
                   agent_options=agent_options)
    return sim.port_path, sim

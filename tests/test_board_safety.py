"""The board accepts only bundles that can run, never loops on a crashing run,
and keeps its link sane.

- a bundle the C reader accepts but that cannot run on this board (its swap
  store does not fit the free flash, or loading it fails) is refused at
  UPLOAD_END; the previous bundle, its flash file and its checkpoints stay
  byte for byte; a bundle whose swap event tags are 1000 and up (issue 8,
  item 2) is accepted only because it runs;
- a run that kills the agent every time it trains is resumed at most twice,
  then parked (LOG warning at HELLO), which `monitor` and `flash` show in one
  line; a good bundle then flashes (clearing it) and trains;
- a request sent while the board was dead is not acted on after it boots; a
  230-byte --name is cut to fit INFO; a second program on the port is told
  "port busy".
"""
import os
import signal
import struct

import numpy as np

import pytest

from board import checkpoint
from board.samples import encode_samples
from crashing_engine import CRASH_EPOCHS
from host_tools.cli import main as microtrain
from host_tools.device.client import BoardClient
from host_tools.errors import UserError
from host_tools.swap.events import EVENT_DTYPE
from protocol import messages as m
from protocol.frame import encode_frame
from protocol.link import FLAG_REQUEST, FLAG_SYNC, TAG_SHIFT
from protocol.crc32 import crc32
from protocol.transfer import UploadRejected, download, upload
from test_board_agent import (SEED, Host, assert_same_weights, board, files,  # noqa: F401
                              flash_file, host_weights)

SWAP_STORE_BYTES = 2576   # the swap bundle's flash store
HEADER_BYTES, SECTION_HEADER_BYTES = 20, 12


def with_swap_tags_raised(bundle, by):
    """The bundle with every swap event tag raised by `by`, the SWAP section CRC redone."""
    data, offset = bytearray(bundle), HEADER_BYTES
    while offset < len(data):
        tag, length = struct.unpack_from("<4sI", data, offset)
        padded = length + (-length % 4)
        if tag == b"SWAP":
            payload = offset + SECTION_HEADER_BYTES
            events = np.frombuffer(data, EVENT_DTYPE, length // EVENT_DTYPE.itemsize, payload)
            events["tag"] += by
            covered = bytes(data[offset:offset + 8]) + bytes(data[payload:payload + padded])
            struct.pack_into("<I", data, offset + 8, crc32(covered))
            return bytes(data)
        offset += SECTION_HEADER_BYTES + padded
    raise AssertionError("bundle has no SWAP section")


def test_an_accepted_bundle_runs_swap_event_tag_1000(board, files):
    """Issue 8's case: swap event tags of 1000 and up passed the reader, then failed
    loading after install. Now the board either refuses such a bundle before
    install or (as today: tags only pair reads with their waits) runs it."""
    host, _ = board()
    upload(host.link, m.KIND_BUNDLE, files["with_data"])
    retagged = with_swap_tags_raised(files["swap"], 1000)
    upload(host.link, m.KIND_BUNDLE, retagged)
    upload(host.link, m.KIND_SAMPLES, encode_samples(files["x"], files["y"]))
    host.train(epochs=2)
    assert host.wait_for_end()["state"] == m.STATE_FINISHED
    assert_same_weights(host.weights(retagged), host_weights(files, 2))


def stored_files(sim):
    root = sim.storage_dir
    return {name: flash_file(sim, name) for name in os.listdir(root)
            if os.path.isfile(os.path.join(root, name))}


@pytest.mark.parametrize("case", ["flash_too_small", "loading_fails"])
def test_a_bundle_that_cannot_run_is_refused_and_nothing_is_touched(board, files, case):
    """The board runs a bundle and has its checkpoints; a new bundle that the C reader
    accepts but that cannot run here (its swap store does not fit the free flash, or
    loading it fails: here its flash file cannot be created) is refused at UPLOAD_END."""
    host, sim = board(agent_options=("--flash-limit", str(SWAP_STORE_BYTES - 1)))
    upload(host.link, m.KIND_BUNDLE, files["with_data"])
    host.train()
    assert host.wait_for_end()["state"] == m.STATE_FINISHED
    if case == "loading_fails":
        sim.power_cut()  # a board with flash enough, whose scratch flash file is blocked
        sim.argv[sim.argv.index("--flash-limit") + 1] = str(10 * SWAP_STORE_BYTES)
        sim.start()
        os.mkdir(os.path.join(sim.storage_dir, "flash.new.tmp"))
        host.connect()
        host.hello()
    before = stored_files(sim)
    assert set(checkpoint.SLOTS) <= set(before)

    with pytest.raises(UploadRejected) as rejected:
        upload(host.link, m.KIND_BUNDLE, files["swap"])
    expected = {"flash_too_small": (m.REJECT_TOO_BIG, "bundle too big: its swap store needs "
                                    "%d bytes of flash, this board has %d free"
                                    % (SWAP_STORE_BYTES, SWAP_STORE_BYTES - 1)),
                "loading_fails": (m.REJECT_INVALID_BUNDLE, "bundle cannot run on this board: "
                                  "cannot open swap file")}[case]
    assert rejected.value.result["reason"] == expected[0]
    errors = [log["text"] for log in host.logs() if log["level"] == m.LOG_ERROR]
    assert errors and errors[-1].startswith(expected[1]), errors
    assert stored_files(sim) == before, "a refused bundle changed the board's files"

    sim.restart()  # and after a reboot the old bundle goes on as before
    host.connect()
    host.hello()
    info, _ = checkpoint.decode(download(host.link, m.WHAT_CHECKPOINT))
    assert (info["bundle_crc"], info["state"]) == (crc32(files["with_data"]), m.STATE_FINISHED)
    assert_same_weights(host.weights(files["with_data"]), host_weights(files, 2))


def test_a_run_that_kills_the_board_is_resumed_twice_then_parked(board, files, tmp_path,
                                                                   monkeypatch, capsys):
    tests_dir = os.path.dirname(os.path.abspath(__file__))
    monkeypatch.setenv("PYTHONPATH", tests_dir + os.pathsep + os.environ.get("PYTHONPATH", ""))
    crashing = files["root"] / "crashing.mtb"
    assert microtrain(["plan", str(files["ini"]), "-o", str(crashing), "--seed", str(SEED),
                       "--data", str(files["npz"]), "--epochs", str(CRASH_EPOCHS)]) == 0
    host, sim = board(agent_options=("--engine", "crashing_engine"))
    upload(host.link, m.KIND_BUNDLE, crashing.read_bytes())
    host.train()
    for life in range(3):   # the run kills the agent; each boot resumes it, twice
        assert sim.wait(timeout=30) == -signal.SIGKILL, "life %d did not crash" % life
        sim.start()
    host.connect()
    host.hello()            # the third boot parked the run and answers
    host.link.poll(0.3)
    parked = [log["text"] for log in host.logs() if log["text"].startswith("training parked")]
    assert parked and "after each of 2 resumes at iteration 0 of %d" % (CRASH_EPOCHS * 12) \
        in parked[-1], host.logs()
    assert sim.poll() is None
    assert (tmp_path / "agent.log").read_text().count("resumed training at iteration 0") == 2

    host.transport.close()   # the CLI opens the port itself, exclusively
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))   # flash remembers the bundle
    good = files["root"] / "good.mtb"
    good.write_bytes(files["with_data"])
    capsys.readouterr()
    assert microtrain(["monitor", "--port", sim.port_path, "--no-live",
                       "--csv", str(tmp_path / "p.csv"), "--png", str(tmp_path / "p.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("microtrain: error: board ") and "training parked: the run stopped " \
        "abnormally after each of 2 resumes" in err and "--start trains again" in err, err
    assert len(err.splitlines()) == 1
    assert microtrain(["flash", "--port", sim.port_path, str(good)]) == 0   # a good bundle flashes
    out = capsys.readouterr().out.splitlines()
    parked_lines = [line for line in out if "training parked" in line]
    assert len(parked_lines) == 1 and parked_lines[0].startswith("board "), out
    assert out[-1].endswith("the parked run is cleared, the new bundle replaces it"), out
    assert microtrain(["flash", "--port", sim.port_path, str(good)]) == 0   # and it is cleared
    assert "training parked" not in capsys.readouterr().out

    host = Host(sim.port_path)   # ... and trains
    host.hello()
    host.train()
    assert host.wait_for_end()["state"] == m.STATE_FINISHED
    assert_same_weights(host.weights(files["with_data"]), host_weights(files, 2))


def test_bytes_sent_to_a_dead_board_are_not_acted_on_after_it_restarts(board, files):
    host, sim = board()
    upload(host.link, m.KIND_BUNDLE, files["with_data"])
    sim.power_cut()
    request = FLAG_REQUEST | FLAG_SYNC | (1 << TAG_SHIFT)
    host.transport.write(encode_frame(m.TRAIN_START, request, 7, m.encode(
        m.TRAIN_START, epochs=0, iterations=0, checkpoint_every=0)))
    host.transport.flush()
    sim.start()
    host.connect()
    host.hello()
    host.link.poll(0.5)
    assert not host.progress(), "the board trained on a request sent before it booted"
    with pytest.raises(m.RemoteError, match="no checkpoint"):
        download(host.link, m.WHAT_CHECKPOINT)


def test_a_name_longer_than_info_can_carry_is_cut_not_fatal(board):
    host, _ = board(name="n" * 230)
    info = host.hello()
    assert info["device_name"] == "n" * (m.MAX_PAYLOAD - m.INFO_FIXED_BYTES
                                         - len(info["kernel_version"]))


def test_a_second_program_on_the_port_is_told_the_port_is_busy(board):
    host, sim = board()
    with pytest.raises(UserError, match=r"^cannot open .*: port busy: used by another program$"):
        BoardClient(sim.port_path)

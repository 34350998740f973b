"""`microtrain demo`: the whole device workflow on an emulated board.

Pretrain the digits MLP on the host, plan it into a bundle, flash an
emulated board, upload one user's handwriting samples, personalise on the
board while the monitor shows it, pull the weights back and compare the
accuracy on the user's held-out digits before and after. Every step prints
the command a user would type for it on a real board."""
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from host_tools.bundle import write_bundle
from host_tools.bundle.from_program import bundle_content
from host_tools.cli.common import build_graph, plan_program
from host_tools.cli.flash import describe, flash_bundle
from host_tools.cli.pull import pull_weights
from host_tools.cli.samples import upload_samples
from host_tools.data import digits, encode
from host_tools.device.bundle_file import load_bundle
from host_tools.device.client import BoardClient
from host_tools.device.monitor import watch
from host_tools.device.user_data import user_data
from host_tools.errors import UserError
from host_tools.model.load import load_model
from host_tools.session import Session
from host_tools.training import accuracy, train
from host_tools.weights import npz_params, save_weights_npz

MODEL = Path(__file__).resolve().parents[2] / "examples" / "digits_mlp.ini"
STEPS = 8


class Demo:
    def __init__(self, workdir, live=True, user=3, pretrain_epochs=15, epochs=30, seed=0,
                 target="linux", precision="float32", qas=True):
        self.workdir = Path(workdir)
        self.precision, self.qas = precision, qas
        self.target = target
        self.live, self.user, self.seed = live, user, seed
        self.pretrain_epochs, self.epochs = pretrain_epochs, epochs
        self.step_number = 0

    def step(self, title):
        self.step_number += 1
        print(f"\n== [{self.step_number}/{STEPS}] {title} ==", flush=True)

    @staticmethod
    def hint(command):
        print(f"   $ {command}")

    def run(self):
        started = time.monotonic()
        self.workdir.mkdir(parents=True, exist_ok=True)
        program = self._plan_model()
        pretrained = self._pretrain(program)
        program = self._board_program(program, pretrained)
        bundle = self._make_bundle(program, pretrained)
        personal = user_data(self.user)
        with _emulated_board(self.workdir / "board", self.target) as port:
            personalised = self._on_board(port, bundle, program, pretrained, personal)
        before = evaluate(program, pretrained, personal)
        after = evaluate(program, personalised, personal)
        print(f"\nuser {self.user}'s held-out digits ({len(personal.x_test)}): accuracy "
              f"{100 * before:.1f}% before personalisation, {100 * after:.1f}% after "
              f"({time.monotonic() - started:.1f} s; files in {self.workdir})")
        return before, after

    def _plan_model(self):
        if not MODEL.exists():
            raise UserError(f"demo model {MODEL} not found (run from a source checkout)")
        spec = load_model(MODEL)
        return plan_program(_PlanArgs(), build_graph(spec))

    def _pretrain(self, program):
        self.step("Pretrain the digits MLP on the host (clean digits)")
        clean = digits()
        session = Session(program, seed=self.seed)
        run = train(session, clean, epochs=self.pretrain_epochs, seed=self.seed,
                    log=lambda line: None, progress=False)
        weights = session.weights()
        save_weights_npz(self.workdir / "pretrained.npz", weights)
        print(f"   {self.pretrain_epochs} epochs, clean test accuracy "
              f"{100 * run.epochs[-1].test_accuracy:.1f}% -> pretrained.npz")
        self.hint(f"microtrain train {_short(MODEL)} --epochs {self.pretrain_epochs} "
                  f"--dump-weights pretrained.npz")
        return weights

    def _board_program(self, program, pretrained):
        """float32: the pretrained program; int8 / fixed: the pretrained weights
        quantized (calibrated on the clean digits), personalised by integer Adam."""
        if self.precision == "float32":
            return program
        from host_tools.quantize.prepare import quantized_graph
        spec = replace(load_model(MODEL), precision=self.precision, qas=self.qas)
        graph, _ = quantized_graph(spec, program.graph.label_kind, digits(), pretrained,
                                   self.seed)
        board = plan_program(_PlanArgs(), graph)
        print(f"   quantized to {self.precision}{'' if self.qas else ' without QAS'}: training "
              f"arena {board.arena_bytes:,} bytes (float32: {program.arena_bytes:,}), weights "
              f"{_weight_bytes(board):,} bytes (float32: {_weight_bytes(program):,})")
        return board

    def _make_bundle(self, program, pretrained):
        self.step("Plan a bundle: the MLP, pretrained weights, digits training split")
        path = self.workdir / "digits_mlp.mtb"
        content = bundle_content(program, seed=self.seed, epochs=self.epochs, data=digits(),
                                 weights=by_tensor_id(program, pretrained))
        write_bundle(path, content)
        bundle = load_bundle(path)
        print(f"   {path.name}: {len(bundle.data):,} bytes, training arena "
              f"{bundle.arena_bytes:,} bytes")
        precision = "" if self.precision == "float32" else f" --precision {self.precision}"
        precision += "" if self.qas else " --no-qas"
        self.hint(f"microtrain plan {_short(MODEL)} --data digits --init-weights pretrained.npz "
                  f"--epochs {self.epochs}{precision} -o {path.name}")
        return bundle

    def _on_board(self, port, bundle, program, pretrained, personal):
        with BoardClient(port) as client:
            self.step("Start an emulated board (the agent in its own process, on a pty)")
            print(f"   {describe(client.hello(), port)}")
            self.hint(f"microtrain board-sim --storage {self.workdir / 'board'}")
            self.step("Flash the bundle")
            self.hint(f"microtrain flash --port {port} {bundle.path}")
            flash_bundle(client, bundle)
            self._show_user(program, pretrained, personal)
            self.step("Upload the user's samples")
            np.savez(self.workdir / "user-samples.npz", x=personal.x, y=personal.y)
            self.hint(f"microtrain samples --port {port} user-samples.npz")
            upload_samples(client, *_board_samples(program, personal))
            self.step(f"Personalise on the board ({self.epochs} epochs)")
            self.hint(f"microtrain monitor --port {port} --start --epochs {self.epochs}")
            since = len(client.events)
            client.start(epochs=self.epochs)
            watch(client, since, self.workdir / "training-log.csv", self.workdir / "training-curves.png",
                  live=self.live, stop_on_interrupt=True, title=f"user {self.user} on {port}")
            self.step("Pull the personalised weights")
            self.hint(f"microtrain pull --port {port} -o personal.npz")
            return pull_weights(client, bundle, self.workdir / "personal.npz")

    def _show_user(self, program, pretrained, personal):
        self.step(f"User {self.user}'s handwriting: slanted, shifted, thicker strokes")
        print(f"   {len(personal.x)} samples to personalise on, {len(personal.x_test)} held out; "
              f"pretrained accuracy on them: {100 * evaluate(program, pretrained, personal):.1f}%")



class _PlanArgs:
    """plan_program's options, as `microtrain plan` defaults them."""
    planner = "best"
    ram_budget = None
    lookahead = 4


class _emulated_board:
    """board.sim's emulated board (agent process behind a pty) for a with block
    -> its port; the agent's own log goes to DIR/agent.log."""

    def __init__(self, storage, target="linux"):
        self.storage = Path(storage)
        self.target = target

    def __enter__(self):
        from host_tools.device.targets import start_board
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log = open(self.storage.parent / "agent.log", "w")
        port, self.sim = start_board(self.target, self.storage, stderr=self.log)
        return port

    def __exit__(self, *exc):
        self.sim.stop()
        self.log.close()


def by_tensor_id(program, weights):
    """npz-keyed weights -> {tensor id: array} for a Session or a bundle. An
    integer program takes the integers ('#q' keys, as pulled) and keeps its
    own quantized initial values for float-only weights."""
    params = npz_params(program.graph)
    if program.graph.quant is not None:
        return {t.id: np.asarray(weights[key + "#q"]) for key, t in params.items()
                if key + "#q" in weights}
    return {params[key].id: np.asarray(value) for key, value in weights.items()
            if "#" not in key}


def _board_samples(program, data):
    """The samples as the board's loader takes them: float32, or for a fixed
    program the host-quantized integers (its input op is float-free)."""
    if program.graph.tensors[program.graph.input].dtype != "i32":
        return data.x, data.y
    x, _ = encode(data.x, data.y, program.graph, data.name)
    return x.reshape(data.x.shape), data.y


def _weight_bytes(program):
    return sum(t.nbytes for t in npz_params(program.graph).values())


def evaluate(program, weights, data):
    """Accuracy of npz-keyed weights on data's held-out split, on the host."""
    session = Session(program)
    session.set_values(by_tensor_id(program, weights))
    x, y = encode(data.x_test, data.y_test, program.graph, data.name)
    return accuracy(session, x, data.y_test, y)


def _short(path):
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)

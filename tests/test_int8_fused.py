"""The fused integer FC weight gradient + update (kinds 121-123, docs/int8.md):
bit-identical to QFC_GRAD followed by QSGD_APPLY / QADAM_APPLY. Checked three
ways: the integer MLP step of test_int8_step with the fused ops against the
numpy reference composed from the unfused maths; one layer, fused against
unfused C ops, with chunked rows, growing and shrinking gradients and a
wrong exponent guess; and the host graph (int8 default, --no-fused-update)."""
import numpy as np
import pytest

import int8_reference as ref
from core_cy import ExecutorError
from int8_program import APPLY, DERIV, FWD, GRAD, Program, g16_bytes
from test_int8_step import (HID, IN, MU, N, OUT, Quantized, ReferenceState, batch)

SEED_RNG = 2463534242
MT_ERR_BAD_OP = 1


def _weight_step(prog, q, name, x, dy, n, n_in, n_out, zx):
    """The fused op of weight `name` (W1 / W2): X, dY from the forward / backward."""
    e = q.e
    if q.optimizer == "sgd":
        prog.op("QFC_GRAD_QSGD", APPLY, [x, dy, name, "L" + name, "RNG", "M" + name, "GE" + name],
                [n, n_in, n_out, e, zx, MU])
    else:
        p = ref.adam_params(n_out * n_in, e, n_out)
        prog.op("QFC_GRAD_QADAM", APPLY, [x, dy, name, "L" + name, "AM" + name, "AV" + name,
                                          "AS" + name, "RNG"], [n, n_in, n_out, e, zx, *p[3:]])


def _bias_step(prog, q, name, ch):
    grad, lr = "d" + name, "L" + name
    if q.optimizer == "sgd":
        prog.op("QSGD_APPLY", APPLY, [name, grad, lr, "RNG", "M" + name], [ch, 4, ch, MU])
    else:
        prog.op("QADAM_APPLY", APPLY, [name, grad, lr, "AM" + name, "AV" + name, "AS" + name, "RNG"],
                ref.adam_params(ch, 4, ch))


def build_fused(q, loader=False):
    """test_int8_step's MLP with both weight updates fused (no dW tensors);
    loader: X32 / T are the loader's tensors."""
    e = q.e
    prog = Program()
    for name, nbytes in [("X32", 4 * N * IN), ("T", 4 * N), ("X", N * IN * e), ("W1", HID * IN * e),
                         ("B1", 4 * HID), ("RQ1", 8 * HID), ("H", N * HID * e),
                         ("W2", OUT * HID * e), ("B2", 4 * OUT), ("RQ2", 8 * OUT), ("WS2", 4 * OUT),
                         ("Z", N * OUT * e), ("P", 4 * N * OUT), ("dZ", g16_bytes(N * OUT)),
                         ("dB2", g16_bytes(OUT)), ("dH", g16_bytes(N * HID)), ("dB1", g16_bytes(HID)),
                         ("RNG", 4), ("MW1", g16_bytes(HID * IN)), ("MB1", g16_bytes(HID)),
                         ("MW2", g16_bytes(OUT * HID)), ("MB2", g16_bytes(OUT)), ("GEW1", 4),
                         ("GEW2", 4), ("LW1", 8 * HID), ("LB1", 8 * HID), ("LW2", 8 * OUT),
                         ("LB2", 8 * OUT)]:
        prog.tensor(name, nbytes)
    for name, numel in (("W1", HID * IN), ("B1", HID), ("W2", OUT * HID), ("B2", OUT)):
        prog.tensor("AM" + name, g16_bytes(numel)).tensor("AV" + name, g16_bytes(numel))
        prog.tensor("AS" + name, 16 if name.startswith("W") else 12)
    prog.op("QNARROW", FWD, ["X32", "X"], [N * IN, e])
    prog.op("QFC_FWD", FWD, ["X", "W1", "B1", "H", "RQ1"], [N, IN, HID, e, q.zx, q.zh])
    prog.op("QRELU_FWD", FWD, ["H", "H"], [N * HID, e, q.zh])
    prog.op("QFC_FWD", FWD, ["H", "W2", "B2", "Z", "RQ2"], [N, HID, OUT, e, q.zh, q.zz])
    prog.op("QCE_SOFTMAX_FWD", FWD, ["Z", "T", "P", "METRICS"], [N, OUT, e, q.mz, q.shz])
    prog.op("QCE_SOFTMAX_DERIV", DERIV, ["P", "T", "dZ"], [N, OUT])
    prog.op("QFC_BIAS_GRAD", GRAD, ["dZ", "dB2"], [N, OUT])
    prog.op("QFC_DERIV", DERIV, ["dZ", "W2", "WS2", "dH"], [N, HID, OUT, e, q.ws2_exp])
    _weight_step(prog, q, "W2", "H", "dZ", N, HID, OUT, q.zh)
    _bias_step(prog, q, "B2", OUT)
    prog.op("QRELU_DERIV", DERIV, ["H", "dH", "dH"], [N * HID, e, q.zh])
    prog.op("QFC_BIAS_GRAD", GRAD, ["dH", "dB1"], [N, HID])
    _weight_step(prog, q, "W1", "X", "dH", N, IN, HID, q.zx)
    _bias_step(prog, q, "B1", HID)
    if loader:
        prog.build(input="X32", labels="T", output="P")
    else:
        prog.build()
    for name in ("W1", "W2"):
        prog.set("AS" + name, np.array([0, 2 ** 30, 2 ** 30, 0], np.int32))
    for name in ("B1", "B2"):
        prog.set("AS" + name, np.array([0, 2 ** 30, 2 ** 30], np.int32))
    for name, value in [("W1", q.w1), ("B1", q.b1), ("RQ1", q.rq1), ("W2", q.w2), ("B2", q.b2),
                        ("RQ2", q.rq2), ("WS2", q.ws2), ("LW1", q.lr_w1), ("LB1", q.lr_b1),
                        ("LW2", q.lr_w2), ("LB2", q.lr_b2), ("RNG", np.array([SEED_RNG], np.uint32))]:
        prog.set(name, value)
    return prog


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("e", [1, 2], ids=["int8", "fixed"])
def test_fused_steps_match_the_unfused_reference_bit_for_bit(e, optimizer):
    q = Quantized(seed=1, e=e, optimizer=optimizer)
    prog, state = build_fused(q), ReferenceState(q)
    for i in range(4):
        x32, labels = batch(q, i)
        prog.set("X32", x32)
        prog.set("T", labels)
        prog.run()
        want = state.step(x32, labels)
        for name, value in (("W1", state.w1), ("B1", state.b1), ("W2", state.w2), ("B2", state.b2)):
            np.testing.assert_array_equal(prog.get(name, value.dtype, value.shape), value,
                                          err_msg=f"step {i} {name}")
        if optimizer == "sgd":
            for name, key in (("MW1", "w1"), ("MW2", "w2")):
                exp, vals = prog.get_g16(name, (state.mom[key][1].size,))
                assert exp == state.mom[key][0]
                np.testing.assert_array_equal(vals, state.mom[key][1])
            assert int(prog.get("GEW1", np.int32)[0]) == want["dw1"][0]   # dW's exponent kept
        else:
            for name, key in (("W1", "w1"), ("W2", "w2")):
                (bm, mw), (bv, vw), step = state.adam[key]
                assert prog.get_g16("AM" + name, (mw.size,))[0] == bm
                np.testing.assert_array_equal(prog.get_g16("AM" + name, (mw.size,))[1], mw)
                assert prog.get_g16("AV" + name, (vw.size,))[0] == bv
                np.testing.assert_array_equal(prog.get_g16("AV" + name, (vw.size,))[1], vw)
                np.testing.assert_array_equal(prog.get("AS" + name, np.int32)[:3], step)
            assert int(prog.get("ASW1", np.int32)[3]) == want["dw1"][0]
        assert int(prog.get("RNG", np.uint32)[0]) == state.rng


# ---------------------------------------------------------------- one layer, C against C

def _layer(fused, optimizer, e, n, n_in, n_out, mu):
    """One QFC layer's weight update, fused or QFC_GRAD + step; the bias gradient
    comes from QFC_BIAS_GRAD (fused) or QFC_GRAD's dB."""
    prog = Program()
    numel = n_out * n_in
    for name, nbytes in [("X", n * n_in * e), ("dY", g16_bytes(n * n_out)), ("W", numel * e),
                         ("LR", 8 * n_out), ("RNG", 4), ("MOM", g16_bytes(numel)),
                         ("M", g16_bytes(numel)), ("V", g16_bytes(numel)), ("STEP", 16),
                         ("GE", 4), ("dW", g16_bytes(numel)), ("dB", g16_bytes(n_out))]:
        prog.tensor(name, nbytes)
    adam = ref.adam_params(numel, e, n_out, eps=1e-3)
    zx = 3
    if fused:
        prog.op("QFC_BIAS_GRAD", GRAD, ["dY", "dB"], [n, n_out])
        if optimizer == "sgd":
            prog.op("QFC_GRAD_QSGD", APPLY, ["X", "dY", "W", "LR", "RNG", "MOM" if mu else None, "GE"],
                    [n, n_in, n_out, e, zx, mu])
        else:
            prog.op("QFC_GRAD_QADAM", APPLY, ["X", "dY", "W", "LR", "M", "V", "STEP", "RNG"],
                    [n, n_in, n_out, e, zx, *adam[3:]])
    else:
        prog.op("QFC_GRAD", GRAD, ["X", "dY", "dW", "dB"], [n, n_in, n_out, e, zx])
        if optimizer == "sgd":
            prog.op("QSGD_APPLY", APPLY, ["W", "dW", "LR", "RNG"] + (["MOM"] if mu else []),
                    [numel, e, n_out, mu])
        else:
            prog.op("QADAM_APPLY", APPLY, ["W", "dW", "LR", "M", "V", "STEP", "RNG"], adam)
    return prog.build()


@pytest.mark.parametrize("optimizer, mu", [("sgd", 29491), ("sgd", 0), ("adam", 0)])
@pytest.mark.parametrize("e, n", [(1, 5), (1, 300), (2, 7)], ids=["int8", "int8-long", "fixed"])
def test_fused_layer_matches_unfused_ops(optimizer, mu, e, n):
    """IN = 150 (two full chunks of 64 and a ragged one); gradients that grow
    and shrink by binades, so the exponent guess is wrong on some steps, and one
    step with a garbage GE: results never depend on the guess."""
    n_in, n_out = 150, 5
    g = np.random.default_rng(7)
    lo, hi = ref.INT_RANGE[e]
    progs = [_layer(fused, optimizer, e, n, n_in, n_out, mu) for fused in (False, True)]
    w = g.integers(ref.WEIGHT_RANGE[e][0], ref.WEIGHT_RANGE[e][1] + 1, (n_out, n_in))
    scales = g.uniform(0.002, 0.02, n_out)
    lr = ref.sgd_multipliers(0.05, scales, 0.01) if optimizer == "sgd" else \
        ref.adam_multipliers(0.01, scales)
    for prog in progs:
        prog.set("W", w.astype(ref.DTYPES[e]))
        prog.set("LR", lr)
        prog.set("RNG", np.array([SEED_RNG], np.uint32))
        prog.set("STEP", np.array([0, 2 ** 30, 2 ** 30, 0], np.int32))
    for step, magnitude in enumerate((2000, 30000, 40, 9000, 9000)):
        x = g.integers(lo, hi + 1, (n, n_in)).astype(ref.DTYPES[e])
        dy = (-7 + step, g.integers(-magnitude, magnitude + 1, (n, n_out)).astype(np.int16))
        for prog in progs:
            prog.set("X", x)
            prog.set_g16("dY", dy)
        if step == 3:
            progs[1].set("GE", np.array([-(2 ** 31)], np.int32))
            progs[1].set("STEP", np.concatenate([progs[1].get("STEP", np.int32)[:3],
                                                 np.array([123456], np.int32)]))
        for prog in progs:
            prog.run()
        unfused, fused = progs
        for name in ("W", "RNG", "MOM", "M", "V", "dB"):
            assert bytes(unfused.view(name, np.uint8)) == bytes(fused.view(name, np.uint8)), \
                (step, name)
        np.testing.assert_array_equal(unfused.get("STEP", np.int32)[:3], fused.get("STEP", np.int32)[:3])
        ge = fused.get("GE", np.int32)[0] if optimizer == "sgd" else fused.get("STEP", np.int32)[3]
        assert ge == unfused.get_g16("dW", (1,))[0], step
    assert not np.array_equal(progs[1].get("W", ref.DTYPES[e], w.shape), w)   # it trained


@pytest.mark.parametrize("kind, params", [
    ("QFC_GRAD_QSGD", [4, 8, 3, 4, 0, 0]),          # E is 1 or 2 (weights only)
    ("QFC_GRAD_QSGD", [4, 8, 3, 1, 0, 32768]),      # mu is Q15 in [0, 1)
    ("QFC_GRAD_QSGD", [4, 8, 3, 1, 200, 0]),        # zero point outside int8
    ("QFC_GRAD_QADAM", [4, 8, 3, 1, 0, 1 << 30, 0, 0, 0]),   # beta1 below 1
    ("QFC_BIAS_GRAD", [0, 3]),
])
def test_fused_ops_refuse_bad_params(kind, params):
    prog = Program()
    for name in "ABCDEFGH":
        prog.tensor(name, 4096)
    slots = {"QFC_GRAD_QSGD": 7, "QFC_GRAD_QADAM": 8, "QFC_BIAS_GRAD": 2}[kind]
    prog.op(kind, APPLY, list("ABCDEFGH")[:slots], params)
    with pytest.raises(ExecutorError) as info:
        prog.build()
    assert info.value.status == MT_ERR_BAD_OP


def test_momentum_without_its_buffer_is_refused():
    prog = Program()
    for name in "ABCDEFG":
        prog.tensor(name, 4096)
    prog.op("QFC_GRAD_QSGD", APPLY, ["A", "B", "C", "D", "E", None, "G"], [4, 8, 3, 1, 0, 100])
    with pytest.raises(ExecutorError) as info:
        prog.build()
    assert info.value.status == MT_ERR_BAD_OP


# ---------------------------------------------------------------- the host graph

def _digits_spec(precision, optimizer):
    from host_tools.model.api import Model
    settings = {"type": "sgd", "learning_rate": 0.03, "momentum": 0.9} if optimizer == "sgd" \
        else {"type": "adam", "learning_rate": 0.003}
    model = Model(loss="cross", batch_size=8, precision=precision, optimizer=settings)
    model.add("input", "input", input_shape="1:8:8")
    model.add("flatten", "flatten")
    model.add("hidden", "fully_connected", unit=48, activation="relu")
    model.add("output", "fully_connected", unit=10, activation="softmax")
    return model.spec()


@pytest.fixture(scope="module")
def digits_data():
    from host_tools.data import digits
    return digits()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("precision", ["int8", "fixed"])
def test_fused_graph_trains_bit_identically_in_a_smaller_arena(digits_data, precision, optimizer):
    """quantized_graph fuses both FC layers by default; 40 iterations from the same
    weights end in the same bytes as the unfused graph, in a smaller arena."""
    from host_tools.program import build_program
    from host_tools.quantize.prepare import quantized_graph
    from host_tools.session import Session
    from host_tools.training import train
    spec = _digits_spec(precision, optimizer)
    runs = {}
    for fused in (True, False):
        graph, _ = quantized_graph(spec, 0, digits_data, None, 4, fused=fused)
        assert graph.fused_layers == (["output", "hidden"] if fused else [])
        kinds = [op.kind for op in graph.ops]
        assert ("QFC_GRAD" in kinds) != fused and ("QFC_BIAS_GRAD" in kinds) == fused
        program = build_program(graph)
        session = Session(program, seed=5)
        run = train(session, digits_data, iterations=40, seed=5, log=lambda line: None,
                    progress=False)
        runs[fused] = program.arena_bytes, session.weights(), run.losses
    (fused_arena, fused_weights, fused_losses), (arena, weights, losses) = runs[True], runs[False]
    assert fused_arena < arena
    np.testing.assert_array_equal(fused_losses, losses)
    assert fused_weights.keys() == weights.keys()
    for key in weights:
        np.testing.assert_array_equal(fused_weights[key], weights[key], err_msg=key)


def test_plan_reports_fused_layers_and_no_fused_update_turns_them_off(tmp_path, capsys):
    import json
    from host_tools.cli import main
    path = tmp_path / "m.ini"
    path.write_text("[Model]\ntype = NeuralNetwork\nbatch_size = 8\nloss = cross\n"
                    "precision = int8\n[Optimizer]\ntype = sgd\nlearning_rate = 0.1\n"
                    "momentum = 0.9\n[in]\ntype = input\ninput_shape = 1:1:64\n"
                    "[fc]\ntype = fully_connected\nunit = 32\nactivation = relu\n"
                    "[out]\ntype = fully_connected\nunit = 10\nactivation = softmax\n")
    figures = {}
    for extra in ([], ["--no-fused-update"]):
        assert main(["plan", str(path), "--json", *extra]) == 0
        figures[bool(extra)] = json.loads(capsys.readouterr().out)
    assert figures[False]["fused_updates"] == ["out", "fc"]
    assert figures[True]["fused_updates"] == []
    assert figures[False]["arena_bytes"] < figures[True]["arena_bytes"]
    assert main(["plan", str(path)]) == 0
    assert "fused weight updates: out, fc" in capsys.readouterr().out

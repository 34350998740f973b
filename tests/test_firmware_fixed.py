"""The Cortex-M3 firmware of precision "fixed" (PlatformIO env qemu_m3_fixed,
-DMT_NO_FLOAT_KERNELS) links no soft-float routine into the training path: no
function the link keeps from the core (core_cy/src, read from the map file),
nor anything those call, calls an __aeabi_f* / __aeabi_d* routine. The agent's
own reporting (loss as a double) may; it is outside the training path. The
same check on the float32 M3 firmware must find the soft-float calls."""

import re
import subprocess

from firmware_fixtures import firmware, firmware_env

SOFT_FLOAT = re.compile(r"^__aeabi_[fd]")
INTEGER_KERNELS = {"mt_qfc_fwd", "mt_qfc_grad", "mt_qfc_deriv", "mt_qrelu_fwd", "mt_qrelu_deriv",
                   "mt_qce_softmax_fwd", "mt_qce_softmax_deriv", "mt_qsgd_apply", "mt_train_loop"}


def kept_core_functions(elf):
    """Functions whose .text.* input section from a core object survived --gc-sections."""
    text = (elf.parent / "firmware.map").read_text()
    memory_map = text[text.index("Linker script and memory map"):]
    sections = re.finditer(r"^ \.text\.(\S+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+(\S+)", memory_map, re.M)
    return {m.group(1) for m in sections if "/core_cy/" in m.group(2)}


def call_graph(elf):
    """function -> functions it branches to (bl / b.w / b with a symbol), from the disassembly."""
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", str(elf)], capture_output=True,
                          text=True, check=True).stdout
    graph, current = {}, None
    for line in dump.splitlines():
        head = re.match(r"^[0-9a-f]+ <(\S+)>:", line)
        if head:
            current = graph.setdefault(head.group(1), set())
        elif current is not None:
            target = re.search(r"\sb(?:l|\.w|)\S*\s+[0-9a-f]+ <([^>+]+)", line)
            if target:
                current.add(target.group(1))
    return graph


def soft_float_reached(elf):
    """(kept core functions, {function on the training path: soft-float routines it calls})."""
    kept, graph = kept_core_functions(elf), call_graph(elf)
    seen, todo = set(), [f for f in kept if f in graph]
    while todo:
        name = todo.pop()
        if name in seen or SOFT_FLOAT.match(name):
            continue
        seen.add(name)
        todo.extend(graph.get(name, ()))
    return kept, {f: sorted(c for c in graph.get(f, ()) if SOFT_FLOAT.match(c))
                  for f in seen if any(SOFT_FLOAT.match(c) for c in graph.get(f, ()))}


def test_fixed_m3_training_path_has_no_soft_float():
    kept, calls = soft_float_reached(firmware_env("qemu_m3_fixed"))
    assert INTEGER_KERNELS <= kept            # the check covers the integer training step
    assert not {"mt_fc_fwd", "mt_expf", "mt_sgd_apply"} & kept  # float kernels left out
    assert calls == {}


def test_the_check_finds_soft_float_in_the_float_m3_build():
    kept, calls = soft_float_reached(firmware("baremetal-m3"))
    assert "mt_fc_fwd" in kept and "__aeabi_fmul" in calls.get("mt_adam_apply", [])

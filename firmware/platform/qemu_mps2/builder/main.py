"""Build script of the qemu_mps2 platform: Debian's arm-none-eabi-gcc, CPU/FPU
flags from the board JSON, a map file, and `pio run -t exec` to boot in QEMU."""

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
board = env.BoardConfig()

cpu = board.get("build.cpu")
float_flags = ["-mfloat-abi=%s" % board.get("build.float_abi", "soft")]
if board.get("build.fpu", "none") != "none":
    float_flags.append("-mfpu=%s" % board.get("build.fpu"))
machine_flags = ["-mcpu=%s" % cpu, "-mthumb"] + float_flags

env.Replace(
    AR="arm-none-eabi-gcc-ar", AS="arm-none-eabi-as", CC="arm-none-eabi-gcc",
    CXX="arm-none-eabi-g++", GDB="arm-none-eabi-gdb", OBJCOPY="arm-none-eabi-objcopy",
    RANLIB="arm-none-eabi-gcc-ranlib", SIZETOOL="arm-none-eabi-size",
    PROGSUFFIX=".elf",
)
env.Append(
    ASFLAGS=machine_flags,
    CCFLAGS=machine_flags + [
        "-O2", "-g", "-ffunction-sections", "-fdata-sections",
        "-ffp-contract=off",   # no fused multiply-add: results match the host bit for bit
        "-Wall", "-Wextra",
    ],
    CFLAGS=["-std=c99"],
    LINKFLAGS=machine_flags + [
        "--specs=nano.specs", "-nostartfiles", "-Wl,--gc-sections",
        "-Wl,-Map,${BUILD_DIR}/firmware.map", "-Wl,--print-memory-usage",
    ],
    LIBS=["m", "c", "gcc"],
)

program = env.BuildProgram()
size = env.AddPlatformTarget("size", program, env.VerboseAction(
    "$SIZETOOL ${SOURCE.abspath}", "Program size"), "Program Size")

qemu = ("qemu-system-arm -M %s -nographic -monitor none -serial stdio "
        "-semihosting-config enable=on,target=native -kernel ${SOURCE.abspath}"
        % board.get("build.qemu_machine"))
env.AddPlatformTarget("exec", program, env.VerboseAction(qemu, "Booting in QEMU"), "Run in QEMU")
Default([program])
AlwaysBuild(size)

# Frozen into the QEMU firmware: the agent and the boot script main.c runs.
include("../agent_manifest.py")
module("mt_boot.py", base_path="modules")

# Frozen into the unix port build (host_tools/device/micropython_unix.py):
# `micropython -m board.mp_main --port fd:N --storage DIR` runs the agent.
include("agent_manifest.py")

#!/bin/sh
# Makes PlatformIO build the QEMU environments with no registry access:
# pip's SCons stands in for the tool-scons package PlatformIO would download.
# Usage: firmware/tools/setup_offline.sh   (honours PLATFORMIO_CORE_DIR, default ~/.platformio)
set -eu
python3 -c "import platformio, SCons" 2>/dev/null || pip install platformio scons
core="${PLATFORMIO_CORE_DIR:-$HOME/.platformio}"
version=$(python3 -c "import SCons; v=SCons.__version__.split('.'); print('4.%d.0' % (int(v[0]) * 10000 + int(v[1]) * 100 + int(v[2])))")
dest="$core/packages/tool-scons"
mkdir -p "$dest"
cat > "$dest/package.json" <<JSON
{"name": "tool-scons", "version": "$version", "description": "SCons from pip (offline)"}
JSON
cat > "$dest/.piopm" <<JSON
{"type": "tool", "name": "tool-scons", "version": "$version", "spec": {"owner": "platformio", "id": null, "name": "tool-scons", "requirements": null, "uri": null}}
JSON
cat > "$dest/scons.py" <<'PY'
import sys
from SCons.Script.Main import main
sys.exit(main())
PY
echo "tool-scons $version seeded in $dest"

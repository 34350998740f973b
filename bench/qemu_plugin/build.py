"""Builds bench/qemu_plugin/insn_marks.c against QEMU's plugin header.

Debian's QEMU runs plugins but ships no qemu-plugin.h: it is taken from the
Debian source package of the installed QEMU (apt-get source --download-only,
through a private sources list, /etc/apt untouched), once, into a cache dir."""

import os
import pathlib
import subprocess
import tarfile

HERE = pathlib.Path(__file__).resolve().parent
HEADER_IN_TARBALL = "include/qemu/qemu-plugin.h"


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return pathlib.Path(base) / "microtrain" / "qemu-plugin"


def _apt(args, cwd, apt_dir):
    sources = apt_dir / "sources.list"
    sources.write_text(
        "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://deb.debian.org/debian bookworm main\n"
        "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        "http://deb.debian.org/debian-security bookworm-security main\n")
    (apt_dir / "lists" / "partial").mkdir(parents=True, exist_ok=True)
    options = ["-o", f"Dir::Etc::SourceList={sources}", "-o", "Dir::Etc::SourceParts=/dev/null",
               "-o", f"Dir::State::Lists={apt_dir / 'lists'}"]
    subprocess.run(["apt-get", *options, *args], cwd=cwd, check=True, capture_output=True)


def plugin_header():
    """Path of qemu-plugin.h, fetched on first use."""
    header = cache_dir() / "qemu-plugin.h"
    if header.exists():
        return header
    work = cache_dir() / "apt"
    work.mkdir(parents=True, exist_ok=True)
    _apt(["update"], work, work)
    _apt(["source", "--download-only", "qemu"], work, work)
    tarball = next(work.glob("qemu_*.orig.tar.xz"))
    with tarfile.open(tarball) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith(HEADER_IN_TARBALL))
        header.write_bytes(archive.extractfile(member).read())
    for leftover in work.glob("qemu_*"):
        leftover.unlink()
    return header


def plugin_library():
    """Path of libinsn_marks.so, built on first use."""
    library = cache_dir() / "libinsn_marks.so"
    source = HERE / "insn_marks.c"
    if library.exists() and library.stat().st_mtime >= source.stat().st_mtime:
        return library
    header = plugin_header()
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-Wall", f"-I{header.parent}", "-o",
                    str(library), str(source)], check=True)
    return library

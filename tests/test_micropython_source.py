"""Where the MicroPython tree comes from and how the unix port is built: MICROPY_DIR
checked (a tree, at v1.28.0), the vendor tarball beside the repository extracted once
into the cache, one-line errors naming what to do, the build keyed by its inputs."""

import io
import os
import tarfile

import pytest

from host_tools.device import micropython_source as source
from host_tools.device import micropython_unix as unix
from host_tools.errors import UserError


def mpconfig(major, minor, micro):
    return ("#define MICROPY_VERSION_MAJOR %d\n#define MICROPY_VERSION_MINOR %d\n"
            "#define MICROPY_VERSION_MICRO %d\n" % (major, minor, micro))


def fake_tree(root, version):
    (root / "py").mkdir(parents=True)
    (root / "py" / "mpconfig.h").write_text(mpconfig(*version))
    return root


@pytest.fixture
def no_micropy_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("MICROPY_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_micropy_dir_is_used_when_it_holds_v1_28_0(monkeypatch, tmp_path):
    tree = fake_tree(tmp_path / "mp", (1, 28, 0))
    monkeypatch.setenv("MICROPY_DIR", str(tree))
    assert source.micropython_tree() == tree.resolve()


@pytest.mark.parametrize("version, expected", [
    (None, "not a MicroPython source tree (no py/mpconfig.h)"),
    ((1, 27, 0), "MicroPython 1.27.0 found, v1.28.0 needed")])
def test_a_wrong_micropy_dir_is_one_line_naming_it(monkeypatch, tmp_path, version, expected):
    tree = fake_tree(tmp_path / "mp", version) if version else tmp_path
    monkeypatch.setenv("MICROPY_DIR", str(tree))
    with pytest.raises(UserError) as error:
        source.micropython_tree()
    text = str(error.value)
    assert text.startswith("MICROPY_DIR=%s: " % tree) and expected in text
    assert "git clone --depth 1 --branch v1.28.0" in text and "\n" not in text


def test_without_micropy_dir_or_tarball_the_error_says_to_clone(monkeypatch, tmp_path, no_micropy_dir):
    monkeypatch.setattr(source, "REPO_DIR", tmp_path / "repo")   # nothing in shared/vendor above it
    with pytest.raises(UserError, match="^MicroPython source not found: git clone .* set MICROPY_DIR"):
        source.micropython_tree()


def test_the_vendor_tarball_is_extracted_once_into_the_cache(monkeypatch, tmp_path, no_micropy_dir):
    vendor = tmp_path / "shared" / "vendor"
    vendor.mkdir(parents=True)
    with tarfile.open(vendor / source.TARBALL, "w:gz") as archive:
        header = mpconfig(1, 28, 0).encode()
        info = tarfile.TarInfo("micropython-1.28.0/py/mpconfig.h")
        info.size = len(header)
        archive.addfile(info, io.BytesIO(header))
    monkeypatch.setattr(source, "REPO_DIR", tmp_path / "work" / "repo")
    tree = source.micropython_tree()
    assert tree == tmp_path / "cache" / "microtrain" / "micropython-1.28.0"
    stamp = os.stat(tree / "py" / "mpconfig.h").st_mtime_ns
    (vendor / source.TARBALL).unlink()       # a second call must not need it
    assert source.micropython_tree() == tree
    assert os.stat(tree / "py" / "mpconfig.h").st_mtime_ns == stamp
    assert not (tree.parent / "micropython-1.28.0.partial").exists()


def test_the_unix_build_names_the_debian_packages_when_tools_are_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))   # no make, gcc, pkg-config
    with pytest.raises(UserError) as error:
        unix.check_packages()
    assert "libffi-dev pkg-config" in str(error.value) and "\n" not in str(error.value)


def test_the_unix_build_is_keyed_by_its_inputs_and_freezes_the_manifest_if_any(monkeypatch, tmp_path):
    argv = unix.make_argv(tmp_path / "mp", tmp_path / "build", 2)
    assert "USER_C_MODULES=%s" % unix.MODULES_DIR in argv and "BUILD=%s" % (tmp_path / "build") in argv
    assert "VARIANT=standard" in argv and "MICROPY_PY_SSL=0" in argv and "MICROPY_PY_BTREE=0" in argv
    monkeypatch.setattr(unix, "MANIFEST", tmp_path / "manifest_unix.py")
    without = unix.source_hash(tmp_path / "mp")
    assert "FROZEN_MANIFEST=" in unix.make_argv(tmp_path / "mp", tmp_path / "build", 2)
    (tmp_path / "manifest_unix.py").write_text("module('agent.py')\n")
    assert "FROZEN_MANIFEST=%s" % (tmp_path / "manifest_unix.py") in unix.make_argv(
        tmp_path / "mp", tmp_path / "build", 2)
    assert unix.source_hash(tmp_path / "mp") != without
    assert unix.source_hash(tmp_path / "other") != unix.source_hash(tmp_path / "mp")

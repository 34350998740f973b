"""INI text as NNTrainer's iniparser reads it: section names and keys are
case-insensitive (lower-cased), `#` / `;` start comments (also right after a
value, no space needed), a value in double or single quotes is taken
verbatim without the quotes, a key given twice keeps its last value, and a
section given twice is one section with both sets of keys."""
from pathlib import Path

from host_tools.errors import UserError

COMMENT = ("#", ";")


def _value(text):
    text = text.strip()
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end > 0:
            return text[1:end]
    for mark in COMMENT:
        if mark in text:
            text = text[:text.index(mark)]
    return text.strip()


def parse_ini_text(text, where):
    """Returns {section: {key: value}} in file order (sections and keys)."""
    sections, current = {}, None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(COMMENT):
            continue
        if line.startswith("["):
            if "]" not in line:
                raise UserError(f"line {number}: section header without ']'", where)
            name = line[1:line.index("]")].strip().lower()
            if not name:
                raise UserError(f"line {number}: empty section name", where)
            current = sections.setdefault(name, {})
            continue
        if "=" not in line:
            raise UserError(f"line {number}: expected 'key = value', got {line!r}", where)
        if current is None:
            raise UserError(f"line {number}: key outside any [section]", where)
        key, value = line.split("=", 1)
        current.pop(key.strip().lower(), None)  # the last one wins, in its own place
        current[key.strip().lower()] = _value(value)
    return sections


def read_ini(path):
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UserError(f"cannot read model file: not a UTF-8 text file (byte {error.start})",
                        str(path)) from None
    except OSError as error:
        raise UserError(f"cannot read model file: {error.strerror}", str(path)) from None
    return parse_ini_text(text, str(path))

"""--models for the bench scripts: a comma-separated list checked against the
names a script knows, so a typo ends in one line naming them, not a traceback."""
import sys


def pick_models(text, known, prog):
    """The names in `text` (comma-separated), in order; exits non-zero with
    one line listing `known` when any is unknown or none is given."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        what = f"unknown model {', '.join(map(repr, unknown))}" if unknown else "no model given"
        sys.exit(f"{prog}: --models: {what}; known: {', '.join(known)}")
    return names

"""The one exception type a user sees: the CLI prints it on one line."""


class UserError(Exception):
    """Bad input from the user; `where` names the file / section / key."""

    def __init__(self, message, where=""):
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)

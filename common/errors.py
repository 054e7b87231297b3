"""One error type for bad input, so every entry point can print it as one clear line.

Data engineers read these in cluster logs: the message names the file (and line or
field), what is wrong and how to fix it, on a single line.
"""


class InputError(Exception):
    """Bad input: a file, manifest field or setting that the user must fix."""

    def __init__(self, where: str, problem: str, fix: str):
        self.where, self.problem, self.fix = str(where), problem, fix
        super().__init__(f"{self.where}: {problem}; fix: {fix}")

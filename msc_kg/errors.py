"""The package's exceptions: each names the file, line or focus node and what is wrong."""

from __future__ import annotations

from pathlib import Path


class MscKgError(Exception):
    """Base class of every error the package reports to users."""


class SourceParseError(MscKgError):
    """A data file does not parse; nothing of the load is kept."""

    def __init__(self, path, line, reason):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")

    @classmethod
    def not_utf8(cls, path, data: bytes, note: str = "") -> SourceParseError:
        """The error for ``data``, the bytes of ``path``, that do not decode as UTF-8: the line
        and the column (in bytes) of the first that are not, then ``note``."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            start = data.rfind(b"\n", 0, exc.start) + 1
            return cls(path, data.count(b"\n", 0, exc.start) + 1,
                       f"is not UTF-8 text (column {exc.start - start + 1}: {exc.reason}){note}")
        return cls(path, None, f"is not UTF-8 text{note}")


class SourceUnreadable(SourceParseError):
    """A data file cannot be read (permissions, a loop of links): an I/O error, exit status 2 as
    for every other file that cannot be read, not 1, "does not conform" (bad-input audit)."""


class ValidationFailed(MscKgError):
    """The data does not conform to the shapes (or an evidence quote is not in the review)."""

    def __init__(self, report):
        self.report = report
        super().__init__(report.text())


class BuildError(MscKgError):
    """An artefact of the release could not be written; the previous release is left as it was."""


class ReasonerUnavailable(MscKgError):
    """The OWL reasoner cannot run here (HermiT needs a Java runtime)."""


class Inconsistent(MscKgError):
    """HermiT found the ontology with its data inconsistent, or a class unsatisfiable."""


def support_text(path) -> str:
    """The UTF-8 text of a file the build reads besides the data (a query, a reference table, the
    prefix map); MscKgError naming its line and column where it is not UTF-8 text (a traceback
    before, and exit 1 as if the data did not conform: packaging review)."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MscKgError(str(SourceParseError.not_utf8(path, data))) from None

"""The package's exceptions: each names the file, line or focus node and what is wrong."""

from __future__ import annotations


class MscKgError(Exception):
    """Base class of every error the package reports to users."""


class SourceParseError(MscKgError):
    """A data file does not parse; nothing of the load is kept."""

    def __init__(self, path, line, reason):
        self.path, self.line, self.reason = str(path), line, reason
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {reason}")


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

"""Sieve's Python SDK: write a supervision model as a `Model` subclass, try it locally on CSV files
(`sieve_sdk.local`), and build it into a component with `sieve build` (componentize-py).

    from sieve_sdk import Model, ModelInfo, TableSpec, Clue, ops
    from sieve_sdk.guest import export

    class MyModel(Model):
        @staticmethod
        def describe():
            return ModelInfo("my-model", "0.1.0").task("private-lending-fraud", "case").input(...)

        @staticmethod
        def run(ctx):
            cases = ctx.table("lending_cases").load(["case_no", "plaintiff_id"])
            ...
            ctx.emit(Clue(subject, 0.9, "rule-id", "why").evidence("lending_cases", [row]))

    Model = export(MyModel)  # what componentize-py exports
"""

from . import ops
from .columns import Column, Dictionary, Frame, Strings, TextColumn
from .context import Context
from .model import (
    MAX_EVIDENCE_ROWS,
    BadData,
    BadParam,
    Clue,
    Evidence,
    Failed,
    Model,
    ModelError,
    ModelInfo,
    TableSpec,
)

__all__ = [
    "ops",
    "Column",
    "Dictionary",
    "Frame",
    "Strings",
    "TextColumn",
    "Context",
    "MAX_EVIDENCE_ROWS",
    "BadData",
    "BadParam",
    "Clue",
    "Evidence",
    "Failed",
    "Model",
    "ModelError",
    "ModelInfo",
    "TableSpec",
]

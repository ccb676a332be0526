"""Python access to MegaFold-MLIR artifacts through the mf runtime's C API."""

from .runtime import (ArgInfo, Function, MFError, Module, Runtime,
                      outputs_like, read_artifact)

__all__ = ["ArgInfo", "Function", "MFError", "Module", "Runtime",
           "outputs_like", "read_artifact"]

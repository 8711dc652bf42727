"""Hatchling build hook: compiles consent_ledger/_canonical.c into the package.

The extension makes the two per-entry checks of ``consent_ledger.encoding`` about ten
times faster. Without a C compiler the install still succeeds and the pure-Python
reference runs instead (slower; ``encoding.NATIVE`` says which). Editable installs get the
module built next to its source, which is where the package is imported from.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

MODULE = "consent_ledger._canonical"
SOURCE = "consent_ledger/_canonical.c"


class CanonicalExtension(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        built = self._build()
        if built is None:
            return
        build_data["pure_python"] = False
        build_data["infer_tag"] = True
        if version != "editable":
            build_data["force_include"][str(built)] = built.relative_to(self.root).as_posix()

    def _build(self) -> Path | None:
        # setuptools is only needed here, at build time.
        from setuptools import Distribution, Extension

        extension = Extension(MODULE, [SOURCE], extra_compile_args=["-O2"])
        dist = Distribution({"name": "custos-canonical", "ext_modules": [extension]})
        command = dist.get_command_obj("build_ext")
        command.inplace = True
        here = Path.cwd()
        try:
            os.chdir(self.root)
            with tempfile.TemporaryDirectory() as scratch:
                command.build_temp = scratch
                command.ensure_finalized()
                command.run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means: go without it
            self.app.display_warning(
                f"{SOURCE} was not compiled ({type(exc).__name__}: {exc}); "
                "the pure-Python checks will run instead"
            )
            return None
        finally:
            os.chdir(here)
        return Path(self.root) / str(command.get_ext_filename(MODULE))

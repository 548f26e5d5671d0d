"""``dllm new-plugin NAME``: generate a plugin package whose own tests pass out of the box.

The package (``dllm-NAME``, import ``dllm_NAME``) registers an example noise schedule through
the ``dllm`` entry point and tests itself with :mod:`dllm_core.testing`. It is written to a
temporary folder first and renamed into place, so a failure leaves nothing half-written. A name
taken by an installed plugin, distribution or package (``core``, ``llada``, ...) is refused: the new
package would replace it when installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import tempfile
from importlib import metadata, resources
from pathlib import Path
from string import Template

from dllm_core import __version__
from dllm_core.errors import DllmError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")

#: template file -> path inside the generated package (``{package}`` is filled in)
LAYOUT = {
    "pyproject.toml.tmpl": "pyproject.toml",
    "README.md.tmpl": "README.md",
    "__init__.py.tmpl": "{package}/__init__.py",
    "plugin.py.tmpl": "{package}/plugin.py",
    "schedules.py.tmpl": "{package}/schedules.py",
    "test_plugin.py.tmpl": "tests/test_plugin.py",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="plugin name: lowercase letters, digits and hyphens (e.g. 'my-sched')")
    parser.add_argument("--output-dir", default=".", help="folder in which dllm-NAME/ is created")


def core_version_range(version: str = __version__) -> str:
    """``>=X.Y,<X.(Y+1)``: the dllm-core releases this plugin is written against."""
    major, minor = (int(part) for part in version.split(".")[:2])
    return f">={major}.{minor},<{major}.{minor + 1}"


def render_plugin(name: str, destination: Path) -> Path:
    """Write the plugin package for ``name`` into ``destination/dllm-NAME``; return that path."""
    if not NAME_PATTERN.match(name):
        raise DllmError(f"invalid plugin name '{name}': use lowercase letters, digits and single "
                        "hyphens, starting with a letter (e.g. 'my-sched')")
    package = "dllm_" + name.replace("-", "_")
    check_name_is_free(name, package)
    target = destination / f"dllm-{name}"
    if target.exists():
        raise DllmError(f"{target} already exists; choose another name or --output-dir, or remove it")
    values = {"name": name, "package": package, "dist": f"dllm-{name}", "core_range": core_version_range()}
    templates = resources.files("dllm_core") / "templates" / "plugin"
    try:
        destination.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".dllm-{name}-", dir=destination))
    except OSError as exc:
        raise DllmError(f"cannot create a folder in --output-dir {destination} ({exc.strerror or exc}); "
                        "pass a folder you can write to") from None
    try:
        for template_name, relative in LAYOUT.items():
            path = staging / relative.format(package=package)
            path.parent.mkdir(parents=True, exist_ok=True)
            text = (templates / template_name).read_text()
            path.write_text(Template(text).substitute(values))
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def check_name_is_free(name: str, package: str) -> None:
    """Refuse ``name`` when an installed plugin, the distribution ``dllm-NAME`` or the import
    package ``dllm_NAME`` already exists: installing the new package would replace it."""
    from dllm_core.registry import CORE_PLUGIN, ENTRY_POINT_GROUP

    plugins = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)} | {CORE_PLUGIN}
    taken = name in plugins
    try:
        metadata.distribution(f"dllm-{name}")
        taken = True
    except metadata.PackageNotFoundError:
        pass
    if taken or importlib.util.find_spec(package) is not None:
        raise DllmError(f"plugin name '{name}' is taken by an installed plugin or package (dllm-{name} / {package}); "
                        "a new package of that name would replace it: choose another name (`dllm plugins` lists "
                        "installed ones)")


def run(args: argparse.Namespace) -> int:
    target = render_plugin(args.name, Path(args.output_dir))
    print(f"created {target}\nnext: pip install -e {target}[test] && dllm plugins && pytest {target}/tests")
    return 0

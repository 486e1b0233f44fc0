# SPDX-License-Identifier: MIT
"""Optional controller libraries, imported on first use so that a missing one names the package to install.

A filter module imports nothing optional at load time: without argon2-cffi, the mail_auth filters still load
and every other filter works; calling one that hashes a password fails with the pip package to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ansible.errors import AnsibleFilterError

# import name -> the package that provides it, as pip and the controller requirements name it
PACKAGES = {
    "argon2": "argon2-cffi",
    "bcrypt": "bcrypt",
    "cryptography": "cryptography",
    "dns": "dnspython",
}


def require(module: str, filter_name: str) -> ModuleType:
    """The module MODULE (e.g. ``argon2.low_level``), or an error of FILTER_NAME naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as missing:
        package = PACKAGES[module.partition(".")[0]]
        raise AnsibleFilterError(
            f"{filter_name}: needs the Python package {package} on the controller, which is not installed "
            f"({missing}); install it into the Python that runs Ansible (pip install {package}, or the Debian "
            f"package python3-{package.removesuffix('-cffi')}), or run from the execution environment "
            "(meta/execution-environment.yml)"
        ) from None

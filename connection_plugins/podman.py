# SPDX-License-Identifier: MIT
"""The lab's podman connection: containers.podman's, with pipelining.

Molecule's podman driver and the lab inventory connect with the short name ``podman``; ansible.cfg (and each
scenario's molecule.yml) put this folder on the connection plugin path, so that name finds this plugin first.
The collection's plugin leaves pipelining off and runs four or five ``podman exec`` per task (temporary
directory, copy, chmod, run, clean up); here a module goes to the container's Python on the standard input of a
single ``podman exec -i``, which makes a task about three times faster. Files for copy and template still go
through ``podman cp``.

Run as root on the machine that runs the containers, it goes one step further: a command enters the container's
namespaces with ``nsenter`` instead of ``podman exec``, about 10 ms instead of 150 (podman starts a runtime for every
exec), and files go the same way. The container's process ID comes from podman's own state files; where any of this
is not so (another user, a remote podman, a stopped container), the plugin falls back to ``podman exec``.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible.utils.display import Display
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

display = Display()

DOCUMENTATION = r"""
name: podman
short_description: Run tasks in a local podman container, with pipelining
description:
  - Subclass of C(containers.podman.podman) that sends modules through the standard input of C(podman exec -i)
    (pipelining) and copies files with C(podman cp), without mounting the container.
  - Used by the mailfort lab and its molecule scenarios.
options:
  remote_addr:
    description: Name or ID of the container.
    default: inventory_hostname
    vars:
      - name: ansible_host
      - name: inventory_hostname
      - name: ansible_podman_host
  remote_user:
    description: User the commands run as inside the container.
    ini:
      - section: defaults
        key: remote_user
    env:
      - name: ANSIBLE_REMOTE_USER
    vars:
      - name: ansible_user
  podman_extra_args:
    description: Arguments for every podman command line.
    default: ''
    ini:
      - section: defaults
        key: podman_extra_args
    vars:
      - name: ansible_podman_extra_args
    env:
      - name: ANSIBLE_PODMAN_EXTRA_ARGS
  podman_executable:
    description: The podman binary.
    default: podman
    vars:
      - name: ansible_podman_executable
    env:
      - name: ANSIBLE_PODMAN_EXECUTABLE
  pipelining:
    description: Send modules through the standard input instead of copying them.
    type: boolean
    default: true
    ini:
      - section: defaults
        key: pipelining
    env:
      - name: ANSIBLE_PIPELINING
    vars:
      - name: ansible_pipelining
"""


# podman's state as root keeps it (containers-storage's defaults): which ID a container name has, and its PID file.
_CONTAINERS_JSON = "/var/lib/containers/storage/overlay-containers/containers.json"
_PIDFILE = "/run/containers/storage/overlay-containers/{}/userdata/pidfile"
# What `podman exec` gives a command; nsenter starts from an empty environment, not the controller's.
_ENVIRONMENT = [
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME=/root",
    "container=podman",
]


def _container_pid(name: str) -> str | None:
    """The PID of the running container NAME's first process, read from podman's state; None where unknown."""
    try:
        with open(_CONTAINERS_JSON, encoding="utf-8") as listing:
            ids = [entry["id"] for entry in json.load(listing) if name in entry.get("names", []) or entry["id"] == name]
        if len(ids) != 1:
            return None
        with open(_PIDFILE.format(ids[0]), encoding="utf-8") as pidfile:
            pid = pidfile.read().strip()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if pid.isdigit() and os.path.exists(f"/proc/{pid}/ns/mnt") else None


class Connection(PodmanConnection):
    """containers.podman's connection with pipelining and without the per-task mount."""

    transport = "podman"
    has_pipelining = True

    def _connect(self):
        # The collection mounts the container's file system on every connection (one more podman call per task)
        # to copy files; `podman cp` does that job when it is needed.
        ConnectionBase._connect(self)
        self._connected = True
        return self

    def _nsenter(self) -> list[str] | None:
        """The nsenter command line into the container, where this controller may use one."""
        if os.geteuid() != 0 or self.user not in (None, "", "root") or self.get_option("podman_extra_args"):
            return None
        nsenter = shutil.which("nsenter")
        pid = _container_pid(self._container_id) if nsenter else None
        if pid is None:
            return None
        return [nsenter, "--target", pid, "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd", "--"]

    def _run_inside(self, argv: list[str], in_data: bytes | None) -> tuple[int, bytes, bytes] | None:
        prefix = self._nsenter()
        if prefix is None:
            return None
        local_cmd = [*prefix, "env", "-i", *_ENVIRONMENT, *argv]
        display.vvv(f"NSENTER {local_cmd}", host=self._container_id)
        # Ansible's own command, run in a container of this machine's own, as podman exec would.
        process = subprocess.run(local_cmd, input=in_data, capture_output=True, check=False)  # noqa: S603
        return process.returncode, process.stdout, process.stderr

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        inside = self._run_inside(shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)
        if inside is not None:
            return inside
        exec_args = ["exec"]
        if in_data is not None:
            exec_args.append("--interactive")  # the pipelined module arrives on the standard input
        if self.user:
            exec_args.extend(("--user", self.user))
        return self._podman(exec_args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

    def put_file(self, in_path, out_path):
        ConnectionBase.put_file(self, in_path, out_path)
        with open(in_path, "rb") as source:
            inside = self._run_inside(["/bin/sh", "-c", 'cat > "$1"', "sh", out_path], source.read())
        if inside is None:
            return super().put_file(in_path, out_path)
        if inside[0] != 0:
            raise AnsibleError(f"Failed to copy {in_path} to {out_path} in {self._container_id}: {inside[2]!r}")
        return None

    def fetch_file(self, in_path, out_path):
        ConnectionBase.fetch_file(self, in_path, out_path)
        inside = self._run_inside(["cat", in_path], None)
        if inside is None:
            return super().fetch_file(in_path, out_path)
        if inside[0] != 0:
            raise AnsibleError(f"Failed to fetch {in_path} from {self._container_id}: {inside[2]!r}")
        with open(out_path, "wb") as target:
            target.write(inside[1])
        return None

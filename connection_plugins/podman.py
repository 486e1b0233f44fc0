# SPDX-License-Identifier: MIT
"""The lab's podman connection: containers.podman's, with pipelining.

Molecule's podman driver and the lab inventory connect with the short name ``podman``; ansible.cfg (and each
scenario's molecule.yml) put this folder on the connection plugin path, so that name finds this plugin first.
The collection's plugin leaves pipelining off and runs four or five ``podman exec`` per task (temporary
directory, copy, chmod, run, clean up); here a module goes to the container's Python on the standard input of a
single ``podman exec -i``, which makes a task about three times faster. Files for copy and template still go
through ``podman cp``.
"""

from __future__ import annotations

import shlex

from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.connection import ConnectionBase, ensure_connect
from ansible_collections.containers.podman.plugins.connection.podman import Connection as PodmanConnection

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

    @ensure_connect
    def exec_command(self, cmd, in_data=None, sudoable=False):
        ConnectionBase.exec_command(self, cmd, in_data=in_data, sudoable=sudoable)
        exec_args = ["exec"]
        if in_data is not None:
            exec_args.append("--interactive")  # the pipelined module arrives on the standard input
        if self.user:
            exec_args.extend(("--user", self.user))
        return self._podman(exec_args, shlex.split(to_native(cmd, errors="surrogate_or_strict")), in_data)

# SPDX-License-Identifier: MIT
"""The host side of mailfort.mail.mail_config: compare the rendered files with the live ones, build the candidate,
run the daemon's check there, and swap the checked files in (plugins/modules/mail_config.py runs it).

Standard library only, for the Python of Debian 12 and 13.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess  # the check commands, run without a shell (argv lists)
import tempfile
from typing import Any

# The diff of a secret file: two fixed texts, so that the diff still shows that the file changes.

HIDDEN_BEFORE = "(secret: the live content is not shown)\n"
HIDDEN_AFTER = "(secret: the new content is not shown)\n"
# Ansible's default diff size limit (DEFAULT MAX_FILE_SIZE_FOR_DIFF), as ansible.builtin.copy applies it.
DIFF_MAX_SIZE = 104448
# How much of a check's output a failure message quotes.
OUTPUT_MAX_LINES = 40
OUTPUT_MAX_CHARS = 4000
# A line of a secret file that a check quotes is masked in its output when it is at least this long.
SECRET_LINE_MIN = 5
MASK = "********"
ATTRIBUTES = ("mode", "owner", "group")


class MailConfigError(Exception):
    """A failure with its message, the files already installed and what the check said (for fail_json)."""

    def __init__(self, msg: str, **result) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = result


def _inside(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _user(value: str, index: int, option: str) -> int:
    lookup = pwd.getpwnam if option == "owner" else grp.getgrnam
    try:
        return lookup(value)[2]
    except KeyError:
        if value.isdigit():
            return int(value)
    kind = "user" if option == "owner" else "group"
    raise MailConfigError(f"mail_config: files[{index}].{option} = {value!r} is no {kind} on the host")


def _mode(value: str, index: int) -> int:
    if not re.fullmatch(r"[0-7]{3,4}", value or ""):
        raise MailConfigError(
            f"mail_config: files[{index}].mode = {value!r} must be a quoted octal mode such as '0644'"
        )
    return int(value, 8)


def _attributes(st: os.stat_result) -> dict:
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return {"mode": f"{stat.S_IMODE(st.st_mode):04o}", "owner": owner, "group": group}


class File:
    """One file of the task: what it should be, what the live one is, and what differs."""

    def __init__(self, index: int, spec: dict, live_dir: str) -> None:
        self.index = index
        self.dest = spec["dest"]
        self.secret = bool(spec["secret"])
        text = spec["secret_content"] if self.secret else spec["content"]
        if text is None:
            raise MailConfigError(f"mail_config: files[{index}] arrived without its content")
        self.content = text.encode("utf-8", "surrogateescape")
        if spec["checksum"] and hashlib.sha256(self.content).hexdigest() != spec["checksum"]:
            raise MailConfigError(
                f"mail_config: files[{index}] arrived damaged (its checksum differs from the rendered one)"
            )
        candidate = spec["secret_candidate_content"] if self.secret else spec["candidate_content"]
        self.candidate_content = self.content if candidate is None else candidate.encode("utf-8", "surrogateescape")
        self.mode = _mode(spec["mode"], index)
        self.uid = _user(spec["owner"], index, "owner")
        self.gid = _user(spec["group"], index, "group")
        self.wanted = {"mode": f"{self.mode:04o}", "owner": spec["owner"], "group": spec["group"]}
        self.path = os.path.join(live_dir, self.dest)
        self.before: bytes | None = None
        self.before_attributes: dict = {}
        self.differs: list[str] = []
        self.backup_file = ""
        self.backup = spec["backup"]  # None: the task's backup

    def where(self) -> str:
        return f"files[{self.index}].dest = {self.dest!r}"

    def compare(self, real_live: str) -> None:
        """Read the live file and note what differs from the wanted one."""
        if not _inside(os.path.realpath(os.path.dirname(self.path)), real_live):
            raise MailConfigError(f"mail_config: {self.where()} leads out of live_dir through a symbolic link")
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            self.differs = ["content"]
            return
        if not stat.S_ISREG(st.st_mode):
            kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "not a regular file"
            raise MailConfigError(
                f"mail_config: {self.where()}: {self.path} is {kind}; mail_config replaces regular files"
            )
        if st.st_size != len(self.content):
            self.differs.append("content")
        else:
            with open(self.path, "rb") as live:
                self.before = live.read()
            if self.before != self.content:
                self.differs.append("content")
        if stat.S_IMODE(st.st_mode) != self.mode:
            self.differs.append("mode")
        if st.st_uid != self.uid:
            self.differs.append("owner")
        if st.st_gid != self.gid:
            self.differs.append("group")
        self.before_attributes = _attributes(st)

    def live_content(self) -> bytes:
        if self.before is None and os.path.exists(self.path):
            with open(self.path, "rb") as live:
                self.before = live.read()
        return self.before or b""

    def diff(self) -> list[dict]:
        """Ansible's diff of this file: its content (as ansible.builtin.template shows it), then its attributes."""
        found = []
        exists = bool(self.before_attributes)
        if "content" in self.differs:
            entry = {"before_header": self.path, "after_header": self.path}
            if self.secret:
                entry |= {"before": HIDDEN_BEFORE if exists else "", "after": HIDDEN_AFTER}
            else:
                before = self.live_content()
                if len(before) > DIFF_MAX_SIZE:
                    entry["dst_larger"] = DIFF_MAX_SIZE
                elif len(self.content) > DIFF_MAX_SIZE:
                    entry["src_larger"] = DIFF_MAX_SIZE
                else:
                    try:
                        entry |= {"before": before.decode("utf-8"), "after": self.content.decode("utf-8")}
                    except UnicodeDecodeError:
                        entry["dst_binary"] = 1
            found.append(entry)
        changed = [name for name in ATTRIBUTES if name in self.differs]
        if changed:
            found.append(
                {
                    "before_header": self.path,
                    "after_header": self.path,
                    "before": {name: self.before_attributes[name] for name in changed},
                    "after": {name: self.wanted[name] for name in changed},
                }
            )
        return found

    def report(self) -> dict:
        found = {"dest": self.dest, "path": self.path, "differs": list(self.differs)}
        if self.backup_file:
            found["backup_file"] = self.backup_file
        return found


def _write(path: str, content: bytes, uid: int, gid: int, mode: int) -> None:
    """Replace PATH atomically: a temporary file beside it, with its owner, group and mode, renamed over it."""
    directory, name = os.path.split(path)
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".mailfort")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
            os.fchown(out.fileno(), uid, gid)
            os.fchmod(out.fileno(), mode)  # after chown, which may clear the setuid and setgid bits
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
    directory_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_fd)  # the rename itself survives a crash
    finally:
        os.close(directory_fd)


def _copy_tree(source: str, target: str, skip: str) -> None:
    """Copy SOURCE into TARGET (which exists): files, directories and links with their modes and owners, not SKIP."""
    directories = []
    for top, dirs, names in os.walk(source):
        rel = os.path.relpath(top, source)
        into = target if rel == "." else os.path.join(target, rel)
        for name in list(dirs):
            from_path, to_path = os.path.join(top, name), os.path.join(into, name)
            if _inside(from_path, skip):
                dirs.remove(name)
            elif os.path.islink(from_path):
                dirs.remove(name)
                names.append(name)
            else:
                os.mkdir(to_path, 0o700)
                directories.append((from_path, to_path))
        for name in names:
            from_path, to_path = os.path.join(top, name), os.path.join(into, name)
            st = os.lstat(from_path)
            if stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(from_path), to_path)
            elif stat.S_ISREG(st.st_mode):
                shutil.copy2(from_path, to_path, follow_symlinks=False)
            else:
                continue  # a socket or a fifo is no configuration, and copying a fifo would block
            os.lchown(to_path, st.st_uid, st.st_gid)
    # The directories' own modes last: a read-only one would not have taken its files.
    for from_path, to_path in reversed(directories):
        st = os.lstat(from_path)
        os.lchown(to_path, st.st_uid, st.st_gid)
        os.chmod(to_path, stat.S_IMODE(st.st_mode))


def _masked(text: str, secret_lines: list[str]) -> str:
    for line in secret_lines:
        text = text.replace(line, MASK)
    return text


def _secret_lines(files: list[File]) -> list[str]:
    """Lines of the secret files, longest first, that a check may quote; not those a public file holds as well."""
    public = {line.strip() for f in files if not f.secret for line in f.content.decode("utf-8", "replace").splitlines()}
    lines = {
        line.strip()
        for f in files
        if f.secret
        for content in (f.content, f.candidate_content)
        for line in content.decode("utf-8", "replace").splitlines()
    }
    return sorted(
        (line for line in lines if len(line) >= SECRET_LINE_MIN and line not in public), key=len, reverse=True
    )


class Installer:
    def __init__(self, module: Any) -> None:  # an AnsibleModule whose params the module's spec checked
        self.module = module
        params = module.params
        self.live_dir = os.path.normpath(params["live_dir"])
        self.candidate_dir = os.path.normpath(params["candidate_dir"]) if params["candidate_dir"] else None
        self.mirror = params["mirror"]
        self.install = params["install"]
        self.backup = params["backup"]
        self.checks = params["check"] or []
        self.files = [File(index, spec, self.live_dir) for index, spec in enumerate(params["files"])]
        self._refuse_bad_places()

    def _refuse_bad_places(self) -> None:
        """The action checks these too; the module does not rely on it, as it removes what is in candidate_dir."""
        if not os.path.isabs(self.live_dir):
            raise MailConfigError(f"mail_config: live_dir = {self.live_dir!r} must be an absolute path")
        if not self.checks:
            return
        candidate = self.candidate_dir
        if not candidate or not os.path.isabs(candidate) or candidate == "/":
            raise MailConfigError(f"mail_config: candidate_dir = {candidate!r} must be an absolute path other than /")
        real_live, real_candidate = os.path.realpath(self.live_dir), os.path.realpath(candidate)
        if _inside(real_live, real_candidate):
            raise MailConfigError(f"mail_config: candidate_dir = {candidate!r} must not be live_dir nor hold it")
        for f in self.files:
            if _inside(os.path.realpath(f.path), real_candidate):
                raise MailConfigError(f"mail_config: {f.where()} must not be inside candidate_dir ({candidate})")

    def run(self) -> dict:
        real_live = os.path.realpath(self.live_dir)
        for f in self.files:
            f.compare(real_live)
        changed = [f for f in self.files if f.differs]
        result = {
            "changed": bool(changed),
            "changed_files": [f.dest for f in changed],
            "changes": [f.report() for f in changed],
        }
        if self.module._diff and changed:
            result["diff"] = [entry for f in changed for entry in f.diff()]
        if not changed:
            return result | {"msg": f"all {len(self.files)} files are up to date"}
        names = ", ".join(result["changed_files"])
        if self.module.check_mode:
            return result | {"msg": f"{len(changed)} of {len(self.files)} files would change ({names})"}

        checked = ""
        if self.checks and any("content" in f.differs for f in changed):
            self._build_candidate()
            result["candidate_dir"] = self.candidate_dir
            result["checks"] = self._check()
            refused = [c for c in result["checks"] if c["refused"]]
            if refused:
                said = "\n".join(f"`{c['cmd']}` exited with {c['rc']}: {_quoted(c['output'])}" for c in refused)
                raise MailConfigError(
                    f"mail_config: the check refused the candidate configuration in {self.candidate_dir}; the live "
                    f"configuration in {self.live_dir} is unchanged.\n{said}",
                    changed_files=[],
                    changes=[],
                    candidate_dir=self.candidate_dir,
                    checks=result["checks"],
                )
            checked = ", checked by " + "; ".join(c["cmd"] for c in result["checks"])
        if not self.install:
            # The checked candidate waits for the task that puts it in force; only metadata changes apply now.
            self._install([f for f in changed if "content" not in f.differs])
            result["changes"] = [f.report() for f in changed]
            return result | {
                "msg": f"{len(changed)} of {len(self.files)} files differ ({names}){checked}; the candidate in"
                f" {self.candidate_dir} waits to be put in force"
            }
        self._install(changed)
        result["changes"] = [f.report() for f in changed]
        return result | {"msg": f"{len(changed)} of {len(self.files)} files changed ({names}){checked}"}

    def _build_candidate(self) -> None:
        candidate = self.candidate_dir
        if os.path.islink(candidate) or (os.path.lexists(candidate) and not os.path.isdir(candidate)):
            raise MailConfigError(f"mail_config: candidate_dir = {candidate!r} exists and is not a directory")
        if os.path.isdir(candidate):
            # Emptied rather than replaced: the directory that holds it (live_dir itself, for Postfix) keeps its
            # modification time, so a refused candidate leaves nothing of the live tree changed.
            for entry in os.scandir(candidate):
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
        else:
            os.makedirs(os.path.dirname(candidate), mode=0o755, exist_ok=True)
            os.mkdir(candidate, 0o700)
        os.chown(candidate, os.geteuid(), os.getegid())
        os.chmod(candidate, 0o700)  # whatever the umask, and whatever an earlier candidate directory had
        if self.mirror and os.path.isdir(self.live_dir):
            _copy_tree(self.live_dir, candidate, skip=candidate)
        real_candidate = os.path.realpath(candidate)
        for f in self.files:
            path = os.path.join(candidate, f.dest)
            parent = os.path.dirname(path)
            # A mirrored absolute link (jail.d -> /etc/fail2ban/jail.d) would write, or make a directory, in the live
            # tree: looked at before anything is created along the path.
            if not _inside(os.path.realpath(parent), real_candidate) or os.path.islink(path):
                raise MailConfigError(f"mail_config: {f.where()} leads out of the candidate through a symbolic link")
            os.makedirs(parent, mode=0o755, exist_ok=True)
            _write(path, f.candidate_content, f.uid, f.gid, f.mode)

    def _check(self) -> list[dict]:
        secret_lines = _secret_lines(self.files)
        found = []
        for check in self.checks:
            argv = check["argv"]
            try:
                ran = subprocess.run(  # noqa: S603  # the role's own command, split into words, no shell
                    argv, cwd=self.candidate_dir, stdin=subprocess.DEVNULL, capture_output=True, check=False
                )
                rc = ran.returncode
                stdout, stderr = (
                    _masked(part.decode("utf-8", "replace"), secret_lines) for part in (ran.stdout, ran.stderr)
                )
            except OSError as error:
                rc, stdout, stderr = 127, "", f"cannot run {argv[0]}: {error.strerror}"
            output = "\n".join(part.strip() for part in (stdout, stderr) if part.strip())
            refused = (
                rc != 0
                or (check["fail_on_output"] and bool(_spoken(output, check["ignore_output"])))
                or (check["fail_on_stderr"] and bool(_spoken(stderr, check["ignore_output"])))
            )
            found.append({"cmd": check["display"], "rc": rc, "output": output, "refused": refused})
        return found

    def _install(self, changed: list[File]) -> None:
        done: list[File] = []
        for f in changed:
            try:
                if "content" in f.differs:
                    os.makedirs(os.path.dirname(f.path), mode=0o755, exist_ok=True)
                    if (self.backup if f.backup is None else f.backup) and os.path.exists(f.path):
                        f.backup_file = self.module.backup_local(f.path)
                    _write(f.path, f.content, f.uid, f.gid, f.mode)
                else:
                    if "owner" in f.differs or "group" in f.differs:
                        os.chown(f.path, f.uid, f.gid)
                    os.chmod(f.path, f.mode)  # after chown, which may clear the setuid and setgid bits
            except Exception as error:  # OSError, and the bare Exception of backup_local
                cause = error.__cause__ or error
                reason = getattr(cause, "strerror", None) or str(cause)
                before = ", ".join(d.dest for d in done) or "none"
                raise MailConfigError(
                    f"mail_config: installing {f.path} failed ({reason}); installed before it: {before}",
                    changed=bool(done),
                    changed_files=[d.dest for d in done],
                    changes=[d.report() for d in done],
                ) from error
            done.append(f)


def _spoken(text: str, ignore: list[str]) -> list[str]:
    """The lines of TEXT that count: not blank, and found by none of the patterns of IGNORE."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return [line for line in lines if not any(re.search(pattern, line) for pattern in ignore)]


def _quoted(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    if not lines:
        return "(no output)"
    text = "\n".join(lines[:OUTPUT_MAX_LINES])
    if len(lines) > OUTPUT_MAX_LINES or len(text) > OUTPUT_MAX_CHARS:
        text = text[:OUTPUT_MAX_CHARS] + "\n(more output in the result's checks)"
    return text

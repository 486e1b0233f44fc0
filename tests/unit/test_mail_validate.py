# SPDX-License-Identifier: MIT
"""mail_validate: the helpers on their own, then the action in real plays on the controller (no host needed)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleError, AnsibleFilterError

PROJECT_DIR = Path(__file__).resolve().parents[2]
_SPEC = importlib.util.spec_from_file_location("mail_validate", PROJECT_DIR / "plugins" / "action" / "mail_validate.py")
mail_validate = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(mail_validate)


# ------------------------------------------------------------------------------------------------------ helpers


def _wrapped(message: str, library_error: Exception | None = None) -> AnsibleError:
    """A filter's error as Ansible raises it: wrapped twice, the filter's own error (and a library's) below."""
    try:
        try:
            try:
                if library_error is not None:
                    raise library_error
                raise AnsibleFilterError(message)
            except ValueError as inner:
                raise AnsibleFilterError(message) from inner
        except AnsibleFilterError as filter_error:
            raise AnsibleError("The filter plugin 'mail_x' failed.") from filter_error
    except AnsibleError as plugin_error:
        try:
            raise AnsibleError("Finalization of task args for 'ansible.builtin.set_fact' failed.") from plugin_error
        except AnsibleError as outer:
            return outer


def test_root_messages_are_the_filters_own_words_without_its_name():
    error = _wrapped("mail_net_cidrs: my_networks[1] = 'x' is not a network")
    assert mail_validate.root_messages(error) == ["my_networks[1] = 'x' is not a network"]


def test_a_message_that_only_repeats_another_behind_a_name_is_dropped():
    errors = [
        "dkim_postfix_milter: dkim_keys[2].selector = 'mx_2026' is bad",
        "dkim_keys[2].selector = 'mx_2026' is bad",
        "dkim_ttl: must be a number",
    ]

    assert mail_validate.without_echoes(errors) == errors[1:]
    assert mail_validate.without_echoes(errors[:1]) == errors[:1]


def test_root_messages_stop_at_the_filters_error_above_a_library_error():
    error = _wrapped("mail_tls_check_bundle: mail_tls_cert_pem is damaged", ValueError("ParseError { kind: Tag }"))
    assert mail_validate.root_messages(error) == ["mail_tls_cert_pem is damaged"]


def test_root_messages_split_one_problem_a_line_and_fold_whitespace():
    error = _wrapped("mail_auth_check_users: users[0].name = 'a' is bad\nusers[2].state   = 'x'  is bad\n\n")
    assert mail_validate.root_messages(error) == ["users[0].name = 'a' is bad", "users[2].state = 'x' is bad"]


@pytest.mark.parametrize(
    ("expression", "names", "expected"),
    [
        ("__x_list | length", {"__x_list"}, True),
        ("__x_list_more | length", {"__x_list"}, False),
        ("item.__x_list", {"__x_list"}, False),
        ("a + __x", {"__x", "__y"}, True),
        ("a + b", set(), False),
    ],
)
def test_uses_finds_whole_names_only(expression, names, expected):
    assert mail_validate.uses(expression, names) is expected


def test_fill_shows_values_and_leaves_other_braces_alone():
    values = {"a": 5, "item.minimum": "x"}
    words = mail_validate.fill("at least {item.minimum}, not {a}; no {braces here}", values.__getitem__)
    assert words == "at least 'x', not 5; no {braces here}"


def test_show_cuts_a_long_value_short():
    shown = mail_validate.show("x" * 500)
    assert len(shown) == mail_validate.SHOWN_VALUE_MAX
    assert shown.endswith("...")


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "argument 'a_factor' is of type str and we were unable to convert to float: <class 'Tagged'> cannot be",
            "a_factor = 'x' must be a number (the role's argument spec)",
        ),
        (
            "Elements value for option 'a_factor' is of type int and we were unable to convert to str: nope",
            "a_factor = 'x' must hold only entries that are a string (the role's argument spec)",
        ),
        (
            "value of a_factor must be one of: one, two, got: x",
            "a_factor = 'x' must be one of one, two (the role's argument spec)",
        ),
        ("a_factor is required", "a_factor is required (the role's argument spec)"),
    ],
)
def test_spec_messages_leave_the_converters_internals_out(message, expected):
    assert mail_validate.spec_message(message, "a_factor", "x") == expected


def test_report_of_one_role_reads_as_that_roles_failure():
    reported = mail_validate.report([{"deferred": {"role": "demo", "errors": ["a is bad", "b is bad"]}}, {"msg": "ok"}])
    assert reported == {
        "failed": True,
        "msg": "demo: 2 input errors, nothing on the host was changed:\n- a is bad\n- b is bad",
    }


def test_report_of_several_roles_names_each_with_its_errors():
    reported = mail_validate.report(
        [
            {"deferred": {"role": "one", "errors": ["a is bad"]}},
            {"facts": {}},
            {"deferred": {"role": "two", "errors": ["b is bad", "c is bad"]}},
        ]
    )
    assert reported["failed"] is True
    assert reported["msg"] == (
        "2 roles refused their input, nothing on the host was changed:\n"
        "one: an input error\n- a is bad\n"
        "two: 2 input errors\n- b is bad\n- c is bad"
    )


def test_report_without_refusals_passes():
    assert "failed" not in mail_validate.report([{"facts": {}}, {"msg": "skipped"}])


# ------------------------------------------------------------------------------------------------ in real plays

SPEC = {
    "argument_specs": {
        "main": {
            "options": {
                "demo_count": {"type": "int", "default": 1},
                "demo_mode": {"type": "str", "choices": ["on", "off"], "default": "on"},
            }
        }
    }
}


def _play(tmp_path: Path, tasks: list[dict], extra: dict, *args: str) -> subprocess.CompletedProcess:
    """Run TASKS in a play on the controller with EXTRA as extra vars, with the project's ansible.cfg."""
    (tmp_path / "argument_specs.yml").write_text(json.dumps(SPEC), encoding="utf-8")
    play = [{"hosts": "localhost", "gather_facts": False, "vars": {"demo_count": 1, "demo_mode": "on"}, "tasks": tasks}]
    (tmp_path / "play.yml").write_text(json.dumps(play), encoding="utf-8")
    return subprocess.run(
        ["ansible-playbook", str(tmp_path / "play.yml"), "-e", json.dumps(extra), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROJECT_DIR,
        env={**os.environ, "ANSIBLE_CONFIG": str(PROJECT_DIR / "ansible.cfg"), "ANSIBLE_FORCE_COLOR": "false"},
    )


def _task(tmp_path: Path, **more) -> dict:
    return {
        "name": "Check the demo input",
        "mailfort.mail.mail_validate": {
            "role": "demo",
            "argument_specs": str(tmp_path / "argument_specs.yml"),
            "facts": {
                "__demo_networks": "demo_networks"
                " | mailfort.mail.mail_net_trusted('demo_networks', [], 'demo_ack', 'is trusted')"
                " | mailfort.mail.mail_net_cidrs('demo_networks')",
                "__demo_count": "__demo_networks | length",
            },
            "rules": [
                {"that": "demo_count | int <= 10", "var": "demo_count", "msg": "must be at most 10"},
                {"that": "__demo_count > 0", "var": "demo_networks", "msg": "must not be empty ({__demo_count})"},
                {
                    "that": "value | int >= item.minimum",
                    "msg": "must be at least {item.minimum}",
                    "loop": [{"var": "demo_low", "minimum": 2}, {"var": "demo_high", "minimum": 20}],
                },
                {"that": "demo_secret | length >= 12", "var": "demo_secret", "secret": True, "msg": "is too short"},
            ],
        },
        "register": "demo_input",
        **more,
    }


GOOD = {"demo_networks": ["10.0.0.0/8"], "demo_low": 5, "demo_high": 50, "demo_secret": "Velvet-Quartz-Tundra-11"}


def test_good_input_passes_and_returns_the_facts(tmp_path):
    show = {"name": "Show the facts", "ansible.builtin.debug": {"var": "demo_input.facts"}}
    result = _play(tmp_path, [_task(tmp_path), show], GOOD)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "__demo_count: 1" in result.stdout
    assert "10.0.0.0/8" in result.stdout


def test_every_error_is_reported_together_in_the_users_words(tmp_path):
    bad = {
        "demo_networks": ["0.0.0.0/0"],
        "demo_count": 11,
        "demo_mode": "maybe",
        "demo_low": 1,
        "demo_high": 5,
        "demo_secret": "Short-1",
    }
    result = _play(tmp_path, [_task(tmp_path)], bad)
    assert result.returncode != 0
    message = result.stdout.split("msg: |-", 1)[-1]
    lines = [line.strip() for line in message.splitlines() if line.strip().startswith("- ")]
    assert lines == [
        "- demo_mode = 'maybe' must be one of on, off (the role's argument spec)",
        "- demo_count = 11 must be at most 10",
        "- demo_low = 1 must be at least 2",
        "- demo_high = 5 must be at least 20",
        "- demo_secret is too short",
        "- demo_networks[0] = '0.0.0.0/0' covers public address space wider than a /24 (the whole internet): every "
        "address in it is trusted. List the networks you mean; to accept it as it is, add '0.0.0.0/0' to demo_ack",
    ], message
    assert "demo: 6 input errors, nothing on the host was changed" in result.stdout
    # A rule that uses the fact that failed (and the fact built on it) says nothing more.
    assert "must not be empty" not in result.stdout
    assert "__demo" not in message
    # The secret's value never shows, and neither does Ansible's plumbing or the argument spec.
    assert "Short-1" not in result.stdout
    assert "Finalization of task args" not in result.stdout
    assert "argument_spec_data" not in result.stdout


def test_an_undefined_variable_is_named(tmp_path):
    result = _play(tmp_path, [_task(tmp_path)], {k: v for k, v in GOOD.items() if k != "demo_low"})
    assert result.returncode != 0
    assert "- 'demo_low' is undefined" in result.stdout, result.stdout[-3000:]


def test_check_mode_runs_the_checks_and_changes_nothing(tmp_path):
    refused = _play(tmp_path, [_task(tmp_path)], GOOD | {"demo_high": 1}, "--check")
    assert refused.returncode != 0
    assert "demo_high = 1 must be at least 20" in refused.stdout
    passed = _play(tmp_path, [_task(tmp_path)], GOOD, "--check")
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert "changed=0" in passed.stdout


def test_deferred_errors_of_two_checks_are_reported_together_at_the_end(tmp_path):
    first = _task(tmp_path)
    first["mailfort.mail.mail_validate"]["defer"] = True
    first["register"] = "first_input"
    second = {
        "name": "Check another role",
        "mailfort.mail.mail_validate": {
            "role": "other",
            "defer": True,
            "rules": [{"that": "false", "msg": "other is refused"}],
        },
        "register": "second_input",
    }
    between = {"name": "Runs between the checks", "ansible.builtin.debug": {"msg": "still running"}}
    final = {"name": "Report", "mailfort.mail.mail_validate": {"report": "{{ [first_input, second_input] }}"}}
    result = _play(tmp_path, [first, second, between, final], GOOD | {"demo_high": 1})
    assert result.returncode != 0
    assert "still running" in result.stdout
    assert "2 roles refused their input, nothing on the host was changed" in result.stdout
    assert "demo: an input error" in result.stdout
    assert "- demo_high = 1 must be at least 20" in result.stdout
    assert "other: an input error" in result.stdout
    assert "- other is refused" in result.stdout


def test_at_least_checks_whole_numbers_as_the_loop_rule_does(tmp_path):
    task = _task(tmp_path)
    task["mailfort.mail.mail_validate"]["rules"] = [{"at_least": {"demo_low": 2, "demo_high": 20, "demo_count": 0}}]
    result = _play(tmp_path, [task], GOOD | {"demo_low": "1", "demo_high": 5.5})
    assert result.returncode != 0
    assert "demo: 2 input errors, nothing on the host was changed" in result.stdout, result.stdout[-3000:]
    assert "- demo_low = '1' must be a whole number of at least 2" in result.stdout
    assert "- demo_high = 5.5 must be a whole number of at least 20" in result.stdout
    assert "demo_count" not in result.stdout.split("msg: |-", 1)[-1]


def test_a_rule_without_that_or_msg_is_a_mistake_of_the_role(tmp_path):
    task = _task(tmp_path)
    task["mailfort.mail.mail_validate"]["rules"] = [{"that": "true"}]
    result = _play(tmp_path, [task], GOOD)
    assert result.returncode != 0
    assert "mail_validate: rules[0] needs 'that' and 'msg'" in result.stdout

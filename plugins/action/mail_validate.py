# SPDX-License-Identifier: MIT
"""mail_validate: check every input of a role in one task and report every error together, in the user's words.

A role's validation used to be a chain of set_fact and assert tasks: the first bad value stopped the play, and its
message came wrapped in Ansible's plumbing ("Finalization of task args for 'ansible.builtin.set_fact' failed: Error
while resolving value for '__role_fact': The filter plugin '...' failed: ..."). This action evaluates the role's
checking expressions itself, one by one, keeps going after a failure, and fails once with every message, each the
checking filter's own words (the variable the user wrote, its index or field, the value when it is not secret, and
the rule).

It runs on the controller only and changes nothing, in check mode too. The values it works out are returned under
``facts`` for the role to keep with one set_fact (a registered result, not host facts: nothing is cached or
injected).

Arguments:
  role:   the role whose input this is, named in the failure message.
  argument_specs: the role's meta/argument_specs.yml ("{{ role_path }}/meta/argument_specs.yml"): the variables of
          its main entry point are checked against it first, each refusal naming the option alone (Ansible's own
          check at the start of the role prints the whole spec around it). A fact or rule that uses a variable the
          spec refused is skipped: that variable's error is already reported.
  facts:  name -> a bare Jinja expression (no braces), evaluated in order; an expression may use the names before it.
          An expression that uses a name whose own expression failed is skipped: its error is already reported.
  rules:  a list of checks of plain conditions, each with
            that: a bare Jinja condition (or a list of them, all must hold), which may use the facts' names;
            msg:  the rule in words; {name} placeholders show the value of a variable or fact;
            var:  the variable the rule is about, named first with its value ("var = value msg");
            secret: true to name the variable without its value.
            loop: optional; the rule is checked for each item, a variable name or a mapping with its name under
                  var and more keys; the condition and message see it as item, and the variable's value as value.
          A rule whose condition uses a failed fact is skipped the same way.
          A rule that is only `at_least: {variable: minimum, ...}` checks that each variable is a whole number of at
          least its minimum: the one such rule every role has, written once here.
"""

from __future__ import annotations

import re
from typing import Any

from ansible.errors import AnsibleError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.plugins.action import ActionBase
from ansible.template import trust_as_template

# How much of a user's value a message shows: enough to recognise it, never a flood.
SHOWN_VALUE_MAX = 120
# The prefix a filter puts before its own message ("mail_postfix_quota: "): the user never wrote that name.
FILTER_PREFIX = re.compile(r"^mail_[a-z0-9_]+: ")


def show(value: Any) -> str:
    """A user's value as a message shows it (as the checking filters do: Python's repr), cut short."""
    shown = repr(value)
    if len(shown) > SHOWN_VALUE_MAX:
        shown = shown[: SHOWN_VALUE_MAX - 3] + "..."
    return shown


def root_messages(error: BaseException) -> list[str]:
    """The words of the error that started it all, without the layers Ansible wraps around a filter's error: one
    message a line (a filter that checks every entry of a list reports each bad entry on a line of its own)."""
    # The deepest Ansible error: the filter's own; a library's exception below it (a parser's ASN.1 details) is not
    # the user's language.
    deepest = error
    while error.__cause__ is not None:
        error = error.__cause__
        if isinstance(error, AnsibleError):
            deepest = error
    # Its own words: ansible-core's `message` appends its causes' (the library's) too.
    own = getattr(deepest, "_original_message", None) if isinstance(deepest, AnsibleError) else None
    text = FILTER_PREFIX.sub("", own if isinstance(own, str) else str(deepest))
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def root_message(error: BaseException) -> str:
    """The first of root_messages."""
    return (root_messages(error) or [type(error).__name__])[0]


# What each argument spec type means, in the words a message uses.
TYPE_WORDS = {
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
    "str": "a string",
    "path": "a path",
    "raw": "a value",
}
CHOICES = re.compile(r"^value of \S+ must be one of: (?P<choices>.*), got: ")
UNCONVERTIBLE = re.compile(r"is of type \w+ and we were unable to convert to (?P<type>\w+)")


def spec_message(message: str, name: str, value: Any) -> str:
    """An argument spec refusal without the converter's internals (the Python class of the value)."""
    message = " ".join(message.split())
    unconvertible = UNCONVERTIBLE.search(message)
    if unconvertible and name:
        wanted = TYPE_WORDS.get(unconvertible["type"], unconvertible["type"])
        if message.startswith("Elements value"):
            return f"{name} = {show(value)} must hold only entries that are {wanted} (the role's argument spec)"
        return f"{name} = {show(value)} must be {wanted} (the role's argument spec)"
    choices = CHOICES.match(message)
    if choices and name:
        return f"{name} = {show(value)} must be one of {choices['choices']} (the role's argument spec)"
    return f"{message} (the role's argument spec)"


UNDEFINED = re.compile(r"^'(?P<name>[A-Za-z_][A-Za-z0-9_]*)' is undefined")


def after_failure(error: BaseException, failed: set[str]) -> bool:
    """Whether ERROR only says that a name whose own check failed is missing (a template that uses it)."""
    undefined = UNDEFINED.match(root_message(error))
    return bool(undefined and undefined["name"] in failed)


def uses(expression: str, names: set[str]) -> bool:
    """Whether EXPRESSION refers to any of NAMES (as a whole word)."""
    return any(re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", expression) for name in names)


def _conditions(rule: Any) -> list[str]:
    """A rule's conditions (that: one or a list), as text."""
    that = rule.get("that", []) if isinstance(rule, dict) else []
    return [str(condition).strip() for condition in (that if isinstance(that, list) else [that])]


def _rule_text(rule: Any) -> str:
    """Everything of a rule that is evaluated: its conditions and its message's placeholders."""
    return " ".join(_conditions(rule)) + " " + (str(rule.get("msg", "")) if isinstance(rule, dict) else "")


# The whole-number rule (rules: - at_least: {variable: minimum}), as a rule of the role would write it.
WHOLE_NUMBER = {
    "that": "(value is integer or value is regex('^[0-9]+$')) and value | int >= item.minimum",
    "msg": "must be a whole number of at least {item.minimum}",
}


def expanded(rule: Any) -> Any:
    """RULE, or the whole-number rule it names with at_least."""
    if isinstance(rule, dict) and set(rule) == {"at_least"} and isinstance(rule["at_least"], dict):
        return WHOLE_NUMBER | {"loop": [{"var": var, "minimum": least} for var, least in rule["at_least"].items()]}
    return rule


PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}")


def fill(words: str, evaluate) -> str:
    """WORDS with each {name} replaced by the value of that variable or fact (other braces are left alone)."""

    def value(match: re.Match) -> str:
        try:
            return show(evaluate(match[1]))
        except AnsibleError:
            return "(unknown)"

    return PLACEHOLDER.sub(value, words)


def without_echoes(errors: list[str]) -> list[str]:
    """ERRORS less those that only repeat another one behind a variable's name.

    A variable whose default is built from a refused one (dkim_postfix_milter from dkim_keys) cannot be worked out
    either, and says so as "dkim_postfix_milter: <the refusal of dkim_keys>": one mistake, one message.
    """
    return [error for error in errors if not any(other != error and error.endswith(f": {other}") for other in errors)]


def counted(errors: list[str]) -> str:
    return f"{len(errors)} input errors" if len(errors) > 1 else "an input error"


def report(results: list[Any]) -> dict:
    """The failure of every role whose input a deferred check refused (a registered result each), or nothing."""
    refused = [r["deferred"] for r in results if isinstance(r, dict) and isinstance(r.get("deferred"), dict)]
    if not refused:
        return {"msg": "every role's input is valid"}
    sections = [
        f"{entry['role']}: {counted(entry['errors'])}" + "".join(f"\n- {message}" for message in entry["errors"])
        for entry in refused
    ]
    if len(sections) == 1:
        head, _, rest = sections[0].partition("\n")
        return {"failed": True, "msg": f"{head}, nothing on the host was changed:\n{rest}"}
    return {
        "failed": True,
        "msg": f"{len(sections)} roles refused their input, nothing on the host was changed:\n" + "\n".join(sections),
    }


class _Check:
    """One role's check: what it found so far (facts, names that failed, messages) and how it evaluates."""

    def __init__(self, templar: Any, task_vars: dict) -> None:
        self.templar = templar
        self.scope = dict(task_vars)
        self.facts: dict[str, Any] = {}
        self.failed: set[str] = set()
        self.errors: list[str] = []

    def evaluate(self, expression: str, local: dict | None = None) -> Any:
        # The expressions are the role's own text (task arguments Ansible has already templated, which drops the
        # trust it gives playbook text); user data reaches them only as variables, never as expressions.
        return self.templar.evaluate_expression(trust_as_template(expression), local_variables=local)

    def report(self, message: str, name: str | None = None) -> None:
        if name:
            self.failed.add(name)
        if message not in self.errors:  # two expressions that trip over the same value say it once
            self.errors.append(message)

    def fact(self, name: str, expression: str) -> None:
        """Work out one fact, or report why it cannot be (unless a name it uses has already failed)."""
        if uses(expression, self.failed):
            self.failed.add(name)
            return
        try:
            self.facts[name] = self.evaluate(expression.strip())
        except AnsibleError as error:
            self.failed.add(name)
            if not after_failure(error, self.failed):
                for message in root_messages(error):
                    self.report(message)
            return
        # Later expressions, and the templates and lookups they call, see it as a variable.
        self.scope[name] = self.facts[name]
        self.templar.available_variables = self.scope

    def rule(self, index: int, rule: Any) -> list[tuple[str | None, str]]:
        """(variable, message) where RULE does not hold (one per loop item); none where it uses a failed name."""
        if not isinstance(rule, dict) or "that" not in rule or "msg" not in rule:
            raise AnsibleError(f"mail_validate: rules[{index}] needs 'that' and 'msg'")
        conditions = _conditions(rule)
        if any(uses(condition, self.failed) for condition in conditions):
            return []
        found = []
        for item in rule.get("loop", [None]):
            var = item.get("var") if isinstance(item, dict) else item if item is not None else rule.get("var")
            if not (var and var in self.failed):
                found.extend(self._rule_item(rule, conditions, var, item))
        return found

    def _rule_item(self, rule: dict, conditions: list[str], var: str | None, item: Any) -> list[tuple]:
        local = {} if item is None else {"item": item}

        def here(expression: str) -> Any:
            return self.evaluate(expression, local)

        try:
            if var and item is not None:
                local["value"] = here(var)
            if all(bool(here(condition)) for condition in conditions):
                return []
        except AnsibleError as error:
            return [] if after_failure(error, self.failed) else [(var, m) for m in root_messages(error)]
        words = fill(str(rule["msg"]), here)
        if not var or rule.get("secret"):
            return [(var, " ".join(f"{var or ''} {words}".split()))]
        try:
            value = show(local["value"] if "value" in local else here(var))
        except AnsibleError:
            value = "(unknown)"
        return [(var, " ".join(f"{var} = {value} {words}".split()))]


class ActionModule(ActionBase):
    """Evaluate a role's checking expressions and rules, and fail once with every error."""

    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("role", "argument_specs", "facts", "rules", "defer", "report"))

    def run(self, tmp: Any = None, task_vars: dict | None = None) -> dict:
        result = super().run(tmp, task_vars)
        del tmp  # unused
        _, given = self.validate_argument_spec(
            argument_spec={
                "role": {"type": "str"},
                "argument_specs": {"type": "path"},
                "facts": {"type": "dict", "default": {}},
                "rules": {"type": "list", "elements": "dict", "default": []},
                "defer": {"type": "bool", "default": False},
                "report": {"type": "list", "elements": "raw"},
            },
            required_one_of=[("role", "report")],
            mutually_exclusive=[("role", "report")],
        )
        result["changed"] = False
        if given["report"] is not None:
            return result | report(given["report"])
        # The arguments as written, not validate_argument_spec's copy (which drops the expressions' origin).
        args = {"facts": {}, "rules": []} | dict(self._task.args)
        check = _Check(self._templar, task_vars or {})

        if args.get("argument_specs"):
            for name, message in self._check_argument_spec(args["argument_specs"], task_vars or {}):
                check.report(message, name)

        # Rules about the user's variables alone go first: a fact that uses a variable one of them refused is
        # skipped, so that one mistake gives one message (a bad TTL, not one per record built with it).
        rules = list(enumerate(map(expanded, args["rules"])))
        fact_names = set(args["facts"])
        for index, rule in (r for r in rules if not uses(_rule_text(r[1]), fact_names)):
            for var, message in check.rule(index, rule):
                check.report(message, var)
        for name, expression in args["facts"].items():
            check.fact(name, str(expression))
        for index, rule in (r for r in rules if uses(_rule_text(r[1]), fact_names)):
            for _, message in check.rule(index, rule):
                check.report(message)

        check.errors = without_echoes(check.errors)
        if check.errors and given["defer"]:
            # Said at the end of the play's checks, with every other role's (report below).
            result["deferred"] = {"role": args["role"], "errors": check.errors}
            result["msg"] = f"{args['role']}: {counted(check.errors)}, reported when every role is checked"
        elif check.errors:
            result |= report([{"deferred": {"role": args["role"], "errors": check.errors}}])
        else:
            result["facts"] = check.facts
            result["msg"] = f"{args['role']}: every input is valid"
        return result

    def _check_argument_spec(self, path: str, task_vars: dict) -> list[tuple[str, str]]:
        """(option, message) for each variable of the role's main entry point its argument spec refuses."""
        options = (self._loader.load_from_file(path) or {}).get("argument_specs", {}).get("main", {}).get("options")
        if not options:
            return []
        values, refused = {}, []
        for name in options:
            if name in task_vars:
                try:
                    values[name] = self._templar.resolve_variable_expression(name)
                except AnsibleError as error:
                    refused.append((name, f"{name}: {root_message(error)}"))
        if refused:
            return refused
        found = ArgumentSpecValidator(options).validate(values, validate_role_argument_spec=True).error_messages
        for message in found:
            names = [name for name in options if re.search(rf"\b{re.escape(name)}\b", message)]
            name = names[0] if names else ""
            refused.append((name, spec_message(message, name, values.get(name))))
        return refused

"""A parsed module → the records of a :class:`ModuleSummary`: one pruned walk, nothing run.

The walk visits statements and the expressions that can call something; it never enters string
bodies and treats payload literals as data. Each function body is read in order in a
:class:`Scope` of local names, so split chains (``tbl = client.table("x")`` …
``tbl.upsert(row)``), literal loops and branch-dependent names become symbolic values for the
resolver. What a call to a client library means is the recognisers' business (``calls.py``,
``clients/``); every other call is recorded for the resolver to follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import libcst as cst

from conformance.analysis import values as v
from conformance.analysis.parse import clients  # noqa: F401  (registers the recognisers)
from conformance.analysis.parse.calls import DATA_VALUES, Call, recognise

_LOOP_UNROLL_LIMIT = 32


class Scope:
    """One function body (or the module body) being read: its local names and what it does."""

    def __init__(self, qualname: str, env: dict[str, v.Value], module_level: bool = False):
        self.qualname = qualname
        self.env = env
        self.module_level = module_level
        self.effects: list[v.Effect] = []
        self.returns: list[v.Value] = []
        self.slugs: list[tuple[str, int]] = []
        self.self_attrs: list[tuple[str, v.Value]] = []
        self.nested: list[tuple[str, int]] = []

    def fork(self) -> Scope:
        child = Scope(self.qualname, dict(self.env), self.module_level)
        child.effects, child.returns = self.effects, self.returns
        child.slugs, child.self_attrs = self.slugs, self.self_attrs
        child.nested = self.nested
        return child


class Reader:
    """Reads one parsed module. Lines are placeholders (-n) until :meth:`summary` fills them."""

    def __init__(self, module_name: str, is_package: bool) -> None:
        self.module_name = module_name
        self.package = module_name if is_package else module_name.rpartition(".")[0]
        self.is_package = is_package
        self._nodes: list[tuple[cst.CSTNode | None, cst.CSTNode]] = []
        self._marks: dict[int, int] = {}
        self._where: cst.CSTNode | None = None
        self._last_self_attrs: list[tuple[str, v.Value]] = []
        self.functions: list[v.FunctionSummary] = []
        self.classes: list[v.ClassSummary] = []
        self.bindings: dict[str, v.Value] = {}
        self.imports: set[str] = set()
        # those that run when the module is imported (not inside a function): what Modal deploys
        self.module_imports: set[str] = set()

    # -- entry ------------------------------------------------------------------------------------

    def run(self, module: cst.Module) -> None:
        frame = Scope("<module>", self.bindings, module_level=True)
        self._block(module.body, frame, top=True)

    def lines_needed(self) -> list[tuple[cst.CSTNode | None, cst.CSTNode]]:
        """Returns ``(statement, node)`` for every node whose line a record needs."""
        return self._nodes

    def mark(self, node: cst.CSTNode, stmt: cst.CSTNode | None = None) -> int:
        """Returns a placeholder line for ``node``; the same node always gets the same one."""
        mark = self._marks.get(id(node))
        if mark is None:
            self._nodes.append((stmt if stmt is not None else self._where, node))
            mark = self._marks[id(node)] = -len(self._nodes)
        return mark

    # -- statements -------------------------------------------------------------------------------

    def _block(self, body: Sequence[cst.CSTNode], frame: Scope, top: bool = False) -> None:
        for stmt in body:
            self._statement(stmt, frame, top)

    def _suite(self, suite: cst.BaseSuite, frame: Scope, top: bool = False) -> None:
        if type(suite) is cst.SimpleStatementSuite:  # ``if x: a(); b()``
            for small in suite.body:
                self._where = small
                self._small(small, frame)
        else:
            self._block(suite.body, frame, top)

    def _statement(self, stmt: cst.CSTNode, frame: Scope, top: bool) -> None:
        if type(stmt) is cst.SimpleStatementLine:
            for small in stmt.body:
                self._where = small
                self._small(small, frame)
            return
        self._where = stmt
        if type(stmt) is cst.FunctionDef:
            self._function(stmt, frame, top)
        elif type(stmt) is cst.ClassDef:
            if top:
                self._class(stmt)
        elif type(stmt) is cst.If:
            self._ev(stmt.test, frame)
            self._branches(frame, [stmt.body, stmt.orelse], top)
        elif type(stmt) is cst.For:
            self._for(stmt, frame, top)
        elif type(stmt) is cst.While:
            self._ev(stmt.test, frame)
            self._branches(frame, [stmt.body, stmt.orelse], top, keep_base=True)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            self._suite(stmt.body, frame, top)
            parts: list[Any] = [h.body for h in stmt.handlers] + [stmt.orelse]
            self._branches(frame, parts, top, keep_base=True)
            if stmt.finalbody is not None:
                self._suite(stmt.finalbody.body, frame, top)
        elif type(stmt) is cst.With:
            for item in stmt.items:
                value = self._ev(item.item, frame)
                if item.asname is not None and type(item.asname.name) is cst.Name:
                    frame.env[item.asname.name.value] = value
            self._suite(stmt.body, frame, top)
        elif type(stmt) is cst.Match:
            self._ev(stmt.subject, frame)
            self._branches(frame, [case.body for case in stmt.cases], top, keep_base=True)

    def _branches(
        self, frame: Scope, suites: Iterable[Any], top: bool, keep_base: bool = False
    ) -> None:
        """Reads alternative suites on copies of the environment, then merges the copies."""
        base = dict(frame.env)
        results: list[dict[str, v.Value]] = [base] if keep_base else []
        saw_else = False
        for suite in suites:
            if suite is None:
                continue
            if type(suite) is cst.Else:
                suite, saw_else = suite.body, True
            elif type(suite) is cst.If:  # elif
                child = frame.fork()
                self._statement(suite, child, top)
                results.append(child.env)
                saw_else = True
                continue
            child = frame.fork()
            self._suite(suite, child, top)
            results.append(child.env)
        if not saw_else and not keep_base:
            results.append(base)
        frame.env.clear()
        frame.env.update(_merge_envs(results))

    def _for(self, stmt: cst.For, frame: Scope, top: bool) -> None:
        seq = self._ev(stmt.iter, frame)
        target = stmt.target
        if isinstance(seq, v.Seq) and 0 < len(seq.items) <= _LOOP_UNROLL_LIMIT:
            # A literal loop: read the body once per element so related names stay together.
            envs = []
            for item in seq.items:
                child = frame.fork()
                self._bind_target(target, _as_loop(item), child)
                self._suite(stmt.body, child, top)
                envs.append(child.env)
            envs.append(dict(frame.env))
            frame.env.clear()
            frame.env.update(_merge_envs(envs))
        else:
            child = frame.fork()
            label = target.value if type(target) is cst.Name else ""
            self._bind_target(target, v.Elem(seq, None, label), child)
            self._suite(stmt.body, child, top)
            frame.env.clear()
            frame.env.update(_merge_envs([child.env, dict(frame.env)]))
        if stmt.orelse is not None:
            self._suite(stmt.orelse.body, frame, top)

    def _bind_target(self, target: cst.BaseExpression, value: v.Value, frame: Scope) -> None:
        if type(target) is cst.Name:
            frame.env[target.value] = value
        elif isinstance(target, (cst.Tuple, cst.List)):
            for i, element in enumerate(target.elements):
                if isinstance(value, v.Seq) and i < len(value.items):
                    item: v.Value = value.items[i]
                elif isinstance(value, v.Elem):
                    item = (
                        v.Elem(value.seq, i)
                        if value.index is None
                        else v.Unknown("a nested unpacking")
                    )
                else:
                    item = v.Unknown("an unpacked value")
                self._bind_target(element.value, item, frame)
        elif (
            type(target) is cst.Attribute
            and type(target.value) is cst.Name
            and target.value.value == "self"
        ):
            frame.self_attrs.append((target.attr.value, value))

    def _small(self, small: cst.CSTNode, frame: Scope) -> None:
        if type(small) is cst.Expr:
            self._ev(small.value, frame)
        elif type(small) is cst.Assign:
            value = self._ev(small.value, frame)
            for target in small.targets:
                self._bind_target(target.target, value, frame)
        elif type(small) is cst.AnnAssign:
            if small.value is not None:
                self._bind_target(small.target, self._ev(small.value, frame), frame)
        elif type(small) is cst.AugAssign:
            value = self._ev(small.value, frame)
            if type(small.target) is cst.Name:
                name = small.target.value
                old = frame.env.get(name, v.Global(name) if frame.module_level else None)
                frame.env[name] = (
                    v.Concat((old, value))
                    if old is not None and type(small.operator) is cst.AddAssign
                    else v.Unknown(f"'{name}' is changed in place")
                )
        elif type(small) is cst.Return:
            if small.value is not None:
                frame.returns.append(self._ev(small.value, frame))
        elif type(small) is cst.Import:
            for alias in small.names:
                dotted = _dotted(alias.name)
                self.imports.add(dotted)
                if frame.module_level:
                    self.module_imports.add(dotted)
                if alias.asname is not None and type(alias.asname.name) is cst.Name:
                    frame.env[alias.asname.name.value] = v.ImportRef(dotted)
                else:
                    head = dotted.split(".", 1)[0]
                    frame.env[head] = v.ImportRef(head)
                    if "." in dotted:  # ``import a.b`` binds ``a`` but loads ``a.b``
                        frame.env.setdefault(f"<import {dotted}>", v.ImportRef(dotted))
        elif type(small) is cst.ImportFrom:
            self._import_from(small, frame)
        elif type(small) is cst.Raise and small.exc is not None:
            self._ev(small.exc, frame)

    def _import_from(self, node: cst.ImportFrom, frame: Scope) -> None:
        level = len(node.relative)
        name = _dotted(node.module) if node.module is not None else ""
        if level:
            base = self.package
            for _ in range(level - 1):
                base = base.rpartition(".")[0]
            module = f"{base}.{name}".strip(".") if name else base
        else:
            module = name
        loaded = {module}
        if isinstance(node.names, cst.ImportStar):
            frame.env[f"<star {module}>"] = v.ImportRef(module)
        else:
            for alias in node.names:
                imported = _dotted(alias.name)
                local = imported
                if alias.asname is not None and type(alias.asname.name) is cst.Name:
                    local = alias.asname.name.value
                frame.env[local] = v.ImportRef(module, imported)
                loaded.add(f"{module}.{imported}")
        self.imports.update(loaded)
        if frame.module_level:
            self.module_imports.update(loaded)

    # -- definitions ------------------------------------------------------------------------------

    def _function(
        self, node: cst.FunctionDef, outer: Scope, top: bool, class_name: str | None = None
    ) -> v.FunctionSummary:
        name = node.name.value
        if class_name is not None:
            qualname = f"{class_name}.{name}"
        elif outer.module_level:
            qualname = name
        else:
            qualname = f"{outer.qualname}.<locals>.{name}"
        module_frame = Scope("<module>", self.bindings, module_level=True)
        decorators = tuple(self._ev(d.decorator, module_frame) for d in node.decorators)
        params: list[str] = []
        defaults: list[tuple[str, v.Value]] = []
        annotations: list[tuple[str, v.Value]] = []
        p = node.params
        for param in (*p.posonly_params, *p.params, *p.kwonly_params):
            pname = param.name.value
            params.append(pname)
            if param.default is not None:
                defaults.append((pname, self._ev(param.default, module_frame)))
            if param.annotation is not None:
                annotations.append((pname, self._ev(param.annotation.annotation, module_frame)))
        env: dict[str, v.Value] = {} if outer.module_level else dict(outer.env)
        env.update({pname: v.Param(pname) for pname in params})
        for star in (p.star_arg, p.star_kwarg):
            if type(star) is cst.Param:
                env[star.name.value] = v.Unknown(f"'{star.name.value}' collects arguments")
        frame = Scope(qualname, env)
        self._suite(node.body, frame)
        self._reach_nested(frame)
        summary = v.FunctionSummary(
            qualname=qualname,
            name=name,
            line=self.mark(node.name, node),
            params=tuple(params),
            defaults=tuple(defaults),
            decorators=decorators,
            effects=tuple(frame.effects),
            returns=tuple(frame.returns),
            annotations=tuple(annotations),
            class_name=class_name,
            slugs=tuple(frame.slugs),
        )
        self.functions.append(summary)
        if class_name is None:
            outer.env[name] = v.LocalFunction(qualname)
            if not outer.module_level:
                outer.nested.append((qualname, summary.line))
        self._last_self_attrs = frame.self_attrs
        return summary

    def _reach_nested(self, frame: Scope) -> None:
        """A function defined inside another is reachable from it even when no call shows it:
        route handlers registered by decorator, callbacks handed to a framework."""
        called = {
            e.func.qualname
            for e in frame.effects
            if isinstance(e, v.CallSite) and isinstance(e.func, v.LocalFunction)
        }
        for qualname, line in frame.nested:
            if qualname not in called:
                frame.effects.append(v.CallSite(v.LocalFunction(qualname), (), (), line))

    def _class(self, node: cst.ClassDef) -> None:
        name = node.name.value
        module_frame = Scope("<module>", self.bindings, module_level=True)
        decorators = tuple(self._ev(d.decorator, module_frame) for d in node.decorators)
        bases = tuple(self._ev(arg.value, module_frame) for arg in node.bases)
        methods: list[str] = []
        self_attrs: list[tuple[str, str, v.Value]] = []
        fields: list[tuple[str, v.Value]] = []
        annotated: list[str] = []
        body = node.body.body if type(node.body) is cst.IndentedBlock else ()
        for stmt in body:
            if type(stmt) is cst.FunctionDef:
                summary = self._function(stmt, module_frame, True, class_name=name)
                methods.append(summary.name)
                self_attrs.extend((a, summary.qualname, val) for a, val in self._last_self_attrs)
            elif type(stmt) is cst.SimpleStatementLine:
                for small in stmt.body:
                    target = None
                    if type(small) is cst.AnnAssign and type(small.target) is cst.Name:
                        annotated.append(small.target.value)
                    if type(small) is cst.AnnAssign and small.value is not None:
                        target, value_node = small.target, small.value
                    elif type(small) is cst.Assign and len(small.targets) == 1:
                        target, value_node = small.targets[0].target, small.value
                    if type(target) is cst.Name:
                        value = self._ev(value_node, module_frame)
                        fields.append((target.value, value))
        self.classes.append(
            v.ClassSummary(
                name=name,
                line=self.mark(node.name, node),
                decorators=decorators,
                bases=bases,
                methods=tuple(methods),
                self_attrs=tuple(self_attrs),
                fields=tuple(fields),
                annotated=tuple(annotated),
            )
        )
        self.bindings[name] = v.LocalClass(name)

    # -- expressions ------------------------------------------------------------------------------

    def _ev(self, node: cst.BaseExpression, frame: Scope) -> v.Value:
        """Returns the symbolic value of ``node``; records the effects of calls inside it."""
        # Dispatch on the exact type: libcst's node classes are ABCs, so a chain of isinstance
        # checks costs more than the rest of the walk.
        handler = _EXPRESSIONS.get(type(node))
        if handler is None:
            return v.Unknown(f"a {type(node).__name__} expression")
        value: v.Value = handler(self, node, frame)
        return value

    def _ev_name(self, node: cst.Name, frame: Scope) -> v.Value:
        if frame.module_level:
            return v.Global(node.value)
        return frame.env.get(node.value) or v.Global(node.value)

    def _ev_string(self, node: cst.SimpleString, frame: Scope) -> v.Value:
        literal = _string_value(node)
        return v.Str(literal) if isinstance(literal, str) else v.Unknown("a bytes literal")

    def _ev_attribute(self, node: cst.Attribute, frame: Scope) -> v.Value:
        return v.Attr(self._ev(node.value, frame), node.attr.value)

    def _ev_concatenated(self, node: cst.ConcatenatedString, frame: Scope) -> v.Value:
        return v.Concat((self._ev(node.left, frame), self._ev(node.right, frame)))

    def _ev_sequence(self, node: cst.Tuple | cst.List | cst.Set, frame: Scope) -> v.Value:
        items = []
        for element in node.elements:
            value = self._ev(element.value, frame)
            if type(element) is cst.StarredElement:
                value = v.Unknown("a starred element")
            items.append(value)
        return v.Seq(tuple(items))

    def _ev_subscript(self, node: cst.Subscript, frame: Scope) -> v.Value:
        base = self._ev(node.value, frame)
        if len(node.slice) == 1 and type(node.slice[0].slice) is cst.Index:
            return v.Sub(base, self._ev(node.slice[0].slice.value, frame))
        return v.Unknown("a slice")

    def _ev_binary(self, node: cst.BinaryOperation, frame: Scope) -> v.Value:
        left, right = self._ev(node.left, frame), self._ev(node.right, frame)
        if type(node.operator) is cst.Add:
            return v.Concat((left, right))
        return v.Unknown("the result of an operator")

    def _ev_ifexp(self, node: cst.IfExp, frame: Scope) -> v.Value:
        self._ev(node.test, frame)
        return v.Choice((self._ev(node.body, frame), self._ev(node.orelse, frame)))

    def _ev_await(self, node: cst.Await, frame: Scope) -> v.Value:
        return self._ev(node.expression, frame)

    def _ev_operator(self, node: cst.CSTNode, frame: Scope) -> v.Value:
        for child in node.children:
            if type(child) in _EXPRESSIONS:
                self._ev(child, frame)  # type: ignore[arg-type]
            elif type(child) is cst.ComparisonTarget:
                self._ev(child.comparator, frame)
        return v.Unknown("the result of an operator")

    def _ev_named(self, node: cst.NamedExpr, frame: Scope) -> v.Value:
        value = self._ev(node.value, frame)
        self._bind_target(node.target, value, frame)
        return value

    def _ev_lambda(self, node: cst.Lambda, frame: Scope) -> v.Value:
        """A lambda's body runs when the lambda is called (``retry(lambda: ...)``): its effects
        count for the enclosing function."""
        child = frame.fork()
        for param in (*node.params.posonly_params, *node.params.params, *node.params.kwonly_params):
            child.env[param.name.value] = v.Unknown(f"lambda parameter '{param.name.value}'")
        self._ev(node.body, child)
        return v.Unknown("a lambda")

    def _ev_constant(self, node: cst.CSTNode, frame: Scope) -> v.Value:
        return v.Unknown(f"a {type(node).__name__.lower()}")

    def _fstring(self, node: cst.FormattedString, frame: Scope) -> v.Value:
        parts: list[v.Value] = []
        for part in node.parts:
            if type(part) is cst.FormattedStringText:
                parts.append(v.Str(part.value.replace("{{", "{").replace("}}", "}")))
            elif type(part) is cst.FormattedStringExpression:
                value = self._ev(part.expression, frame)
                if part.conversion is not None or part.format_spec is not None:
                    value = v.Unknown("a formatted value")
                parts.append(value)
        return v.Concat(tuple(parts))

    def _dict(self, node: cst.Dict, frame: Scope) -> v.Value:
        items: list[tuple[str, v.Value]] = []
        spreads: list[v.Value] = []
        for element in node.elements:
            if type(element) is not cst.DictElement:
                spreads.append(self._ev(element.value, frame))
                continue
            key = element.key
            value = self._ev(element.value, frame)
            if type(key) is cst.SimpleString:
                text = _string_value(key)
                if isinstance(text, str):
                    items.append((text, value))
                    if text == "workflow_slug" and isinstance(value, v.Str):
                        frame.slugs.append((value.value, self.mark(element.value)))
            else:
                self._ev(key, frame)
        found = v.Dict(tuple(items))
        return v.Merged(found, tuple(spreads)) if spreads else found

    def _comprehension(self, node: cst.CSTNode, frame: Scope) -> v.Value:
        child = frame.fork()
        comp = getattr(node, "for_in", None)
        while type(comp) is cst.CompFor:
            seq = self._ev(comp.iter, child)
            self._bind_target(comp.target, v.Elem(seq), child)
            for cond in comp.ifs:
                self._ev(cond.test, child)
            comp = comp.inner_for_in
        if type(node) is cst.DictComp:
            self._ev(node.key, child)
            self._ev(node.value, child)
            return v.Unknown("a comprehension")
        return v.Each(self._ev(node.elt, child))  # type: ignore[attr-defined]

    def _call(self, node: cst.Call, frame: Scope) -> v.Value:
        func = node.func
        args = [a for a in node.args if a.keyword is None and not a.star]
        kwargs = {a.keyword.value: a for a in node.args if a.keyword is not None}
        arg_values = tuple(self._ev(a.value, frame) for a in args)
        kwarg_values = tuple((k, self._ev(a.value, frame)) for k, a in kwargs.items())
        for a in node.args:
            if a.star:
                self._ev(a.value, frame)
        if type(func) is cst.Attribute:
            method = func.attr.value
            base = self._ev(func.value, frame)
            call = Call(self, frame, node, method, None, base, arg_values, kwarg_values)
            known = recognise(call)
            if known is not None:
                return known
            if isinstance(base, DATA_VALUES):
                return v.Unknown(f"the result of .{method}()")
            callee: v.Value = v.Attr(base, method)
        else:
            name = func.value if type(func) is cst.Name else None
            call = Call(self, frame, node, None, name, None, arg_values, kwarg_values)
            known = recognise(call)
            if known is not None:
                return known
            callee = self._ev(func, frame)
            if isinstance(callee, DATA_VALUES):
                return v.Unknown("the result of a call")
        if not frame.module_level:
            frame.effects.append(v.CallSite(callee, arg_values, kwarg_values, call.line()))
        return v.CallResult(callee, arg_values, kwarg_values)

    # -- output -----------------------------------------------------------------------------------

    def summary(
        self,
        file: str,
        lines: list[int],
        suppressions: tuple[tuple[int, tuple[str, ...], str], ...] = (),
        secrets: tuple[tuple[int, str, str], ...] = (),
    ) -> v.ModuleSummary:
        fix = _LineFixer(lines)
        return v.ModuleSummary(
            module=self.module_name,
            file=file,
            is_package=self.is_package,
            bindings=tuple(sorted(self.bindings.items())),
            functions=tuple(fix(f) for f in self.functions),
            classes=tuple(fix(c) for c in self.classes),
            imports=tuple(sorted(self.imports)),
            local_imports=tuple(sorted(self.imports - self.module_imports)),
            suppressions=suppressions,
            secrets=secrets,
        )


class _LineFixer:
    """Replaces placeholder lines (-n) with the n-th computed line, deep in frozen records."""

    def __init__(self, lines: list[int]) -> None:
        self.lines = lines

    def __call__(self, obj: Any) -> Any:
        if isinstance(obj, int) and not isinstance(obj, bool) and obj < 0:
            return self.lines[-obj - 1]
        if isinstance(obj, tuple):
            return tuple(self(x) for x in obj)
        if isinstance(obj, v.FunctionSummary):
            return dataclasses.replace(
                obj,
                line=self(obj.line),
                effects=tuple(self.effect(e) for e in obj.effects),
                slugs=self(obj.slugs),
            )
        if isinstance(obj, v.ClassSummary):
            return dataclasses.replace(obj, line=self(obj.line))
        return obj

    def effect(self, effect: v.Effect) -> v.Effect:
        if isinstance(effect, v.SqlSite) and effect.text_line is not None:
            return dataclasses.replace(
                effect, line=self(effect.line), text_line=self(effect.text_line)
            )
        return dataclasses.replace(effect, line=self(effect.line))


def _string_value(node: cst.SimpleString) -> str | bytes:
    """Returns a string literal's value; plain literals without escapes skip libcst's
    ``evaluated_value`` (which compiles every literal)."""
    value = node.value
    quote = value[-1]
    prefix_len = 0
    while value[prefix_len] not in "'\"":
        prefix_len += 1
    prefix = value[:prefix_len].lower()
    if prefix in ("", "u", "r") and ("\\" not in value or prefix == "r"):
        width = 3 if value[prefix_len : prefix_len + 3] == quote * 3 else 1
        return value[prefix_len + width : len(value) - width]
    return node.evaluated_value


def _as_loop(value: v.Value) -> v.Value:
    if isinstance(value, v.Str):
        return v.Str(value.value, "loop")
    if isinstance(value, v.Seq):
        return v.Seq(tuple(_as_loop(item) for item in value.items))
    return value


def _merge_envs(envs: list[dict[str, v.Value]]) -> dict[str, v.Value]:
    merged: dict[str, v.Value] = {}
    names: dict[str, None] = {}
    for env in envs:
        names.update(dict.fromkeys(env))
    for name in names:
        options: list[v.Value] = []
        for env in envs:
            value = env.get(name)
            if value is not None and value not in options:
                options.append(value)
        merged[name] = options[0] if len(options) == 1 else v.Choice(tuple(options))
    return merged


def _dotted(node: cst.BaseExpression) -> str:
    if type(node) is cst.Name:
        return node.value
    if type(node) is cst.Attribute:
        return f"{_dotted(node.value)}.{node.attr.value}"
    return ""


_EXPRESSIONS: dict[type, Any] = {
    cst.Name: Reader._ev_name,
    cst.SimpleString: Reader._ev_string,
    cst.Call: Reader._call,
    cst.Attribute: Reader._ev_attribute,
    cst.ConcatenatedString: Reader._ev_concatenated,
    cst.FormattedString: Reader._fstring,
    cst.Tuple: Reader._ev_sequence,
    cst.List: Reader._ev_sequence,
    cst.Set: Reader._ev_sequence,
    cst.Dict: Reader._dict,
    cst.Subscript: Reader._ev_subscript,
    cst.BinaryOperation: Reader._ev_binary,
    cst.IfExp: Reader._ev_ifexp,
    cst.Await: Reader._ev_await,
    cst.BooleanOperation: Reader._ev_operator,
    cst.Comparison: Reader._ev_operator,
    cst.UnaryOperation: Reader._ev_operator,
    cst.ListComp: Reader._comprehension,
    cst.SetComp: Reader._comprehension,
    cst.GeneratorExp: Reader._comprehension,
    cst.DictComp: Reader._comprehension,
    cst.NamedExpr: Reader._ev_named,
    cst.Integer: Reader._ev_constant,
    cst.Float: Reader._ev_constant,
    cst.Imaginary: Reader._ev_constant,
    cst.Ellipsis: Reader._ev_constant,
    cst.Lambda: Reader._ev_lambda,
}

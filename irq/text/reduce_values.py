"""Reducers of the value grammar: types, attributes, locations and the resource section.

The LALR driver calls one method per grammar rule (irq.lark) with the rule's children;
these build types and attributes in place (no tree), reading and filling the parse state
of the current parse (`irq.text.current_parse`). `irq.text.parser.Reducer` adds the rules
of statements, ops, regions and blocks.
"""

from __future__ import annotations

from irq.ir.attributes import DictionaryAttr
from irq.ir.location import CallSiteLoc, FileLineColLoc, FusedLoc, Location, NameLoc, UnknownLoc
from irq.ir.types import FunctionType, Type
from irq.text.current_parse import _s, _unsigned
from irq.text.lexer import Tok
from irq.text.parse_state import DeferredLoc


class ValueReducer:
    """The rules of types, attributes, locations and resources."""

    # ------------------------------------------------------------------ types
    def function_type(self, c):
        ins = c[1]
        if len(c) == 5:
            outs = [_s().type_of(c[4])]
        else:
            outs = c[5]
        return FunctionType(ins, outs)

    def type_list_opt(self, c):
        return c[0] if c else []

    def type_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def type(self, c):
        t = c[0]
        if isinstance(t, Type):
            return t
        return _s().type_of(t)

    # ------------------------------------------------------------------ attributes
    def attr_dict(self, c):
        return c[1]

    def attr_entries(self, c):
        return c[0] if c else {}

    def attr_entry_list(self, c):
        if len(c) == 1:
            k, v, pos = c[0]
            return {k: v}
        d = c[0]
        k, v, pos = c[2]
        if k in d:
            raise _s().error(pos, f"duplicate key '{k}' in dictionary attribute")
        d[k] = v
        return d

    def attr_entry(self, c):
        key, pos = c[0]
        if len(c) == 3 and isinstance(c[2], DeferredLoc):
            raise _s().error(c[2].pos, f"location alias '{c[2].alias}' is used in an attribute before it is defined")
        if len(c) == 1:
            from irq.ir.attributes import UnitAttr

            return (key, UnitAttr(), pos)
        return (key, c[2], pos)

    def attr_key(self, c):
        tok = c[0]
        if tok.type == "STRING":
            return (_s().string_value(tok), tok.pos)
        if tok.type == "TYPE" and not tok.value.isidentifier():
            raise _s().error(tok.pos, f"expected an attribute name, found '{tok.value}'")
        return (tok.value, tok.pos)

    def attr_value(self, c):
        first = c[0]
        if not isinstance(first, Tok):  # function_type or attr_dict
            if isinstance(first, dict):
                return DictionaryAttr(first)
            from irq.ir.attributes import TypeAttr

            return TypeAttr(first)
        n = len(c)
        if first.type == "LOC":  # a location as an attribute value
            return c[1]
        if first.type == "LBRACKET":
            from irq.ir.attributes import ArrayAttr

            return ArrayAttr(c[1])
        if n == 3:
            return _s().atom_attr(first, c[2])
        if first.type in ("DENSE", "DENSE_RESOURCE"):
            raise _s().error(first.pos, "expected ':' and a type after the dense literal")
        return _s().atom_attr(first)

    def attr_values_opt(self, c):
        return c[0] if c else []

    def attr_values(self, c):
        v = c[-1]
        if isinstance(v, DeferredLoc):
            raise _s().error(v.pos, f"location alias '{v.alias}' is used in an attribute before it is defined")
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    # ------------------------------------------------------------------ locations
    def loc_body(self, c):
        s = _s()
        first = c[0]
        n = len(c)
        if first.type == "ATTR_ALIAS":
            loc = s.attr_aliases.get(first.value)
            if loc is None:
                s.deferred_locs = True
                return DeferredLoc(first.value, first.pos)
            if not isinstance(loc, Location):
                raise s.error(first.pos, f"'{first.value}' is not a location alias")
            return loc
        if first.type == "STRING":
            text = s.string_value(first)
            if n == 1:
                return NameLoc(text)
            if n == 4:
                return NameLoc(text, c[2])
            line, col = _unsigned(c[2]), _unsigned(c[4])
            if n == 8:  # "f":1:2 to :5 (a range on one line)
                return FileLineColLoc(text, line, col, line, _unsigned(c[7]))
            if n == 9:  # "f":1:2 to 3:4
                return FileLineColLoc(text, line, col, _unsigned(c[6]), _unsigned(c[8]))
            return FileLineColLoc(text, line, col)
        word = first.value
        if n == 1:
            if word != "unknown":
                raise s.error(first.pos, f"expected 'unknown', found '{word}'")
            return UnknownLoc()
        if c[1].type == "LBRACKET" or c[1].type == "LESS":
            if word != "fused":
                raise s.error(first.pos, f"expected 'fused', found '{word}'")
            if n == 4:
                return FusedLoc(c[2])
            return FusedLoc(c[5], c[2])
        if word != "callsite":
            raise s.error(first.pos, f"expected 'callsite', found '{word}'")
        if c[3].value != "at":
            raise s.error(c[3].pos, f"expected 'at', found '{c[3].value}'")
        return CallSiteLoc(c[2], c[4])

    def loc_list_opt(self, c):
        return c[0] if c else []

    def loc_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    # ------------------------------------------------------------------ resources
    def resources(self, c):
        return None

    def resource_groups(self, c):
        return None

    def resource_group(self, c):
        s = _s()
        group = c[0].value
        if group not in ("dialect_resources", "external_resources"):  # MLIR's two kinds of file metadata
            raise s.error(c[0].pos, f"unknown key '{group}' in file metadata dictionary")
        for dialect, entries, pos in c[3]:
            if group == "dialect_resources" and dialect != "builtin":  # only builtin has resources (blobs)
                if dialect in s.ctx.dialects:
                    raise s.error(pos, f"unexpected 'resource' section for dialect '{dialect}'")
                raise s.error(pos, f"dialect '{dialect}' is unknown")
            for key, tok in entries:
                if group == "dialect_resources" and dialect == "builtin":
                    s.set_blob(key, tok)
                else:
                    s.extra_resources.append((group, dialect, key, tok.value))
        return None

    def resource_dialects(self, c):
        return c[0] if c else []

    def resource_dialect_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def resource_dialect(self, c):
        return (c[0][0], c[3], c[0][1])

    def resource_entries(self, c):
        return c[0] if c else []

    def resource_entry_list(self, c):
        if len(c) == 1:
            return [c[0]]
        lst = c[0]
        lst.append(c[2])
        return lst

    def resource_entry(self, c):
        return (c[0][0], c[2])

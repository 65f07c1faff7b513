"""CQL subset: tokenizer, recursive-descent parser and evaluator over the site model.

Grammar::

    query    := expr? [ORDER BY item ("," item)*]
    expr     := and (OR and)*
    and      := not (AND not)*
    not      := NOT not | "(" expr ")" | clause
    clause   := FIELD op value | FIELD [NOT] IN "(" value ("," value)* ")"
    value    := STRING | WORD | NUMBER | FUNC "(" [value ("," value)*] ")"

Date literals (`yyyy/MM/dd HH:mm`, `yyyy-MM-dd HH:mm`, `yyyy/MM/dd`, `yyyy-MM-dd`) and date functions are wall-clock
times in the site time zone; comparisons are at minute precision (content timestamps are truncated to the minute).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from .clock import zone
from .site import TREE_NODE_TYPES

CLOUD_ONLY_TYPES = {"folder", "whiteboard", "database", "embed"}


class CQLError(ValueError):
    pass


FIELDS = {"type", "space", "space.key", "id", "content", "ancestor", "parent", "container", "label", "title", "text",
          "creator", "status", "created", "lastmodified", "contributor", "space.type"}
DATE_FIELDS = {"created", "lastmodified"}
ORDER_FIELDS = {"lastmodified", "created", "title", "id"}
KEYWORDS = {"AND", "OR", "NOT", "IN", "ORDER", "BY", "ASC", "DESC"}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>!=|!~|<=|>=|=|~|<|>)
  | (?P<lp>\()
  | (?P<rp>\))
  | (?P<comma>,)
  | (?P<word>[A-Za-z0-9_.\-/:+*@]+)
""", re.X)


@dataclass
class Tok:
    kind: str
    value: str
    pos: int


def tokenize(q: str) -> list[Tok]:
    out, i = [], 0
    while i < len(q):
        m = _TOKEN.match(q, i)
        if not m:
            raise CQLError("Could not parse cql : %s (unexpected character %r at position %d)" % (q, q[i], i))
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            body = text[1:-1]
            text = re.sub(r"\\(.)", r"\1", body)
        if kind == "op" and text == "~" and out and out[-1].kind in ("op", "lp", "comma"):
            m2 = _TOKEN.match(q, m.end())
            if m2 and m2.lastgroup == "word":  # personal space key such as ~5f3a... used unquoted
                out.append(Tok("word", "~" + m2.group("word"), m.start()))
                i = m2.end()
                continue
        if kind == "word" and text.upper() in KEYWORDS:
            kind, text = "kw", text.upper()
        if kind != "ws":
            out.append(Tok(kind, text, m.start()))
        i = m.end()
    out.append(Tok("eof", "", len(q)))
    return out


# ---------------------------------------------------------------- AST
@dataclass
class Clause:
    field: str
    op: str          # = != ~ !~ < <= > >= IN NOTIN
    values: list     # list of ("lit", str) | ("fn", name, [args])


@dataclass
class BoolOp:
    op: str
    items: list


@dataclass
class Not:
    item: object


@dataclass
class Query:
    where: Optional[object]
    order: list  # [(field, desc)]
    text: str

    def names_field(self, name: str) -> bool:
        def walk(n):
            if isinstance(n, Clause):
                return n.field == name
            if isinstance(n, BoolOp):
                return any(walk(x) for x in n.items)
            if isinstance(n, Not):
                return walk(n.item)
            return False
        return walk(self.where)


def id_candidates(query: Query) -> Optional[list]:
    """The ids a query can only match (in the query's order), when it requires ``id = x`` or
    ``id IN (...)`` at its top level.

    Lets the caller look those up instead of testing every content of the site: real Confluence
    answers such a query from its index, so its cost must not grow with the site here either.
    """
    clauses = query.where.items if isinstance(query.where, BoolOp) and query.where.op == "AND" else [query.where]
    for clause in clauses:
        if isinstance(clause, Clause) and clause.field == "id" and clause.op in ("=", "IN"):
            if all(value[0] == "lit" for value in clause.values):
                return list(dict.fromkeys(value[1] for value in clause.values))
    return None


def modified_minutes(query: Query, tz_name: str) -> Optional[tuple]:
    """The (lowest, highest) epoch minute of `lastmodified` a query can match, when its top level requires
    ``lastmodified >= / > / <= / <`` a literal date; either end None when unbounded, None when neither is.

    Lets the caller take candidates from an index by modification time (as Confluence's search index
    answers a date range) instead of testing every content; the query's predicate still decides.
    """
    clauses = query.where.items if isinstance(query.where, BoolOp) and query.where.op == "AND" else [query.where]
    low = high = None
    for clause in clauses:
        if not (isinstance(clause, Clause) and clause.field == "lastmodified" and clause.values and clause.values[0][0] == "lit"):
            continue
        try:
            minute, date_only = parse_date_literal(clause.values[0][1], tz_name)
        except CQLError:
            return None
        if date_only:
            continue  # a whole day in the site's zone: leave it to the predicate
        if clause.op in (">=", ">"):
            low = minute if low is None else max(low, minute)
        elif clause.op in ("<=", "<"):
            high = minute if high is None else min(high, minute)
    return None if low is None and high is None else (low, high)


class Parser:
    def __init__(self, q: str):
        self.q = q
        self.toks = tokenize(q)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self):
        t = self.toks[self.i]
        self.i += 1
        return t

    def err(self, msg):
        t = self.peek()
        raise CQLError("Could not parse cql : %s (%s at position %d)" % (self.q, msg, t.pos))

    def expect(self, kind, value=None):
        t = self.peek()
        if t.kind != kind or (value is not None and t.value != value):
            self.err("expected %s" % (value or kind))
        return self.take()

    def parse(self) -> Query:
        where = None
        if not (self.peek().kind == "kw" and self.peek().value == "ORDER") and self.peek().kind != "eof":
            where = self.expr()
        order = []
        if self.peek().kind == "kw" and self.peek().value == "ORDER":
            self.take()
            self.expect("kw", "BY")
            while True:
                f = self.take()
                if f.kind != "word" or f.value.lower() not in ORDER_FIELDS:
                    raise CQLError("Could not parse cql : %s (cannot order by %r)" % (self.q, f.value))
                desc = False
                if self.peek().kind == "kw" and self.peek().value in ("ASC", "DESC"):
                    desc = self.take().value == "DESC"
                order.append((f.value.lower(), desc))
                if self.peek().kind == "comma":
                    self.take()
                    continue
                break
        if self.peek().kind != "eof":
            self.err("unexpected token %r" % self.peek().value)
        if where is None and not order:
            raise CQLError("Could not parse cql : %s (empty query)" % self.q)
        return Query(where, order, self.q)

    def expr(self):
        items = [self.and_()]
        while self.peek().kind == "kw" and self.peek().value == "OR":
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else BoolOp("OR", items)

    def and_(self):
        items = [self.not_()]
        while self.peek().kind == "kw" and self.peek().value == "AND":
            self.take()
            items.append(self.not_())
        return items[0] if len(items) == 1 else BoolOp("AND", items)

    def not_(self):
        t = self.peek()
        if t.kind == "kw" and t.value == "NOT":
            self.take()
            return Not(self.not_())
        if t.kind == "lp":
            self.take()
            e = self.expr()
            self.expect("rp")
            return e
        return self.clause()

    def clause(self):
        f = self.take()
        if f.kind != "word":
            self.i -= 1
            self.err("expected a field name")
        field = f.value.lower()
        if field not in FIELDS:
            raise CQLError("Could not parse cql : %s (unsupported field %r)" % (self.q, f.value))
        t = self.peek()
        if t.kind == "kw" and t.value == "NOT":
            self.take()
            self.expect("kw", "IN")
            op = "NOTIN"
        elif t.kind == "kw" and t.value == "IN":
            self.take()
            op = "IN"
        elif t.kind == "op":
            op = self.take().value
        else:
            self.err("expected an operator after %r" % f.value)
        if op in ("IN", "NOTIN"):
            self.expect("lp")
            vals = [self.value()]
            while self.peek().kind == "comma":
                self.take()
                vals.append(self.value())
            self.expect("rp")
        else:
            vals = [self.value()]
        if field in DATE_FIELDS and op in ("~", "!~", "IN", "NOTIN"):
            raise CQLError("Could not parse cql : %s (operator %s is not supported for date field %s)" % (self.q, op, field))
        if field not in DATE_FIELDS and field != "id" and op in ("<", "<=", ">", ">="):
            raise CQLError("Could not parse cql : %s (operator %s is not supported for field %s)" % (self.q, op, field))
        if op in ("~", "!~") and field not in ("title", "text"):
            raise CQLError("Could not parse cql : %s (operator %s is not supported for field %s)" % (self.q, op, field))
        return Clause(field, op, vals)

    def value(self):
        t = self.take()
        if t.kind == "str":
            return ("lit", t.value)
        if t.kind == "word":
            if self.peek().kind == "lp":
                self.take()
                args = []
                if self.peek().kind != "rp":
                    args.append(self.value()[1])
                    while self.peek().kind == "comma":
                        self.take()
                        args.append(self.value()[1])
                self.expect("rp")
                return ("fn", t.value, args)
            return ("lit", t.value)
        self.i -= 1
        self.err("expected a value")


def parse(q: str) -> Query:
    if q is None or not q.strip():
        raise CQLError("CQL query parameter is required")
    return Parser(q).parse()


# ---------------------------------------------------------------- dates
_DATE_FORMATS = [("%Y/%m/%d %H:%M", False), ("%Y-%m-%d %H:%M", False), ("%Y/%m/%d", True), ("%Y-%m-%d", True)]
_INC = re.compile(r"^\s*([+-]?)(\d+)\s*([yMwdhm])\s*$")


def local_to_minute(dt: datetime, tz_name: str) -> int:
    """Wall-clock time in the site tz -> epoch minute (UTC)."""
    aware = dt.replace(tzinfo=zone(tz_name))
    return int(aware.astimezone(timezone.utc).timestamp()) // 60


def parse_date_literal(s: str, tz_name: str) -> tuple[int, bool]:
    """Returns (epoch minute, is_date_only)."""
    for fmt, date_only in _DATE_FORMATS:
        try:
            dt = datetime.strptime(s.strip(), fmt)
        except ValueError:
            continue
        return local_to_minute(dt, tz_name), date_only
    raise CQLError("Invalid date: '%s'. Use one of the formats \"yyyy/MM/dd HH:mm\", \"yyyy-MM-dd HH:mm\", "
                   "\"yyyy/MM/dd\" or \"yyyy-MM-dd\"" % s)


def _apply_inc(dt: datetime, inc: Optional[str]) -> datetime:
    if not inc:
        return dt
    m = _INC.match(inc)
    if not m:
        raise CQLError("Invalid date increment '%s' (expected e.g. -4w, +1d, -2h)" % inc)
    sign = -1 if m.group(1) == "-" else 1
    n = int(m.group(2)) * sign
    unit = m.group(3)
    if unit == "y":
        return dt.replace(year=dt.year + n)
    if unit == "M":
        mon = dt.month - 1 + n
        return dt.replace(year=dt.year + mon // 12, month=mon % 12 + 1, day=min(dt.day, 28))
    return dt + {"w": timedelta(weeks=n), "d": timedelta(days=n), "h": timedelta(hours=n), "m": timedelta(minutes=n)}[unit]


def eval_date_fn(name: str, args: list, now_ms: int, tz_name: str) -> int:
    """Date functions evaluated on the emulator clock in the site tz -> epoch minute."""
    nm = name.lower()
    local_now = datetime.fromtimestamp(now_ms / 1000, tz=zone(tz_name)).replace(tzinfo=None)
    inc = args[0] if args else None
    if nm == "now":
        dt = _apply_inc(local_now, inc)
    elif nm in ("startofday", "endofday"):
        d = _apply_inc(local_now, inc)
        dt = d.replace(hour=0, minute=0, second=0, microsecond=0) if nm == "startofday" else d.replace(hour=23, minute=59, second=0, microsecond=0)
    elif nm in ("startofweek", "endofweek"):
        d = _apply_inc(local_now, inc)
        start = (d - timedelta(days=(d.weekday() + 1) % 7)).replace(hour=0, minute=0, second=0, microsecond=0)
        dt = start if nm == "startofweek" else start + timedelta(days=6, hours=23, minutes=59)
    elif nm in ("startofmonth", "endofmonth"):
        d = _apply_inc(local_now, inc)
        start = d.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if nm == "startofmonth":
            dt = start
        else:
            nxt = (start + timedelta(days=32)).replace(day=1)
            dt = nxt - timedelta(minutes=1)
    elif nm in ("startofyear", "endofyear"):
        d = _apply_inc(local_now, inc)
        dt = d.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        if nm == "endofyear":
            dt = dt.replace(year=dt.year + 1) - timedelta(minutes=1)
    else:
        raise CQLError("Unknown CQL function %s()" % name)
    return local_to_minute(dt, tz_name)


# ---------------------------------------------------------------- evaluation
@dataclass
class EvalContext:
    site: object
    tz: str
    now_ms: int
    user: object = None


def compile_query(query: Query, ctx: EvalContext) -> Callable:
    if query.where is None:
        return lambda c: True
    return _compile(query.where, ctx)


def _compile(node, ctx: EvalContext) -> Callable:
    if isinstance(node, BoolOp):
        fns = [_compile(x, ctx) for x in node.items]
        if node.op == "AND":
            return lambda c: all(f(c) for f in fns)
        return lambda c: any(f(c) for f in fns)
    if isinstance(node, Not):
        f = _compile(node.item, ctx)
        return lambda c: not f(c)
    return _clause(node, ctx)


def _lit_values(cl: Clause, ctx: EvalContext) -> list[str]:
    out = []
    for v in cl.values:
        if v[0] == "lit":
            out.append(v[1])
        elif v[1].lower() == "currentuser":
            out.append(ctx.user.account_id if ctx.user else "")
        else:
            raise CQLError("Function %s() is not supported for field %s" % (v[1], cl.field))
    return out


def _clause(cl: Clause, ctx: EvalContext) -> Callable:
    site = ctx.site
    f, op = cl.field, cl.op
    if f in DATE_FIELDS:
        v = cl.values[0]
        if v[0] == "fn":
            minute, date_only = eval_date_fn(v[1], v[2], ctx.now_ms, ctx.tz), False
        else:
            minute, date_only = parse_date_literal(v[1], ctx.tz)
        get = (lambda c: c.created // 60000) if f == "created" else (lambda c: c.modified // 60000)
        if date_only and op in ("=", "!="):
            hi = local_to_minute(datetime.fromtimestamp(minute * 60, tz=timezone.utc).astimezone(zone(ctx.tz)).replace(tzinfo=None) + timedelta(days=1), ctx.tz)
            inside = lambda c: minute <= get(c) < hi
            return inside if op == "=" else (lambda c: not inside(c))
        return {
            "=": lambda c: get(c) == minute, "!=": lambda c: get(c) != minute,
            "<": lambda c: get(c) < minute, "<=": lambda c: get(c) <= minute,
            ">": lambda c: get(c) > minute, ">=": lambda c: get(c) >= minute,
        }[op]
    vals = _lit_values(cl, ctx)
    neg = op in ("!=", "NOTIN", "!~")
    if f in ("title", "text") and op in ("~", "!~"):
        terms = [t.lower() for t in re.findall(r"[\w*]+", vals[0])]
        pats = [re.compile(r"\b" + re.escape(t).replace(r"\*", r"\w*") + r"\b") if "*" in t else None for t in terms]

        def hay(c):
            h = (c.title or "").lower()
            if f == "text":
                h += " " + re.sub(r"<[^>]+>", " ", site.storage(c)).lower() if c.type != "attachment" else ""
            return h

        def match(c):
            h = hay(c)
            for t, p in zip(terms, pats):
                if p is not None:
                    if not p.search(h):
                        return False
                elif t not in h:
                    return False
            return True
        return (lambda c: not match(c)) if neg else match
    getter = _getter(f, site)
    if f == "id" and op in ("<", "<=", ">", ">="):
        x = int(vals[0])
        return {"<": lambda c: c.num < x, "<=": lambda c: c.num <= x, ">": lambda c: c.num > x, ">=": lambda c: c.num >= x}[op]
    if f in ("creator", "contributor"):
        resolved = set()
        for v in vals:
            u = site.user_by_any(v)
            resolved.add(u.account_id if u else v)
        vals = list(resolved)
    want = set(v if f != "type" else v.lower() for v in vals)
    if f == "type" and site.profile == "data_center":
        for v in sorted(want & CLOUD_ONLY_TYPES):  # Data Center has no folders, whiteboards, databases or embeds
            raise CQLError("No ContentTypeBinding found for type: %s" % v)
    if f == "space" or f == "space.key":
        want = set(vals)

    def match(c):
        got = getter(c)
        if isinstance(got, (set, list, tuple)):
            return bool(want & set(got))
        return got in want
    return (lambda c: not match(c)) if neg else match


def _getter(f: str, site) -> Callable:
    if f == "type":
        return lambda c: c.type
    if f in ("space", "space.key"):
        return lambda c: c.space_key
    if f == "space.type":
        return lambda c: site.spaces[c.space_key].type
    if f in ("id", "content"):
        return lambda c: c.id
    if f == "ancestor":
        return lambda c: [a.id for a in site.v1_ancestors(c)] if c.type in TREE_NODE_TYPES else []
    if f == "parent":
        return lambda c: c.parent_id if c.type in TREE_NODE_TYPES else c.container_id
    if f == "container":
        return lambda c: c.container_id
    if f == "label":
        return lambda c: c.labels
    if f == "title":
        return lambda c: c.title
    if f == "creator":
        return lambda c: c.versions[0].by
    if f == "contributor":
        return lambda c: [v.by for v in c.versions]
    if f == "status":
        return lambda c: c.status
    raise CQLError("Unsupported field %s" % f)


def sort_key(order: list) -> Callable:
    """ORDER BY -> key function (ties broken by id). Default: id ascending."""
    if not order:
        return None
    return order


def apply_order(items: list, order: list) -> list:
    items = sorted(items, key=lambda c: c.num)
    for field, desc in reversed(order):
        if field == "lastmodified":
            k = lambda c: c.modified
        elif field == "created":
            k = lambda c: c.created
        elif field == "title":
            k = lambda c: (c.title or "").lower()
        else:
            k = lambda c: c.num
        items.sort(key=k, reverse=desc)
    return items

"""Deterministic site generator: same seed + sizes -> same site (ids, titles, times, tree, permissions)."""
from __future__ import annotations

import hashlib
import random
import uuid

from . import bodies, files
from .site import AuditRecord, Content, Group, Site, Space, User, Version

DAY = 86400 * 1000
AUTHORS = [("alice", "Alice Anders"), ("bob", "Bob Brennan"), ("carol", "Carol Chen"), ("dave", "Dave Duarte"),
           ("erin", "Erin Eriksen"), ("frank", "Frank Fischer")]
SPACE_KEYS = [("ENG", "Engineering"), ("DOCS", "Documentation"), ("HR", "Human Resources"), ("SALES", "Sales"),
              ("OPS", "Operations"), ("MKT", "Marketing"), ("FIN", "Finance"), ("LEGAL", "Legal")]
TITLE_A = "Quarterly Project Release Incident Onboarding Architecture Migration Retrospective Roadmap Budget Policy Runbook Design Meeting".split()
TITLE_B = "Notes Plan Overview Checklist Review Guide Summary Decisions Report Proposal FAQ Handbook".split()
LABELS = ["howto", "meeting-notes", "architecture", "draft", "release", "policy", "faq", "runbook", "q3", "customer"]
MESSAGES = ["", "", "Fixed typos", "Updated table", "Added section on rollout", "Reworded intro", "Reviewed"]
SITE_SHAPES = ("uniform", "real")
# Real shape: one space holds about half the pages (weights of the global spaces, ENG first).
REAL_SPACE_WEIGHTS = [6, 2, 1, 3, 1, 1, 1, 1]
# Real shape: this share of pages and blog posts has a body of 100 KB and more (a long tail of huge pages).
REAL_HUGE_BODY_SHARE = 0.004
REAL_HUGE_BODY_REPEAT = 90
# Real shape: how deep a few page trees go (uniform sites stop at 6 levels).
REAL_MAX_DEPTH = 15


def _hex(seed, *parts, n=24):
    return hashlib.sha256(("%s|" % seed + "|".join(map(str, parts))).encode()).hexdigest()[:n]


def cloud_id_for(seed: int) -> str:
    return str(uuid.UUID(_hex(seed, "cloud", n=32)))


def build_site(profile: str, seed: int, clock, time_zone: str = "UTC", pages: int = 200, blogposts: int | None = None,
               spaces: int = 4, shape: str = "uniform") -> Site:
    """``shape``: ``uniform`` spreads creation and edits evenly over a year and pages over the spaces by fixed
    weights; ``real`` is shaped like real sites: most edits recent (creation ages drawn as ``u**3`` of a year,
    so about half the content is created in the last tenth of the site's age), one space with about half the
    pages, a long tail of huge bodies, and a few deep trees. The uniform site stays byte-for-byte what it was."""
    if shape not in SITE_SHAPES:
        raise ValueError("shape must be one of %s" % (SITE_SHAPES,))
    real = shape == "real"
    rng = random.Random(seed)
    dc = profile == "data_center"
    site = Site(profile, seed, time_zone, clock, cloud_id_for(seed))
    site.body_renderer = bodies.render
    now = clock.now_ms()
    if blogposts is None:
        blogposts = max(3, pages // 5)

    # ---------- users & groups
    def mk_user(username, display, email, groups, admin=False, acct_type="atlassian"):
        acct = "5f" + _hex(seed, "user", username, n=22)
        u = User(account_id=acct, username=username, user_key="8a7f8" + _hex(seed, "key", username, n=27),
                 display_name=display, email=email, groups=set(groups), site_admin=admin, account_type=acct_type,
                 time_zone=time_zone)
        site.users[acct] = u
        return u

    admin = mk_user("admin", "Site Admin", "admin@example.com", {"confluence-administrators", "confluence-users", "site-admins"}, admin=True)
    reader = mk_user("reader", "Read Only", "reader@example.com", {"confluence-users"})
    authors = []
    team_groups = ["engineering", "hr", "sales"]
    for i, (un, dn) in enumerate(AUTHORS):
        authors.append(mk_user(un, dn, "%s@example.com" % un, {"confluence-users", team_groups[i % 3]}))
        authors[-1].email_visible = i % 2 == 0  # every other author keeps the email address private
    bot = mk_user("automation", "Automation for Confluence", "", {"confluence-users"}, acct_type="app")
    admin.groups.add("engineering"); admin.groups.add("hr")
    group_names = ["confluence-administrators", "confluence-users", "site-admins", "engineering", "hr", "sales"] + \
        ["team-%02d" % i for i in range(1, 13)]
    for gname in group_names:
        g = Group(id=str(uuid.UUID(_hex(seed, "group", gname, n=32))), name=gname)
        site.groups[gname] = g
    for u in site.users.values():
        for gname in sorted(u.groups):
            site.groups[gname].members.append(u.account_id)
    for i, gname in enumerate(group_names[6:]):
        for a in authors[: (i % len(authors)) + 1]:
            site.groups[gname].members.append(a.account_id)
            a.groups.add(gname)

    # ---------- spaces
    sid = [98304]

    def mk_space(key, name, type_, author, view_groups, view_users=(), anon=False):
        sid[0] += 3
        s = Space(id=sid[0], key=key, name=name, type=type_, status="current", homepage_id=None,
                  description="%s space for the %s team." % (name, name.lower()), created_ms=now - 400 * DAY + sid[0],
                  author_id=author.account_id, view_groups=set(view_groups), view_users=set(view_users), anonymous_access=anon)
        site.spaces[key] = s
        return s

    std = {"confluence-users", "confluence-administrators"}
    glob = []
    for i in range(max(1, spaces)):
        key, name = SPACE_KEYS[i] if i < len(SPACE_KEYS) else ("SP%02d" % i, "Space %d" % i)
        if key == "HR":
            s = mk_space(key, name, "global", admin, {"confluence-administrators", "hr"})
        else:
            s = mk_space(key, name, "global", admin, std, anon=(key == "DOCS"))
        glob.append(s)
    pkey = lambda u: "~" + (u.username if dc else u.account_id)
    p1 = mk_space(pkey(admin), admin.display_name, "personal", admin, {"confluence-administrators"}, {admin.account_id})
    p2 = mk_space(pkey(authors[0]), authors[0].display_name, "personal", authors[0], std, {authors[0].account_id})
    all_spaces = glob + [p1, p2]

    # ---------- content helpers
    def versions_for(created, author_pool, maxv=6):
        n = 1 + min(maxv - 1, int(rng.expovariate(0.8)))
        t = created
        vs = [Version(1, t, rng.choice(author_pool).account_id, "", False)]
        for k in range(2, n + 1):
            t = t + rng.randint(60_000, max(60_001, (now - 3600_000 - t) // (n + 1)))
            if t >= now - 60_000:
                break
            vs.append(Version(k, t, rng.choice(author_pool).account_id, rng.choice(MESSAGES), rng.random() < 0.25))
        return vs

    def created_time():
        if real:
            return now - 2 * DAY - int(363 * DAY * rng.random() ** 3) + rng.randint(0, 999)
        return now - rng.randint(2 * DAY, 365 * DAY) + rng.randint(0, 999)

    pool = authors + [admin]
    # ---------- pages (home page per space first)
    per_space = {s.key: [] for s in all_spaces}
    depth = {}
    n_pages = max(pages, len(all_spaces))
    homes = []
    for s in all_spaces:
        c = Content(id=str(site.new_id()), type="page", status="current", title="%s Home" % s.name, space_key=s.key,
                    parent_id=None, position=0, author=s.author_id, owner=s.author_id)
        c.num = int(c.id)
        c.versions = [Version(1, s.created_ms + 1000, s.author_id, "", False)]
        site.add(c)
        s.homepage_id = c.id
        per_space[s.key].append(c)
        depth[c.id] = 0
        homes.append(c)
    targets = []
    for s in all_spaces:
        if s.type == "personal":
            targets.append((s, 1))
    remaining = n_pages - len(all_spaces) - sum(t[1] for t in targets)
    weights = REAL_SPACE_WEIGHTS if real else [3, 2, 1, 2, 1, 1, 1, 1]
    wsum = sum(weights[i % len(weights)] for i in range(len(glob)))
    alloc = [remaining * weights[i % len(weights)] // wsum for i in range(len(glob))]
    alloc[0] += remaining - sum(alloc)
    order = []
    for s, k in targets:
        order += [s] * k
    for s, k in zip(glob, alloc):
        order += [s] * max(0, k)
    rng.shuffle(order)
    seq = 0
    for s in order:
        seq += 1
        lst = per_space[s.key]
        cand = lst[max(0, len(lst) - 8):]
        parent = rng.choice(cand)
        if real and rng.random() < 0.02:  # a few long chains: the deepest page of the space so far
            parent = max(lst[-50:], key=lambda p: depth[p.id])
        if depth[parent.id] >= (REAL_MAX_DEPTH if real else 6):
            parent = lst[0]
        a = rng.choice(pool)
        cr = created_time()
        c = Content(id=str(site.new_id(rng.randint(1, 3))), type="page", status="current",
                    title="%s %s %d" % (rng.choice(TITLE_A), rng.choice(TITLE_B), seq), space_key=s.key,
                    parent_id=parent.id, position=len(site.kids.get(parent.id, ())), author=a.account_id,
                    owner=a.account_id)
        c.num = int(c.id)
        c.versions = versions_for(cr, pool)
        c.labels = rng.sample(LABELS, rng.choice([0, 0, 1, 1, 2, 3]))
        site.add(c)
        lst.append(c)
        depth[c.id] = depth[parent.id] + 1

    # ---------- blog posts
    for i in range(blogposts):
        s = glob[i % len(glob)]
        a = rng.choice(pool)
        c = Content(id=str(site.new_id(rng.randint(1, 3))), type="blogpost", status="current",
                    title="Blog: %s %s %d" % (rng.choice(TITLE_A), rng.choice(TITLE_B), i + 1), space_key=s.key,
                    author=a.account_id, owner=a.account_id)
        c.num = int(c.id)
        c.versions = versions_for(created_time(), pool, maxv=3)
        c.labels = rng.sample(LABELS, rng.choice([0, 1, 2]))
        site.add(c)
    for c in site.content.values():
        for l in c.labels:
            site.label_id(l)
    if real:  # their own generator: choosing them moves none of the site's other draws
        tail = random.Random("%s:huge-bodies" % seed)
        site.body_repeat = {c.id: REAL_HUGE_BODY_REPEAT for c in site.content.values()
                            if c.type in ("page", "blogpost") and tail.random() < REAL_HUGE_BODY_SHARE}

    # ---------- restrictions
    eng = per_space[glob[0].key]
    with_kids = [c for c in eng[1:] if site.kids.get(c.id) and depth[c.id] <= 2]
    if with_kids:
        rp = with_kids[0]
        rp.read_users = {admin.account_id, authors[0].account_id}
        rp.read_groups = {"confluence-administrators"}
        rp.update_users = {admin.account_id}
        rp.update_groups = set()
    plain_pages = [c for c in site.content.values() if c.type == "page" and c.parent_id and c.read_users is None]
    for c in plain_pages:
        r = rng.random()
        if r < 0.03:
            c.read_groups = {"engineering", "confluence-administrators"}
            c.read_users = set()
        elif r < 0.06:
            c.update_users = {c.author}
            c.update_groups = set()
    bps = [c for c in site.content.values() if c.type == "blogpost"]
    if len(bps) > 2:
        bps[1].read_users = {admin.account_id}
        bps[1].read_groups = set()

    # ---------- statuses: a few archived/trashed leaf pages and trashed blog posts
    leaves = [c for c in site.content.values() if c.type == "page" and c.parent_id and not site.kids.get(c.id)]
    for c in leaves:
        r = rng.random()
        if r < 0.02:
            c.status = "archived"
        elif r < 0.05:
            c.status = "trashed"
            c.prev_status = "current"
    for c in bps[3::11]:
        c.status = "trashed"
        c.prev_status = "current"

    # ---------- comments
    containers = [c for c in list(site.content.values()) if c.type in ("page", "blogpost") and c.status == "current"]
    for c in containers:
        r = rng.random()
        if r < 0.35:
            for _ in range(rng.randint(1, 3)):
                root = _comment(site, rng, c, pool, "footer", None, now)
                for _ in range(rng.choice([0, 0, 1, 2])):
                    _comment(site, rng, c, pool, "footer", root, now)
        if c.type == "page" and rng.random() < 0.12:
            root = _comment(site, rng, c, pool, "inline", None, now)
            if rng.random() < 0.5:
                _comment(site, rng, c, pool, "inline", root, now)

    # ---------- attachments
    kinds = files.KINDS
    k = 0
    for c in containers:
        if rng.random() < (0.2 if c.type == "page" else 0.1):
            for j in range(rng.randint(1, 3)):
                ext, mt, _ = kinds[k % len(kinds)]
                k += 1
                slug = "-".join(c.title.lower().split()[:2])
                a = Content(id="att" + str(site.new_id()), type="attachment", status="current",
                            title="%s-%d.%s" % (slug, j + 1, ext), space_key=c.space_key, container_id=c.id,
                            author=c.author, media_type=mt if not (ext == "md" and k % 2) else "binary/octet-stream",
                            blob=files.make(ext, c.title), att_comment="Uploaded %s" % ext)
                a.filename = a.title
                a.num = int(a.id[3:])
                a.versions = [Version(1, max(c.created + 60_000, c.modified - 30_000), c.author, "", False)]
                site.add(a)

    # ---------- audit
    cats = [("Permissions", "Space permission added", "space"), ("Users and groups", "User added to group", "user"),
            ("Space", "Space created", "space"), ("Pages", "Page restrictions changed", "page"),
            ("Security", "Global permission changed", "global")]
    for i in range(60):
        cat, summ, otype = cats[i % len(cats)]
        t = now - rng.randint(1, 360) * DAY + rng.randint(0, DAY)
        site.audit.append(AuditRecord(author_id=rng.choice([admin] + authors[:2]).account_id, remote_address="10.0.%d.%d" % (i % 7, i + 10),
                                      creation_ms=t, summary=summ, description="", category=cat,
                                      affected_name=rng.choice(glob).name if otype == "space" else "object-%d" % i,
                                      affected_type=otype, sys_admin=i % 9 == 0))
    site.audit.sort(key=lambda r: r.creation_ms)
    site.touch()
    return site


def _comment(site, rng, c, pool, location, parent, now):
    a = rng.choice(pool)
    base = parent.created if parent is not None else c.created
    t = min(now - 30_000, base + rng.randint(60_000, 20 * DAY))
    cm = Content(id=str(site.new_id()), type="comment", status="current", title="Re: %s" % c.title,
                 space_key=c.space_key, container_id=c.id, author=a.account_id, location=location,
                 parent_comment_id=parent.id if parent is not None else None)
    cm.num = int(cm.id)
    cm.versions = [Version(1, t, a.account_id, "", False)]
    if location == "inline":
        cm.resolution = "open" if parent is not None else rng.choice(["open", "resolved", "reopened", "dangling"])
        cm.inline_selection = rng.choice(["quarterly budget", "rollout plan", "the table below", "this sentence"])
    site.add(cm)
    return cm

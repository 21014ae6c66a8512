"""One resident, several chat apps: two accounts become one person, so tickets, sign-ups and shifts
follow them — but only with proof from both accounts, and never handing over a staff role unseen.

The steps:

1. ``绑定码`` / ``/link`` on account A (the code's *owner*) gives a one-time code of 8 digits from
   :mod:`secrets`, valid for 15 minutes.  A new code replaces the owner's earlier one (and withdraws a
   request made with it that A has not confirmed yet), so A has at most one request to confirm.
2. ``绑定 <code>`` / ``/bind <code>`` on account B (the *joiner*) uses the code up and opens request
   #N.  Nothing is merged: A is asked privately whether it was them (``确认绑定`` within 10 minutes,
   or ignore it); B is told to go and confirm on A.  Typing a code of one's own account is refused.
3. ``确认绑定`` / ``/confirmlink`` on A.  When neither account holds a role of the config
   (``core.roles_of``), the two become one now and both are told.  When either does, a role would
   travel with the link, so the admins are asked (``批准绑定 N`` / ``/approvelink N``, or
   ``拒绝绑定 N`` / ``/rejectlink N``); both accounts are told they wait for that.  Only the approval
   merges.  An unanswered request lapses (10 minutes for A, 3 days for the admins); the sweep tells
   whoever waited.  Merging keeps the person listed in the config (its roles hang on its key); two
   listed people are never merged (that is the config's business).

Guessing.  A code is one of 90,000,000 and lives 15 minutes.  A person may type 5 wrong codes an
hour; the 5th locks ``绑定`` for them for an hour (the answer says until when; the lock is checked
before the code, so a right code does not get through either).  Every wrong code and every locked
attempt is audited (``person.bind_failed``, ``person.bind_locked``).  A wrong code names no owner,
so wrong codes are also counted across everyone: when 3 or more were typed in the last hour, every
owner of a code still unused is told once (for that code) that someone may be guessing and that
nothing links without their own ``确认绑定``.  Even a lucky guess gets no further than step 3.
The state lives in the ``kv`` store as three small JSON values (codes, requests, failures),
pruned as it is written; transactions run one at a time, so read-modify-write is safe.
"""

from __future__ import annotations

import json
import secrets
import unicodedata
from datetime import datetime

from bot.commands import Router
from bot.context import ButtonSpec, Context, Notifier, Refusal
from bot.format import format_moment, join
from bot.i18n import has, t

CODE_DIGITS = 8
CODE_MINUTES = 15
CONFIRM_MINUTES = 10
ADMIN_DAYS = 3
MAX_FAILURES = 5  # wrong codes one person may type within WINDOW …
LOCK_SECONDS = 3600  # … before 绑定 is refused to them for this long
WINDOW = 3600
ALARM_FAILURES = 3  # wrong codes by anyone within WINDOW that make code owners be told
KEEP_FAILURES = 1000  # at most this many global failure times are kept (enough to count to ALARM)

SEPARATORS = "-_#「」“”\"'"  # what people put around or inside a code they copy
CODES, REQUESTS, GUARD = "identity:codes", "identity:requests", "identity:guard"

router = Router("identity")
link = router.command("link", zh=["绑定码", "关联码"], en=["link"], private_only=True, group="general")
bind = router.command("bind", zh=["绑定", "关联"], en=["bind"], private_only=True, group="general")
confirm_link = router.command("confirmlink", zh=["确认绑定"], en=["confirmlink"], private_only=True,
                              group="general")
approve_link = router.command("approvelink", zh=["批准绑定"], en=["approvelink"], roles=("admin",),
                              needs_number=True, private_only=True, group="admin")
reject_link = router.command("rejectlink", zh=["拒绝绑定"], en=["rejectlink"], roles=("admin",),
                             needs_number=True, private_only=True, group="admin")


# --- the state in kv --------------------------------------------------------------------------
async def _load(notifier: Notifier, key: str) -> dict:
    raw = await notifier.tx.kv.get(key)
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        value = {}
    return value if isinstance(value, dict) else {}


async def _save(notifier: Notifier, key: str, value: dict) -> None:
    await notifier.tx.kv.put(key, json.dumps(value, separators=(",", ":")))


async def _codes(notifier: Notifier) -> dict[str, dict]:
    """Unused codes that have not expired: code → {owner, expires, warned}."""
    codes = await _load(notifier, CODES)
    return {c: v for c, v in codes.items() if isinstance(v, dict) and v.get("expires", 0) > notifier.ts}


async def _requests(notifier: Notifier) -> dict:
    """{"next": N, "open": {"N": {id, owner, joiner, platform, external, stage, expires}}}."""
    requests = await _load(notifier, REQUESTS)
    requests.setdefault("next", 1)
    requests.setdefault("open", {})
    return requests


# --- words in the reader's language -----------------------------------------------------------
def platform_name(lang: str, platform: str) -> str:
    key = f"identity.platform.{platform}"
    return t(lang, key) if has(lang, key) else platform


def roles_text(lang: str, roles: frozenset[str]) -> str:
    """``楼长（3栋）、业委会`` / ``captain (building 3), committee``."""
    parts = []
    for role in sorted(roles):
        base, _, building = role.partition(":")
        name = t(lang, f"core.role.{base}") if has(lang, f"core.role.{base}") else base
        parts.append(t(lang, "identity.role_in_building", role=name, building=building)
                     if building else name)
    return join(lang, parts)


def _moment(notifier: Notifier, ts: float, lang: str) -> str:
    return format_moment(datetime.fromtimestamp(ts, notifier.now.tzinfo), lang)


# --- 1. the code --------------------------------------------------------------------------------
@link.handle
async def give_link_code(ctx: Context) -> None:
    """Someone asks for a code to join this account with their account on another app."""
    me = ctx.person.id
    codes = {c: v for c, v in (await _codes(ctx)).items() if v["owner"] != me}
    code = _new_code(codes)
    codes[code] = {"owner": me, "expires": ctx.ts + CODE_MINUTES * 60, "warned": False}
    await _save(ctx, CODES, codes)
    requests = await _requests(ctx)
    for number, request in list(requests["open"].items()):
        if request["owner"] == me and request["stage"] == "owner":  # one request to confirm at a time
            del requests["open"][number]
            await ctx.tell(request["joiner"], "identity.withdrawn")
            await ctx.record("person.link_withdrawn", f"person:{me}", f"request {number}")
    await _save(ctx, REQUESTS, requests)
    await ctx.record("person.link_code", f"person:{me}")
    await ctx.reply("identity.code", code=code, minutes=CODE_MINUTES)


def _new_code(taken: dict) -> str:
    low = 10 ** (CODE_DIGITS - 1)
    while True:
        code = str(low + secrets.randbelow(9 * low))  # 8 digits, never a leading zero
        if code not in taken:
            return code


# --- 2. the code typed on the other account -----------------------------------------------------
@bind.handle
async def bind_with_code(ctx: Context) -> None:
    """Someone types the code from their other app: that account is asked to confirm."""
    typed = unicodedata.normalize("NFKC", ctx.args)
    code = "".join(ch for ch in typed if not ch.isspace() and ch not in SEPARATORS)
    if not any(ch.isdigit() for ch in code):
        raise Refusal("identity.usage.bind")
    me = ctx.person.id
    guard = _pruned_guard(await _load(ctx, GUARD), ctx.ts)
    mine = guard["people"].get(str(me), {"fails": [], "until": 0})
    if mine["until"] > ctx.ts:  # locked: the code is not even looked at
        await ctx.record("person.bind_locked", f"person:{me}")
        await _save(ctx, GUARD, guard)
        await ctx.reply("identity.locked", until=_moment(ctx, mine["until"], ctx.lang))
        return
    codes = await _codes(ctx)
    entry = codes.get(code) if code.isascii() and code.isdigit() else None
    owner = await ctx.tx.people.get(entry["owner"]) if entry else None
    if entry is None or owner is None:
        await _wrong_code(ctx, code, guard, codes)
        return
    if owner.id == me:
        raise Refusal("identity.same_account")
    if owner.key and ctx.person.key and owner.key != ctx.person.key:
        raise Refusal("identity.both_listed")
    del codes[code]  # one use only
    await _save(ctx, CODES, codes)
    await _save(ctx, GUARD, guard)
    requests = await _requests(ctx)
    number = int(requests["next"])
    requests["next"] = number + 1
    requests["open"][str(number)] = {
        "id": number, "owner": owner.id, "joiner": me, "platform": ctx.msg.platform,
        "external": ctx.msg.sender_id, "stage": "owner", "expires": ctx.ts + CONFIRM_MINUTES * 60}
    await _save(ctx, REQUESTS, requests)
    owner_lang = await ctx.language_of(owner.id)
    await ctx.tell(owner.id, "identity.confirm_ask", ref=f"link:{number}",
                   buttons=[ButtonSpec("identity.button.confirm", "confirmlink")],
                   platform=platform_name(owner_lang, ctx.msg.platform),
                   name=ctx.shown_name(ctx.person, owner_lang),
                   minutes=CONFIRM_MINUTES)
    await ctx.record("person.link_requested", f"person:{owner.id}", f"request {number}")
    await ctx.reply("identity.sent_to_owner", minutes=CONFIRM_MINUTES)


def _pruned_guard(guard: dict, now: float) -> dict:
    """Failures of the last WINDOW only: {"people": {id: {fails, until}}, "all": [times]}."""
    people = {}
    for person, entry in (guard.get("people") or {}).items():
        fails = [x for x in entry.get("fails", []) if x > now - WINDOW]
        until = entry.get("until", 0)
        if fails or until > now:
            people[person] = {"fails": fails, "until": until if until > now else 0}
    everyone = [x for x in guard.get("all", []) if x > now - WINDOW][-KEEP_FAILURES:]
    return {"people": people, "all": everyone}


async def _wrong_code(ctx: Context, code: str, guard: dict, codes: dict[str, dict]) -> None:
    """A code that is no code: counted, audited, answered; the owners hear of a guessing spree."""
    me = str(ctx.person.id)
    mine = guard["people"].get(me, {"fails": [], "until": 0})
    mine["fails"].append(ctx.ts)
    guard["all"].append(ctx.ts)
    failures = len(mine["fails"])
    await ctx.record("person.bind_failed", f"person:{me}", f"{failures} of {MAX_FAILURES} this hour")
    if failures >= MAX_FAILURES:
        mine = {"fails": [], "until": ctx.ts + LOCK_SECONDS}
    guard["people"][me] = mine
    await _save(ctx, GUARD, guard)
    if len(guard["all"]) >= ALARM_FAILURES:
        for entry in codes.values():
            if entry.get("warned") or entry["owner"] == ctx.person.id:
                continue
            entry["warned"] = True
            await ctx.tell(entry["owner"], "identity.guessing", count=len(guard["all"]),
                           minutes=CODE_MINUTES)
            await ctx.audit(None, None, "person.link_guessing", f"person:{entry['owner']}",
                            f"{len(guard['all'])} wrong codes in the last hour")
        await _save(ctx, CODES, codes)
    shown = code[:12]
    if mine["until"]:
        await ctx.reply("identity.bad_code_locked", code=shown,
                        until=_moment(ctx, mine["until"], ctx.lang))
    else:
        await ctx.reply("identity.bad_code", code=shown, left=MAX_FAILURES - failures)


# --- 3. the owner confirms; the admins approve when a role is involved --------------------------
@confirm_link.handle
async def confirm(ctx: Context) -> None:
    """The code's owner says yes: link now, or ask the admins when a role would travel."""
    requests = await _requests(ctx)
    waiting = [r for r in requests["open"].values()
               if r["owner"] == ctx.person.id and r["stage"] == "owner" and r["expires"] > ctx.ts]
    if not waiting:
        raise Refusal("identity.nothing_to_confirm")
    request = max(waiting, key=lambda r: r["id"])
    number = request["id"]
    joiner = await _still_there(ctx, request)
    if joiner is None:
        del requests["open"][str(number)]
        await _save(ctx, REQUESTS, requests)
        await ctx.reply("identity.request_gone")
        return
    await ctx.record("person.link_confirmed", f"person:{ctx.person.id}", f"request {number}")
    roles = ctx.core.roles_of(ctx.person) | ctx.core.roles_of(joiner)
    if not roles:
        await ctx.tell(joiner.id, "identity.bound")
        await ctx.reply("identity.bound")
        await _merge(ctx, requests, request)
        return
    request["stage"] = "admin"
    request["expires"] = ctx.ts + ADMIN_DAYS * 86400
    told = 0
    owner_platform = ctx.msg.platform  # where the owner just confirmed
    for admin in await ctx.core.person_ids(ctx.tx, ctx.core.people_with_role("admin")):
        lang = await ctx.language_of(admin)
        told += await ctx.tell(
            admin, "identity.admin_ask", ref=f"link:{number}", number=number,
            owner=ctx.shown_name(ctx.person, lang), joiner=ctx.shown_name(joiner, lang),
            owner_platform=platform_name(lang, owner_platform),
            joiner_platform=platform_name(lang, request["platform"]),
            roles=roles_text(lang, roles), days=ADMIN_DAYS,
            buttons=[ButtonSpec("identity.button.approve", "approvelink", str(number)),
                     ButtonSpec("identity.button.reject", "rejectlink", str(number))])
    if not told:
        del requests["open"][str(number)]
        await _save(ctx, REQUESTS, requests)
        await ctx.tell(joiner.id, "identity.no_admin", roles=roles_text(await ctx.language_of(
            joiner.id), roles))
        await ctx.reply("identity.no_admin", roles=roles_text(ctx.lang, roles))
        return
    await _save(ctx, REQUESTS, requests)
    await ctx.tell(joiner.id, "identity.waiting_admin", number=number, days=ADMIN_DAYS,
                   roles=roles_text(await ctx.language_of(joiner.id), roles))
    await ctx.reply("identity.waiting_admin", number=number, days=ADMIN_DAYS,
                    roles=roles_text(ctx.lang, roles))


@approve_link.handle
async def approve(ctx: Context) -> None:
    """An admin approves a link that carries a role: now the two accounts become one."""
    requests, request = await _waiting_for_admin(ctx, "approvelink")
    number = request["id"]
    joiner = await _still_there(ctx, request)
    owner = await ctx.tx.people.get(request["owner"])
    if joiner is None or owner is None:
        del requests["open"][str(number)]
        await _save(ctx, REQUESTS, requests)
        await ctx.reply("identity.request_gone")
        return
    await ctx.record("person.link_approved", f"person:{owner.id}", f"request {number}")
    await ctx.tell(owner.id, "identity.bound")
    await ctx.tell(joiner.id, "identity.bound")
    await ctx.reply("identity.approved", number=number, owner=owner.name, joiner=joiner.name)
    await _merge(ctx, requests, request)


@reject_link.handle
async def reject(ctx: Context) -> None:
    """An admin says no: the two accounts stay apart, and both hear it."""
    requests, request = await _waiting_for_admin(ctx, "rejectlink")
    number = request["id"]
    del requests["open"][str(number)]
    await _save(ctx, REQUESTS, requests)
    await ctx.record("person.link_rejected", f"person:{request['owner']}", f"request {number}")
    for person in (request["owner"], request["joiner"]):
        await ctx.tell(person, "identity.rejected_told", number=number)
    await ctx.reply("identity.rejected", number=number)


async def _waiting_for_admin(ctx: Context, command: str) -> tuple[dict, dict]:
    number = ctx.number_in("identity", command)
    requests = await _requests(ctx)
    request = requests["open"].get(str(number))
    if request is None or request["stage"] != "admin" or request["expires"] <= ctx.ts:
        raise Refusal("identity.no_request", number=number)
    return requests, request


async def _still_there(notifier: Notifier, request: dict):
    """The joiner, if the account that typed the code still is that person (and not the owner)."""
    person = await notifier.tx.people.by_identity(request["platform"], request["external"])
    if person is None or person.id != request["joiner"] or person.id == request["owner"]:
        return None
    return person


async def _merge(ctx: Context, requests: dict, request: dict) -> None:
    """Make the two one: into the person listed in the config, if one is, else into the owner."""
    owner = await ctx.tx.people.get(request["owner"])
    joiner = await ctx.tx.people.get(request["joiner"])
    into, away = (joiner, owner) if joiner.key and not owner.key else (owner, joiner)
    await ctx.tx.people.merge(away.id, into.id)
    await ctx.tx.identities.link(request["platform"], request["external"], into.id, None)
    await ctx.record("person.bind", f"person:{into.id}", f"person:{away.id} via request {request['id']}")
    # what was pending for the account that is gone is gone with it
    requests["open"] = {n: r for n, r in requests["open"].items()
                        if r["id"] != request["id"] and away.id not in (r["owner"], r["joiner"])}
    await _save(ctx, REQUESTS, requests)
    codes = await _codes(ctx)
    await _save(ctx, CODES, {c: v for c, v in codes.items() if v["owner"] != away.id})


# --- requests nobody answered -------------------------------------------------------------------
@router.sweep("identity.expire")
async def expire_requests(core, now: datetime) -> None:
    """A request unconfirmed in 10 minutes, or unapproved in 3 days, lapses; who waited is told."""
    ts = now.timestamp()
    async with core.db.read() as tx:
        raw = await tx.kv.get(REQUESTS)
    if not raw or not _any_expired(raw, ts):
        return
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        requests = await _requests(notifier)
        for number, request in list(requests["open"].items()):
            if request["expires"] > ts:
                continue
            del requests["open"][number]
            if request["stage"] == "owner":
                await notifier.tell(request["joiner"], "identity.expired", minutes=CONFIRM_MINUTES)
            else:
                for person in (request["owner"], request["joiner"]):
                    await notifier.tell(person, "identity.expired_admin", number=request["id"],
                                        days=ADMIN_DAYS)
            await notifier.audit(None, None, "person.link_expired", f"person:{request['owner']}",
                                 f"request {number} ({request['stage']})")
        await _save(notifier, REQUESTS, requests)


def _any_expired(raw: str, ts: float) -> bool:
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    open_requests = value.get("open", {}) if isinstance(value, dict) else {}
    return any(r.get("expires", 0) <= ts for r in open_requests.values())

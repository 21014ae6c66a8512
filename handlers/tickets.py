"""Repair reports (报修/报事): 件件有回音、事事有着落、人人有答复.

A resident says ``报修 3栋电梯坏了`` in a group.  The group gets a short acknowledgement (number,
building, category, who was told — never a unit or a phone number); the building's captain gets a
private task ping with the full report and buttons; with no captain, property does.  The captain
moves it along: 受理 → 处理中 → 已解决 (or 驳回).  Every step is told privately to the reporter and
to everyone following (同问).  The reporter confirms (确认) or reopens (未解决).  Tickets not
acknowledged within the waking-hours window escalate to property, then to the committee and the
admin; resolved tickets nobody confirms close themselves after a few days.  Both run as sweeps
derived from the database, so a restart loses none.

A report may name a common area instead of a building (``报修 小区东门路灯坏了``; ``[areas]`` in the
config): it is filed for that area, shown by the area's name wherever a building would be, and goes to
whoever answers for the area (property by default).  A building named as one (3栋, B3) wins over an
area; a bare number (1号门, 3路) names no building.  A report that says someone is trapped, water is
pouring, something burns or smells of gas, or someone is hurt is urgent: property and the building's
captains (or the area's people) are pinged at once, whatever the hour; it escalates after
``[tickets] urgent_ack_within`` of real time (default 30 minutes), and the receipt says to call
119 / 120 for fire, gas or injury.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from functools import lru_cache

from rapidfuzz import fuzz

from bot.categories import category_of as categorize
from bot.commands import Router
from bot.context import ButtonSpec, Context, Gather, Mention, Notifier, Refusal
from bot.format import format_moment, format_span, join, name_range
from bot.i18n import t
from bot.messages import Attachment
from bot.parser import leading_number
from bot.quotes import ticket_in_question
from bot.timeutil import add_waking_time
from storage.tickets import Nearby, Ticket

# What makes a report urgent (besides ``[tickets] urgent_words``): someone trapped, water pouring,
# fire or smoke, gas, sparks, someone hurt.  Not when negated ("没有漏水", "不是着火").
URGENT_WORDS = ("困人", "被困", "困住", "困在", "关在电梯", "出不来", "漏水", "淹了", "水淹", "被淹",
                "水漫", "着火", "起火", "失火", "火灾", "冒烟", "浓烟", "黑烟", "燃气味", "煤气味",
                "天然气味", "燃气泄漏", "煤气泄漏", "漏气", "冒火花", "打火花", "晕倒", "昏倒", "昏迷",
                "受伤", "流血", "摔伤", "砸伤", "砸到人")
_URGENT_LATIN = re.compile(
    r"\b(?:trapped|stuck in the (?:lift|elevator)|flood(?:ed|ing)?|(?:on )?fire(?!\s*(?:door|exit|"
    r"escape|drill|extinguisher|alarm test|hydrant))|smoke|smell(?:s)? of gas|gas (?:smell|leak)|"
    r"sparks?|sparking|fainted|collapsed|injured|bleeding|leak(?:s|ing)?)\b", re.IGNORECASE)
_NEGATION = re.compile(r"(?:没有?|没人|无人|不是|不会|并没|未|无|别|防)$|\b(?:no|not|never)\s+$",
                       re.IGNORECASE)

# 报修 匿名 … / /report --anonymous …: the reporter hidden from captains, groups, other residents
_ANONYMOUS = re.compile(r"^\s*(?:[【\[(（]\s*匿名\s*[】\])）]|匿名(?=[\s,，:：、]|$)|--?anonymous\b|"
                        r"anonymous(?:ly)?(?=[\s,:]|$))[\s,，:：、]*", re.IGNORECASE)
STAFF = ("captain", "property", "admin")
ASK_AGAIN_AFTER = 3600  # seconds before a reporter who never said which building is asked again
# Which status may follow which, and the timestamp each move sets.
MOVES = {
    "acknowledged": ("open",),
    "in_progress": ("open", "acknowledged"),
    "resolved": ("open", "acknowledged", "in_progress"),
    "rejected": ("open", "acknowledged", "in_progress"),
}


# --- commands -----------------------------------------------------------------------------------
router = Router("tickets")
report = router.command("report", zh=["报修", "报事", "投诉"], en=["report"], group="tickets")
mine = router.command("mine", zh=["我的报修", "我的报事"], en=["mine", "mytickets"], group="tickets")
show = router.command("ticket", zh=["进度", "查看"], en=["ticket", "status"], needs_number=True,
                  group="tickets")
metoo = router.command("metoo", zh=["同问", "+1"], en=["metoo", "follow"], needs_number=True,
                   group="tickets")
ack = router.command("ack", zh=["受理"], en=["ack"], roles=STAFF, needs_number=True, group="staff")
progress = router.command("progress", zh=["处理中"], en=["progress"], roles=STAFF, needs_number=True,
                      group="staff")
resolve = router.command("resolve", zh=["已解决", "已处理"], en=["resolve", "resolved"], roles=STAFF,
                     needs_number=True, group="staff")
reject = router.command("reject", zh=["驳回"], en=["reject"], roles=STAFF, needs_number=True,
                    group="staff")
confirm = router.command("confirm", zh=["确认"], en=["confirm"], needs_number=True, group="tickets")
reopen = router.command("reopen", zh=["未解决", "没解决", "重开"], en=["reopen"], needs_number=True,
                    group="tickets")
open_list = router.command("open", zh=["待办", "待处理"], en=["open", "todo"],
                       roles=("captain", "property", "committee", "admin"), group="staff")


@report.handle
async def file_report(ctx: Context) -> None:
    """A resident reports a problem: open a ticket and tell whoever looks after the building."""
    text = ctx.args.strip()
    anonymous = _ANONYMOUS.match(text)
    text = text[anonymous.end():] if anonymous else text
    if not _has_content(text):
        raise Refusal("tickets.usage.report")
    limit = ctx.config.tickets.max_report_length
    cut = len(text) > limit
    if cut:
        text = text[:limit]
    category = category_of(text, ctx.config.category_list())
    urgent = is_urgent(text, ctx.config.tickets.urgent_words)
    # a building named as one (3栋, B3) wins; else a common area named (东门); else the group's or
    # the reporter's building.  A bare number (1号门, 3路) is no building.
    building = ctx.core.find_building(text)
    area = None if building else ctx.core.find_area(text)
    building_key = building.key if building else (
        None if area else (ctx.chat_building or ctx.person.building))
    # acknowledged, so accountable from now: the clock starts with the report (with or without a
    # building: a report waiting for "which building?" is in property's and the office's 待办)
    due = ack_deadline(ctx, ctx.now, urgent)
    ticket = await ctx.tx.tickets.create(
        building=building_key, category=category, text=text,
        status="open", reporter_id=ctx.person.id,
        platform=ctx.msg.platform, chat_id=ctx.msg.chat_id, chat_key=ctx.chat_key,
        now=ctx.ts, escalate_at=due.timestamp(), area=area.key if area else None, urgent=urgent,
        anonymous=anonymous is not None)
    await ctx.tx.tickets.add_event(ticket.id, ctx.ts, None if anonymous else ctx.person.id,
                                   "reported", "", ctx.msg.platform)
    await ctx.record("ticket.report", f"ticket:{ticket.id}", category)
    await keep_attachments(ctx, ticket.id)
    if cut:
        await ctx.reply("tickets.cut", limit=limit)
    if building_key is None and area is None:
        # the building unknown: the reporter is asked once more later, and property's after the
        # window
        if urgent:  # property hears of it now, not once the building is known
            handlers, _ = await responders(ctx, ticket)
            for person_id in handlers:
                await ping(ctx, person_id, ticket, "tickets.ping.new")
            await ctx.tx.kv.put(_URGENT_TOLD.format(ticket.id), ",".join(map(str, handlers)))
        await ctx.ask("tickets.building", {"ticket": ticket.id}, minutes=60)
        await ctx.reply("tickets.which_building", number=ticket.id)
        if urgent:
            await ctx.reply("tickets.urgent_call")
        return
    await open_ticket(ctx, ticket)


@router.reply("tickets.building")
async def building_given(ctx: Context) -> None:
    """The reporter answers "which building?" with a building name: the draft becomes a ticket."""
    building = ctx.core.building_named(ctx.msg.text) or ctx.core.find_building(ctx.msg.text)
    if building is None:
        if ctx.in_group:
            return  # ordinary chatter in the group: keep waiting, stay quiet
        draft = await ctx.tx.tickets.draft_of(ctx.person.id)
        if not ctx.msg.text.strip() and draft is not None:  # an empty message: ask again, plainly
            raise Refusal("tickets.which_building_again", number=draft.id)
        raise Refusal("tickets.unknown_building", name=ctx.msg.text[:20],
                      buildings=building_range(ctx))
    draft = await ctx.tx.tickets.draft_of(ctx.person.id)
    await ctx.done_asking()
    if draft is None:
        return
    ticket = await ctx.tx.tickets.update(draft.id, ctx.ts, building=building.key, status="open")
    await open_ticket(ctx, ticket)


@router.on("report.requested")
async def report_in_plain_words(ctx: Context, text: str) -> None:
    """A report written in plain words, confirmed (是) or said to the bot: filed as 报修 would."""
    ctx.args = text
    await file_report(ctx)


@router.on("resident.registered")
async def draft_finds_its_building(ctx: Context, building: str) -> None:
    """A resident registered while a report of theirs waited for "which building?": file it."""
    draft = await ctx.tx.tickets.draft_of(ctx.person.id)
    if draft is None:
        return
    await ctx.done_asking()
    ticket = await ctx.tx.tickets.update(draft.id, ctx.ts, building=building)
    await open_ticket(ctx, ticket)


async def open_ticket(ctx: Context, ticket: Ticket) -> None:
    """Start the clock on a ticket, ping its handlers and acknowledge it where it was reported."""
    due = ack_deadline(ctx, ctx.now, ticket.urgent)
    if (ticket.status, ticket.awaiting_since, ticket.escalate_at) != ("open", ctx.ts, due.timestamp()):
        ticket = await ctx.tx.tickets.update(ticket.id, ctx.ts, status="open", awaiting_since=ctx.ts,
                                             escalate_at=due.timestamp())
    handlers, told = await responders(ctx, ticket)
    already = await ctx.tx.kv.get(_URGENT_TOLD.format(ticket.id)) if ticket.urgent else None
    pinged = {int(i) for i in already.split(",") if i} if already else set()
    for person_id in handlers:
        if person_id not in pinged:  # an urgent report's property, told before its building was
            await ping(ctx, person_id, ticket, "tickets.ping.new")
    values = dict(number=ticket.id, building=place_name(ctx, ticket, ctx.lang),
                  category=ctx.config.category_name(ticket.category, ctx.lang),
                  told=told(ctx.lang),
                  due=format_moment(due, ctx.lang),
                  urgent="\n" + ctx.t("tickets.urgent_call") if ticket.urgent else "")
    similar = similar_report(ticket, await ctx.tx.tickets.open_near(ticket.building, ticket.area,
                                                                    ticket.id))
    if ticket.anonymous:  # the group's receipt does not mention the reporter
        await anonymous_receipt(ctx, ticket, values, similar)
        return
    hint = [("tickets.similar", {"other": similar.id})] if similar is not None else []
    await ctx.reply_quietly("tickets.acknowledged", ref=f"ticket:{ticket.id}", more=hint, **values)


async def anonymous_receipt(ctx: Context, ticket: Ticket, values: dict, similar: Nearby | None):
    """An anonymous report's receipt: in a group, with nobody mentioned; privately, what stays
    hidden from whom, and the hint of a similar report."""
    if ctx.in_group:
        await ctx.reply("anonymous.acknowledged", ref=f"ticket:{ticket.id}", mention=Mention(()),
                        **values)
    else:
        await ctx.reply("tickets.acknowledged", ref=f"ticket:{ticket.id}", **values)
    await ctx.reply_private("anonymous.private_receipt", number=ticket.id)
    if ctx.in_group:
        await ctx.reply_private("anonymous.group_hint")
    if similar is not None:
        await ctx.reply_private("tickets.similar", other=similar.id)


@mine.handle
async def my_tickets(ctx: Context) -> None:
    """A resident asks for their own tickets and where each one stands."""
    tickets = await ctx.tx.tickets.of_reporter(ctx.person.id, limit=10)
    if not tickets:
        await ctx.reply_personal("tickets.mine_none")
        return
    lines = [ctx.t("tickets.mine_header", count=len(tickets))]
    lines += [await summary_line(ctx, ticket) for ticket in tickets]
    if ctx.in_group and any(ticket.anonymous for ticket in tickets):  # the group must not see whose
        await ctx.tell_text(ctx.person.id, "\n".join(lines), key="tickets.mine_header")
        return
    await ctx.reply_personal_text("\n".join(lines), key="tickets.mine_header")


@show.handle
async def show_ticket(ctx: Context) -> None:
    """Anyone asks how #N is going: its status and history (private details only where allowed)."""
    ticket = await ticket_from_args(ctx, "ticket")
    full = not ctx.in_group and (ticket.reporter_id == ctx.person.id or ctx.core.sees_private(
        ctx.roles, ticket.building, anonymous=bool(ticket.anonymous)))
    lines = [ctx.t("tickets.show_header", number=ticket.id,
                   building=place_name(ctx, ticket, ctx.lang),
                   category=ctx.config.category_name(ticket.category, ctx.lang),
                   status=ctx.t(f"tickets.status.{ticket.status}"),
                   urgent=urgent_mark(ticket, ctx.lang)),
             ctx.t("tickets.show_text", text=await visible(ctx, ticket.text, full))]
    if full:
        reporter = await ctx.tx.people.get(ticket.reporter_id)
        if reporter and reporter.unit:
            lines.append(ctx.t("tickets.show_unit", unit=reporter.unit))
    if ticket.duplicate_of:
        lines.append(ctx.t("tickets.show_duplicate", other=ticket.duplicate_of))
    for event in await ctx.tx.tickets.events(ticket.id):
        moment = datetime.fromtimestamp(event.at, ctx.config.tz)
        note = await visible(ctx, event.note, full) if event.note else ""
        if event.action == "escalated" and note:  # stored as role keys: "committee/admin"
            note = role_names(note.split("/"), ctx.lang)
        lines.append(ctx.t("tickets.show_event", when=format_moment(moment, ctx.lang),
                           action=ctx.t(f"tickets.action.{event.action}"),
                           note=f"：{note}" if note and ctx.lang == "zh" else
                           (f": {note}" if note else "")))
    await ctx.reply_text("\n".join(lines), key="tickets.show_header")


@metoo.handle
async def follow_ticket(ctx: Context) -> None:
    """A neighbour has the same problem: follow #N and hear every update.  Without a number: the
    ticket whose receipt the message quotes, or the report made in this group just before."""
    if leading_number(ctx.args) is None:
        number = await ticket_in_question(ctx.tx, ctx.msg, ctx.ts)
        if number is not None:
            ctx.args = f"{number} {ctx.args}".strip()
    ticket = await ticket_from_args(ctx, "metoo")
    if ticket.reporter_id == ctx.person.id:
        if ticket.anonymous:  # said in a group, this would tell who reported it
            await ctx.reply_private("tickets.follow_own", number=ticket.id)
            return
        raise Refusal("tickets.follow_own", number=ticket.id)
    if ticket.status in ("closed", "rejected"):
        raise Refusal("tickets.follow_closed", number=ticket.id,
                      status=ctx.t(f"tickets.status.{ticket.status}"))
    if not await ctx.tx.tickets.follow(ticket.id, ctx.person.id, ctx.ts):
        raise Refusal("tickets.follow_again", number=ticket.id)
    await ctx.tx.tickets.add_event(ticket.id, ctx.ts, ctx.person.id, "followed", "",
                                   ctx.msg.platform)
    await ctx.record("ticket.follow", f"ticket:{ticket.id}")
    count = len(await ctx.tx.tickets.followers(ticket.id)) + 1
    await ctx.reply("tickets.following", number=ticket.id, count=count,
                    name=await ctx.display_name(ctx.person),
                    gather=Gather(f"ticket:{ticket.id}:following", "quiet.following_many"))


@ack.handle
async def acknowledge(ctx: Context) -> None:
    """A captain takes a ticket on (受理)."""
    await move(ctx, "acknowledged", "ack")


@progress.handle
async def in_progress(ctx: Context) -> None:
    """A captain says work on the ticket has started (处理中)."""
    await move(ctx, "in_progress", "progress")


@resolve.handle
async def resolved(ctx: Context) -> None:
    """A captain says the problem is fixed (已解决); the reporter is asked to confirm."""
    await move(ctx, "resolved", "resolve")


@reject.handle
async def rejected(ctx: Context) -> None:
    """A captain turns a ticket down, with a reason (驳回); "duplicate of #M" links the two."""
    ticket = await ticket_from_args(ctx, "reject")
    if not may_handle(ctx, ticket):  # before asking why: an outsider is refused, not questioned
        raise not_your_building(ctx, ticket)
    if ticket.status not in MOVES["rejected"]:
        raise Refusal("tickets.cannot_move", number=ticket.id,
                      status=ctx.t(f"tickets.status.{ticket.status}"),
                      target=ctx.t("tickets.status.rejected"))
    if not _has_content(note_of(ctx.args)):
        await ctx.ask("tickets.reject_reason", {"ticket": ticket.id}, minutes=30)
        await ctx.reply("tickets.reject_why", number=ticket.id)
        return
    await move(ctx, "rejected", "reject")


@router.reply("tickets.reject_reason")
async def reject_reason_given(ctx: Context) -> None:
    """The captain answers "why?" after pressing 驳回: reject with that reason."""
    prompt = await ctx.tx.prompts.pending(ctx.person.id, ctx.msg.platform, ctx.msg.chat_id, ctx.ts)
    await ctx.done_asking()
    ctx.args = f"{prompt.payload['ticket']} {ctx.msg.text}"
    await move(ctx, "rejected", "reject")


@confirm.handle
async def confirmed(ctx: Context) -> None:
    """The reporter says the problem really is fixed (确认): the ticket closes."""
    waiting = await ctx.tx.tickets.awaiting_confirmation(ctx.person.id) if not ctx.args.strip() \
        else []
    if len(waiting) == 1:  # "确认" alone, and exactly one fix waits for this reporter
        ctx.args = str(waiting[0].id)
    ticket = await ticket_from_args(ctx, "confirm")
    if ticket.reporter_id != ctx.person.id:
        raise Refusal("tickets.only_reporter", audit="denied", target=f"ticket:{ticket.id}",
                      number=ticket.id)
    if ticket.status != "resolved":
        raise Refusal("tickets.cannot_confirm", number=ticket.id,
                      status=ctx.t(f"tickets.status.{ticket.status}"))
    await ctx.tx.tickets.update(ticket.id, ctx.ts, status="closed", closed_at=ctx.ts,
                                close_at=None)
    await ctx.tx.tickets.add_event(ticket.id, ctx.ts, ctx.person.id, "confirmed", "",
                                   ctx.msg.platform)
    await ctx.record("ticket.confirm", f"ticket:{ticket.id}")
    for person_id in await ctx.tx.tickets.followers(ticket.id):
        await ctx.tell(person_id, "tickets.update.closed", ref=f"ticket:{ticket.id}",
                       number=ticket.id)
    answer = ctx.reply_private if ticket.anonymous else ctx.reply  # only its reporter confirms
    await answer("tickets.thanks_confirm", number=ticket.id)
    await ctx.emit("ticket.closed", ticket=ticket.id)  # handlers/satisfaction.py asks for a rating


@reopen.handle
async def reopened(ctx: Context) -> None:
    """The reporter or a follower says it is not fixed (未解决): back to open, captain pinged."""
    ticket = await ticket_from_args(ctx, "reopen")
    followers = await ctx.tx.tickets.followers(ticket.id)
    if ctx.person.id != ticket.reporter_id and ctx.person.id not in followers:
        raise Refusal("tickets.only_reporter_or_follower", audit="denied",
                      target=f"ticket:{ticket.id}", number=ticket.id)
    if ticket.status not in ("resolved", "closed"):
        raise Refusal("tickets.cannot_reopen", number=ticket.id,
                      status=ctx.t(f"tickets.status.{ticket.status}"))
    why = note_of(ctx.args)
    due = ack_deadline(ctx, ctx.now, ticket.urgent)
    ticket = await ctx.tx.tickets.update(
        ticket.id, ctx.ts, status="open", awaiting_since=ctx.ts, escalate_at=due.timestamp(),
        escalation_level=0, close_at=None, closed_at=None, reopen_count=ticket.reopen_count + 1)
    await ctx.tx.tickets.add_event(ticket.id, ctx.ts, ctx.person.id, "reopened", why,
                                   ctx.msg.platform)
    await ctx.record("ticket.reopen", f"ticket:{ticket.id}", why)
    handlers, _ = await responders(ctx, ticket)
    for person_id in handlers:
        await ping(ctx, person_id, ticket, "tickets.ping.reopened", why=why or "-")
    for person_id in {ticket.reporter_id, *followers} - {ctx.person.id}:
        await ctx.tell(person_id, "tickets.update.reopened", ref=f"ticket:{ticket.id}",
                       number=ticket.id, note=why or "-")
    answer = ctx.reply_private if ticket.anonymous and ctx.person.id == ticket.reporter_id \
        else ctx.reply
    await answer("tickets.reopened", number=ticket.id)


@open_list.handle
async def open_tickets(ctx: Context) -> None:
    """Staff ask what is still open (their buildings, or one building), oldest first."""
    arg = ctx.args.strip()
    areas: list[str] = []
    if arg:
        building = ctx.core.building_named(arg) or ctx.core.find_building(arg)
        area = None if building else (ctx.core.area_named(arg) or ctx.core.find_area(arg))
        if building is None and area is None:
            raise Refusal("tickets.unknown_building", name=arg[:20], buildings=building_range(ctx))
        buildings = [building.key] if building else []
        areas = [area.key] if area else []
    elif any(ctx.has_role(r) for r in ("property", "committee")) or "admin" in ctx.roles:
        buildings = None
    else:
        buildings = [r.split(":", 1)[1] for r in ctx.roles if r.startswith("captain:")]
        areas = [a.key for a in ctx.core.areas if ctx.person.key in ctx.core.area_answerers(a)]
    tickets = await ctx.tx.tickets.open_in(buildings, limit=20, areas=areas)
    if not tickets:
        await ctx.reply("tickets.open_none")
        return
    total = await ctx.tx.tickets.count_open(buildings, areas=areas)
    lines = [ctx.t("tickets.open_header", count=total, shown=len(tickets))]
    lines += [await summary_line(ctx, ticket, age=True) for ticket in tickets]
    await ctx.reply_text("\n".join(lines), key="tickets.open_header")


@router.reply("attachment")
async def photo_after_report(ctx: Context) -> None:
    """A photo sent soon after a report by the same person is added to that ticket."""
    ticket = await ctx.tx.tickets.latest_of_reporter_since(ctx.person.id, ctx.ts - 600)
    if ticket is None:
        return
    kept = await keep_attachments(ctx, ticket.id)
    if not kept:
        return  # a file that was no photo: keep_attachments said so
    handlers, _ = await responders(ctx, ticket)
    for person_id in handlers:
        await ctx.tell(person_id, "tickets.photo_added", ref=f"ticket:{ticket.id}",
                       number=ticket.id, attachments=kept)
    await ctx.reply("tickets.photo_attached", number=ticket.id)


async def keep_attachments(ctx: Context, ticket_id: int, stage: str = "report") -> list[Attachment]:
    """Record on a ticket the files a message carries (a photo kept in the media folder by its
    stored name as well); a file that was not kept — no picture, or too big — gets a reply that
    says what to send instead, and is left out.  Returns what was attached, ready to pass on."""
    kept = []
    for attachment in ctx.msg.attachments:
        if attachment.problem:
            media = ctx.core.media
            await ctx.reply(f"media.{attachment.problem}", limit=media.max_mb if media else 10)
            continue
        await ctx.tx.tickets.attach(ticket_id, ctx.msg.platform, attachment.kind,
                                    attachment.file_id, ctx.ts, media=attachment.media, stage=stage)
        kept.append(Attachment(kind=attachment.kind, file_id=attachment.file_id,
                               media=attachment.media, origin=attachment.origin or ctx.msg.platform))
    return kept


# --- the lifecycle ------------------------------------------------------------------------------
async def move(ctx: Context, status: str, command: str) -> None:
    """Move a ticket to ``status`` for a member of staff, and tell everyone who follows it."""
    ticket = await ticket_from_args(ctx, command)
    if not may_handle(ctx, ticket):
        raise not_your_building(ctx, ticket)
    if ticket.status not in MOVES[status]:
        raise Refusal("tickets.cannot_move", number=ticket.id,
                      status=ctx.t(f"tickets.status.{ticket.status}"),
                      target=ctx.t(f"tickets.status.{status}"))
    note = note_of(ctx.args)
    fields: dict[str, object] = {"status": status, "escalate_at": None}
    if status in ("acknowledged", "in_progress") and ticket.acknowledged_at is None:
        fields["acknowledged_at"] = ctx.ts
    if status == "resolved":
        fields |= {"resolved_at": ctx.ts,
                   "close_at": (ctx.now + ctx.config.tickets.auto_close_after).timestamp()}
    if status == "rejected":
        fields |= {"closed_at": ctx.ts, "duplicate_of": await duplicate_named(ctx, note, ticket)}
    ticket = await ctx.tx.tickets.update(ticket.id, ctx.ts, **fields)
    await ctx.tx.tickets.add_event(ticket.id, ctx.ts, ctx.person.id, status, note,
                                   ctx.msg.platform)
    await ctx.record(f"ticket.{command}", f"ticket:{ticket.id}", note)
    # a photo sent with 已解决 (a caption, or the board's upload) is the "after" photo
    after = await keep_attachments(ctx, ticket.id, stage="after") if status == "resolved" else []
    told = await tell_followers(ctx, ticket, f"tickets.update.{status}", note=note or "-",
                                who=ctx.person.name, attachments=after)
    await ctx.reply("tickets.moved", number=ticket.id, status=ctx.t(f"tickets.status.{status}"),
                    count=told)


async def tell_followers(ctx: Notifier, ticket: Ticket, key: str,
                         attachments: list[Attachment] | tuple = (), **values: object) -> int:
    """Tell the reporter and every follower (with ``attachments``: the "after" photo); the
    reporter of a resolved ticket gets buttons."""
    recipients = [ticket.reporter_id, *await ctx.tx.tickets.followers(ticket.id)]
    for person_id in recipients:
        buttons = ()
        if ticket.status == "resolved":
            buttons = ((ButtonSpec("tickets.button.confirm", "confirm", str(ticket.id)),)
                       if person_id == ticket.reporter_id else ()) + (
                ButtonSpec("tickets.button.reopen", "reopen", str(ticket.id)),)
        await ctx.tell(person_id, key, ref=f"ticket:{ticket.id}", buttons=buttons,
                       attachments=attachments, number=ticket.id, **values)
    return len(recipients)


async def duplicate_named(ctx: Context, note: str, ticket: Ticket) -> int | None:
    """If a rejection says "duplicate of #M" (重复 #M), link the tickets; followers move to #M."""
    match = re.search(r"(?:重复|同|duplicate|dup|same as)\D{0,6}[#＃]?\s*([0-9０-９]+)", note,
                      re.IGNORECASE) or re.search(r"[#＃]\s*([0-9０-９]+)", note)
    if not match:
        return None
    number = leading_number(match.group(1))
    other = await ctx.tx.tickets.get(number or 0)
    if other is not None and other.id == ticket.id:
        raise Refusal("tickets.duplicate_of_itself", number=ticket.id)
    if other is None:
        raise Refusal("tickets.duplicate_unknown", number=ticket.id,
                      other=number if number is not None else "?")
    for person_id in {ticket.reporter_id, *await ctx.tx.tickets.followers(ticket.id)}:
        if person_id != other.reporter_id:
            await ctx.tx.tickets.follow(other.id, person_id, ctx.ts)
    return other.id


def not_your_building(ctx: Context, ticket: Ticket) -> Refusal:
    """A member of staff asked to move a ticket of a building they do not look after: refuse,
    naming the people who can (its captains, else property)."""
    keys = ctx.core.people_with_role(f"captain:{ticket.building}") if ticket.building else []
    area = ctx.core.area(ticket.area)
    keys += ctx.core.area_answerers(area) if area else []
    keys += [k for k in ctx.core.people_with_role("property") if k not in keys]
    names = [ctx.config.people[k].name or k for k in keys] or [
        ctx.core.describe_roles(STAFF, ctx.lang)]
    return Refusal("tickets.not_your_building", audit="denied", target=f"ticket:{ticket.id}",
                   number=ticket.id, who=join(ctx.lang, names))


def may_handle(ctx: Context, ticket: Ticket) -> bool:
    area = ctx.core.area(ticket.area)
    return (ctx.has_role("property") or
            (ticket.building is not None and ctx.has_role("captain", ticket.building)) or
            (area is not None and ctx.person.key is not None and
             ctx.person.key in ctx.core.area_answerers(area)))


async def ticket_from_args(ctx: Context, command: str) -> Ticket:
    """The ticket a command names by number, or a refusal saying how to name one."""
    number = ctx.number_in("tickets", command)
    ticket = await ctx.tx.tickets.get(number)
    if ticket is None or ticket.status == "draft":
        raise Refusal("tickets.not_found", number=number)
    return ticket


def similar_report(ticket: Ticket, others: list[Nearby]) -> Nearby | None:
    """The open report of someone else that says what ``ticket`` says (so 同问 it), or None: the
    texts compared as character pairs (rapidfuzz's token-set ratio), building numbers aside; the same
    category asks for less likeness than another."""
    mine = _gist(ticket.text)
    best: tuple[float, Nearby] | None = None
    for other in others:
        if other.reporter_id == ticket.reporter_id:
            continue  # never one's own ticket
        score = fuzz.token_set_ratio(mine, _gist(other.text))
        if score >= (SIMILAR_SAME if other.category == ticket.category else SIMILAR_OTHER) and \
                (best is None or score > best[0]):
            best = (score, other)
    return best[1] if best else None


SIMILAR_SAME, SIMILAR_OTHER = 50.0, 70.0  # token-set ratio (0–100) of the character pairs


@lru_cache(maxsize=4096)  # the same open reports are compared with every new one
def _gist(text: str) -> str:
    """A report's words as character pairs, without numbers, building words and punctuation."""
    text = re.sub(r"[\d#＃]+\s*(?:栋|座|号楼|幢|单元|号|楼|层)?|@\S+|[^\w]", " ", text.lower())
    pairs = [chunk[i:i + 2] for chunk in text.split() for i in range(max(1, len(chunk) - 1))]
    return " ".join(pairs)


def note_of(args: str) -> str:
    """What follows the ticket number in ``受理 12 明天来修``."""
    return re.sub(r"^\s*[#＃]?\s*[0-9０-９]+\s*", "", args, count=1).strip()


def category_of(text: str, categories: tuple | None = None) -> str:
    """The category a #tag names, else the first whose words appear (``[categories]``; the defaults
    live in bot/categories.py)."""
    return categorize(text, categories)


def ack_deadline(ctx: Notifier, start: datetime, urgent: bool | int = False) -> datetime:
    """When a ticket must be acknowledged: within waking hours, or — urgent — in real time."""
    settings = ctx.config.tickets
    if urgent:
        return start + settings.urgent_ack_within
    return add_waking_time(start, settings.ack_within, settings.waking_hours)


def is_urgent(text: str, extra: list[str] | tuple[str, ...] = ()) -> bool:
    """Whether a report says someone is trapped, water is pouring, something burns, gas, sparks or
    someone hurt (``URGENT_WORDS``, ``[tickets] urgent_words``), and not in the negative."""
    lowered = text.lower()
    for word in (*URGENT_WORDS, *(w.lower() for w in extra if w.strip())):
        start = lowered.find(word)
        while start >= 0:
            if not _NEGATION.search(lowered[max(0, start - 4):start]):
                return True
            start = lowered.find(word, start + 1)
    return any(not _NEGATION.search(lowered[max(0, m.start() - 6):m.start()])
               for m in _URGENT_LATIN.finditer(lowered))


_URGENT_TOLD = "ticket:{}:urgent-told"  # who an urgent report without a building was pinged to


def _first_keys(ctx: Notifier, ticket: Ticket) -> tuple[str, list[str]]:
    """Who normally hears of a ticket first: the area's people, else the building's captains,
    else property, else the admin — with the role that names them ("" for an area's people)."""
    area = ctx.core.area(ticket.area)
    if area is not None:
        keys = ctx.core.area_answerers(area)
        if keys:
            return "", keys
    elif ticket.building:
        keys = ctx.core.people_with_role(f"captain:{ticket.building}")
        if keys:
            return "captain", keys
    keys = ctx.core.people_with_role("property")
    if keys:
        return "property", keys
    return "admin", ctx.core.people_with_role("admin")


async def responders(ctx: Notifier, ticket: Ticket):
    """Who a ticket goes to (an area's people; the building's captains, else property), and a way
    to name them.  An urgent ticket goes to property as well, at once."""
    role, keys = _first_keys(ctx, ticket)
    groups: list[tuple[str, list[str]]] = [(role, keys)]
    if ticket.urgent:
        extra = [k for k in ctx.core.people_with_role("property") if k not in keys]
        if extra:
            groups.append(("property", extra))
    ids = await ctx.core.person_ids(ctx.tx, [k for _, group in groups for k in group])

    def told(lang: str) -> str:
        parts = []
        for group_role, group in groups:
            if group_role:
                names = join(lang, [ctx.config.people[k].name or k for k in group])
                parts.append(f"{t(lang, f'core.one.{group_role}')} {names}")
            else:  # an area's people, each by their own role
                parts += [_named(ctx, k, lang) for k in group]
        return join(lang, parts)

    return ids, told


def _named(ctx: Notifier, key: str, lang: str) -> str:
    """A listed person as "物业 赵经理": their first role in words, then their name."""
    person = ctx.config.people[key]
    bases = [r.split(":", 1)[0] for r in person.roles]
    role = next((r for r in ("property", "captain", "committee", "coordinator", "admin")
                 if r in bases), None)
    name = person.name or key
    return f"{t(lang, f'core.one.{role}')} {name}" if role else name


def property_told_first(ctx: Notifier, ticket: Ticket) -> bool:
    """Whether property heard of the ticket from the start (urgent, an area property answers
    for, a building without captains): its first escalation goes past property."""
    if ticket.urgent:
        return True
    role, keys = _first_keys(ctx, ticket)
    if role == "captain" or (role == "property" and ticket.building is None and
                             ticket.area is None):
        return False  # a building unknown still: property's after the window, as before
    holders = set(ctx.core.people_with_role("property"))
    return role in ("property", "admin") or bool(holders & set(keys))


def place_name(ctx: Notifier, ticket: Ticket, lang: str) -> str:
    """Where a ticket is: its building's name, else its common area's, else "building unknown"."""
    building = ctx.core.building(ticket.building)
    if building is not None:
        return building.name
    area = ctx.core.area(ticket.area)
    if area is not None:
        return area.name
    return ticket.building or ticket.area or t(lang, "tickets.no_building")


def urgent_mark(ticket: Ticket, lang: str) -> str:
    return t(lang, "tickets.urgent_mark") if ticket.urgent else ""


async def ping(ctx: Notifier, person_id: int, ticket: Ticket, key: str,
               waited: timedelta | None = None, **values: object) -> None:
    """A private task ping with the full report and buttons to move the ticket along."""
    reporter = await ctx.tx.people.get(ticket.reporter_id)
    recipient = await ctx.tx.people.get(person_id)
    lang = ctx.core.language_of_person(recipient)
    roles = ctx.core.roles_of(recipient) if recipient is not None else frozenset()
    sees = recipient is not None and ctx.core.sees_private(roles, ticket.building,
                                                           anonymous=bool(ticket.anonymous))
    unit = f" {reporter.unit}" if reporter and reporter.unit and sees else ""
    name = ctx.shown_name(reporter, lang)  # a resident going by a captain's name is marked
    if ticket.anonymous:  # property and the admin know who it was; a captain does not
        name = name + t(lang, "anonymous.marked") if sees else t(lang, "anonymous.reporter")
    text = ticket.text if sees else ctx.core.redactor.redact(ticket.text, t(lang, "core.hidden"))
    attachments = await ctx.tx.tickets.attachments(ticket.id)
    if waited is not None:
        values["waited"] = format_span(waited, lang)
    await ctx.tell(
        person_id, key, ref=f"ticket:{ticket.id}",
        buttons=(ButtonSpec("tickets.button.ack", "ack", str(ticket.id)),
                 ButtonSpec("tickets.button.progress", "progress", str(ticket.id)),
                 ButtonSpec("tickets.button.resolve", "resolve", str(ticket.id)),
                 ButtonSpec("tickets.button.reject", "reject", str(ticket.id))),
        attachments=[Attachment(kind=kind, file_id=file_id, media=media, origin=platform)
                     for platform, kind, file_id, media in attachments],
        number=ticket.id, building=place_name(ctx, ticket, lang), urgent=urgent_mark(ticket, lang),
        category=ctx.config.category_name(ticket.category, lang), text=text,
        reporter=name + unit, **values)


async def visible(ctx: Context, text: str, full: bool) -> str:
    """``text`` as this viewer may see it: in full, or with units and phones hidden."""
    if full:
        return text
    return ctx.core.redactor.redact(text, ctx.t("core.hidden"))


async def summary_line(ctx: Context, ticket: Ticket, age: bool = False) -> str:
    text = await visible(ctx, ticket.text, not ctx.in_group and (
        ticket.reporter_id == ctx.person.id or ctx.core.sees_private(
            ctx.roles, ticket.building, anonymous=bool(ticket.anonymous))))
    short = text if len(text) <= 30 else text[:29] + "…"
    waited = ""
    if age:
        since = datetime.fromtimestamp(ticket.created_at, ctx.config.tz)
        waited = ctx.t("tickets.waited", span=format_span(ctx.now - since, ctx.lang))
    return ctx.t("tickets.summary_line", number=ticket.id, building=place_name(ctx, ticket, ctx.lang),
                 status=ctx.t(f"tickets.status.{ticket.status}"), text=short, waited=waited,
                 urgent=urgent_mark(ticket, ctx.lang))


def building_range(ctx: Context) -> str:
    return name_range([b.name for b in ctx.core.buildings], ctx.lang)


def _has_content(text: str) -> bool:
    return any(ch.isalnum() for ch in text)


# --- sweeps -------------------------------------------------------------------------------------
@router.sweep("tickets.escalate")
async def escalate_unacknowledged(core, now: datetime) -> None:
    """Tickets nobody acknowledged in time go up a level: property, then committee and admin."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for ticket in await tx.tickets.due_escalation(now.timestamp()):
            await escalate(notifier, ticket)


async def escalate(ctx: Notifier, ticket: Ticket) -> None:
    level = ticket.escalation_level + 1
    roles = ["property"] if level == 1 and not property_told_first(ctx, ticket) \
        else ["committee", "admin"]
    keys = [k for role in roles for k in ctx.core.people_with_role(role)]
    again = ctx.config.tickets.escalate_again_after
    next_at = (add_waking_time(ctx.now, again, ctx.config.tickets.waking_hours).timestamp()
               if "property" in roles else None)
    await ctx.tx.tickets.update(ticket.id, ctx.ts, escalation_level=level, escalate_at=next_at)
    await ctx.tx.tickets.add_event(ticket.id, ctx.ts, None, "escalated", "/".join(roles))
    await ctx.audit(None, None, "ticket.escalate", f"ticket:{ticket.id}", ",".join(roles))
    since = datetime.fromtimestamp(ticket.awaiting_since or ticket.created_at, ctx.config.tz)
    for person_id in await ctx.core.person_ids(ctx.tx, keys):
        await ping(ctx, person_id, ticket, "tickets.ping.escalated", waited=ctx.now - since,
                   level=level)
    lang = await ctx.language_of(ticket.reporter_id)
    await ctx.tell(ticket.reporter_id, "tickets.update.escalated", ref=f"ticket:{ticket.id}",
                   number=ticket.id, to=role_names(roles, lang))


def role_names(roles: list[str], lang: str) -> str:
    return join(lang, (t(lang, f"core.role.{r}") for r in roles))


@router.sweep("tickets.ask_building")
async def ask_for_the_building_again(core, now: datetime) -> None:
    """A report still without its building an hour on: its reporter is asked once more."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for ticket in await tx.tickets.without_building(now.timestamp() - ASK_AGAIN_AFTER):
            flag = f"ticket:{ticket.id}:asked-building-again"
            if await tx.kv.get(flag):
                continue
            await tx.kv.put(flag, str(notifier.ts))
            if await notifier.tell(ticket.reporter_id, "tickets.which_building_again",
                                   ref=f"ticket:{ticket.id}", number=ticket.id):
                platform, address = await core.private_address(tx, ticket.reporter_id)
                await tx.prompts.ask(ticket.reporter_id, platform, address, "tickets.building",
                                     {"ticket": ticket.id}, notifier.ts + 86400)


@router.sweep("tickets.autoclose")
async def close_unconfirmed(core, now: datetime) -> None:
    """Resolved tickets the reporter never confirmed close themselves, and the reporter is told."""
    async with core.db.transaction() as tx:
        notifier = Notifier(core, tx, now)
        for ticket in await tx.tickets.due_closing(now.timestamp()):
            await tx.tickets.update(ticket.id, notifier.ts, status="closed",
                                    closed_at=notifier.ts, close_at=None)
            await tx.tickets.add_event(ticket.id, notifier.ts, None, "auto_closed")
            await notifier.audit(None, None, "ticket.autoclose", f"ticket:{ticket.id}")
            days = core.config.tickets.auto_close_after.days or 1
            for person_id in [ticket.reporter_id, *await tx.tickets.followers(ticket.id)]:
                await notifier.tell(person_id, "tickets.update.auto_closed",
                                    ref=f"ticket:{ticket.id}", number=ticket.id, days=days)

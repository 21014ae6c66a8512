"""A simulated compound: many residents, captains, property and the committee, on a manual clock.

``compound_toml`` / ``compound_config`` describe the 20-building compound the benchmarks and the
simulated month use: one group chat per building plus a compound-wide one, a captain (楼长) per
building, two property staff (物业), the owners' committee (业委会), a coordinator and the admin.
"""

from __future__ import annotations

import tomllib

from bot.config import Config

PROPERTY = ("prop1", "prop2")
COMMITTEE = ("chen",)


GROUP_IDS = -1002000000  # Telegram ids when asked for: group b<n> is GROUP_IDS - n
PERSON_IDS = {"cap": 3000, "prop": 3100, "chen": 3201, "coord": 3301, "office": 3401}


def telegram_id(key: str) -> int:
    """The Telegram id the simulated compound gives a chat or person key (``b3``, ``cap3``)."""
    if key == "all":
        return GROUP_IDS
    if key.startswith("b") and key[1:].isdigit():
        return GROUP_IDS - int(key[1:])
    for prefix, base in PERSON_IDS.items():
        if key.startswith(prefix):
            rest = key[len(prefix):]
            return base + (int(rest) if rest.isdigit() else 0)
    raise KeyError(key)


def compound_toml(buildings: int = 20, *, telegram_token: str = "", api_base_url: str = "",
                  telegram_ids: bool = False, rotas: bool = True) -> str:
    """The TOML text of the simulated compound.  Without a token it runs headless; with
    ``telegram_ids`` every chat and listed person gets a Telegram id (see :func:`telegram_id`).

    With ``rotas``: two volunteers per building (vol<2n-1>, vol<2n>) take turns on their building's
    evening corridor patrol (楼道巡查, 19:00-20:00; tomorrow's duty posted to the building's group at
    20:30), and four more keep the compound gate (门岗值守, 08:00-12:00; posted to the compound-wide
    group at 07:00, next week's table on Saturdays at 20:00)."""
    def ids(key: str) -> list[str]:
        return [f"telegram = {telegram_id(key)}"] if telegram_ids or telegram_token else []

    lines = [
        "[compound]", 'name = "富丰新城"', 'timezone = "Asia/Shanghai"', 'language = "zh"', "",
        "[buildings]", f"numbered = {buildings}", "",
        "[tickets]", 'ack_within = "4h"', 'escalate_again_after = "4h"',
        'waking_hours = "07:00-22:00"', 'auto_close_after = "3d"', "",
        # the report reads the whole outbox back: nothing pruned, however long the simulation
        "[retention]", "outbox_days = 36500", "audit_days = 0", "",
    ]
    if telegram_token:
        lines += ["[telegram]", f'token = "{telegram_token}"', f'api_base_url = "{api_base_url}"',
                  "poll_timeout = 1", ""]
    lines += ["[chats.all]", 'name = "富丰新城业主群"', *ids("all"), ""]
    for n in range(1, buildings + 1):
        lines += [f"[chats.b{n}]", f'name = "{n}栋邻里群"', f'building = "{n}"', *ids(f"b{n}"), ""]
    for n in range(1, buildings + 1):
        lines += [f"[people.cap{n}]", f'name = "{n}栋楼长"', f'roles = ["captain:{n}"]',
                  *ids(f"cap{n}"), ""]
    for i, key in enumerate(PROPERTY, 1):
        lines += [f"[people.{key}]", f'name = "物业{i}"', 'roles = ["property"]', *ids(key), ""]
    lines += ["[people.chen]", 'name = "陈主任"', 'roles = ["committee"]', *ids("chen"), ""]
    lines += ["[people.coord]", 'name = "孙老师"', 'roles = ["coordinator"]', *ids("coord"), ""]
    lines += ["[people.office]", 'name = "社区办"', 'roles = ["admin"]', *ids("office"), ""]
    if rotas:
        for v in range(1, 2 * buildings + 5):
            lines += [f"[people.vol{v}]", f'name = "志愿者{v}"', ""]
        for n in range(1, buildings + 1):
            lines += [f"[rota.patrol{n}]", f'name = "{n}栋楼道巡查"', f'building = "{n}"',
                      f'members = ["vol{2 * n - 1}", "vol{2 * n}"]', 'shifts = "每天 19:00-20:00"',
                      'remind_before = "2h"', "", f"[rota.patrol{n}.broadcasts]", 'evening = "20:30"', ""]
        gate = ", ".join(f'"vol{v}"' for v in range(2 * buildings + 1, 2 * buildings + 5))
        lines += ["[rota.gate]", 'name = "门岗值守"', 'chats = ["all"]', f"members = [{gate}]",
                  'shifts = "每天 08:00-12:00"', 'remind_before = "1h"', "", "[rota.gate.broadcasts]",
                  'morning = "07:00"', 'weekly = "sat 20:00"', ""]
    return "\n".join(lines)


def compound_config(buildings: int = 20, **options) -> Config:
    """The simulated compound's config (options as for :func:`compound_toml`)."""
    return Config(path="<simulated>", **tomllib.loads(compound_toml(buildings, **options)))


# --- the simulated month ---------------------------------------------------------------------------
# Everything below drives the real App (real Core, real SQLite file, real dispatcher) with a
# ManualClock: residents report and follow up, captains, property, the committee and the community
# office answer (or not), the bot restarts now and then, and a recording transport counts what was
# delivered.  ``simulate(...)`` returns a :class:`Report`; ``linli simulate`` prints it.

import asyncio  # noqa: E402 - the simulation's imports, kept apart from the config helpers above
import heapq  # noqa: E402
import itertools  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from datetime import datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from bot.adapters.base import SendLimits  # noqa: E402
from bot.messages import Inbound, Outbound  # noqa: E402
from bot.privacy import redact  # noqa: E402
from bot.timeutil import add_waking_time  # noqa: E402

START = datetime(2026, 12, 1, 0, 0)  # a Tuesday, midnight, compound time
# Reports by hour of day (relative weights): quiet nights, a morning peak, a bigger evening one.
HOURLY = (0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 1.5, 2.0, 2.0, 1.8, 1.5, 1.2, 1.2, 1.3, 1.3, 1.4, 1.6,
          2.0, 2.2, 2.0, 1.6, 1.0, 0.5)
# Category texts and how often residents report each.
REPORTS = (("电梯坏了，停在{floor}楼不动", 15), ("楼道垃圾两天没人清理", 18), ("楼上装修噪音太吵", 14),
           ("地库有车乱停占道", 12), ("充电桩不能充电", 8), ("狗叫了一晚上", 8), ("消防门被杂物堵住", 5),
           ("人工湖水发臭", 3), ("有人高空抛物", 4), ("楼道灯不亮", 13))
# The bot's group messages per resident command before groups were made quieter (issue 13 §7),
# measured with this simulation (`linli simulate --days 30 --seed 1`) on commit b47c45c, the last
# one before: 4,204 group messages for 5,591 messages from residents.  A later run's own counts are
# printed beside it (same seed, so the same residents, but not the very same month: what residents
# do depends on what the bot told them).
GROUP_MESSAGES_BEFORE = (4204, 5591)
# Ticket numbers the bot shows on purpose (#12, 「同问 12」): not unit numbers, whatever their digits.
TICKET_REFS = re.compile(r"[#＃]\d+|「[^」0-9]*\d+」")


@dataclass
class Plan:
    """What to simulate."""

    days: float = 30
    seed: int = 1
    buildings: int = 20
    residents: int = 9000
    reports_per_day: float = 60.0
    restarts: int | None = None  # default: one every ten days (at least one)
    tick: timedelta = timedelta(minutes=5)
    absent_captains: float = 0.15  # share of captains who never answer
    slow_captains: float = 0.25  # share who answer hours late (often after the window)


@dataclass
class Report:
    """What a simulated month shows (see :func:`format_report`)."""

    days: float
    residents: int
    reports_sent: int = 0
    tickets: int = 0
    due_for_ack: int = 0
    acked_in_window: int = 0
    promise_kept: int = 0  # acknowledged or escalated by the deadline (plus one sweep)
    no_building: int = 0  # reports whose 哪一栋？ was never answered
    escalated: int = 0
    escalated_handled: int = 0
    with_outcome: int = 0
    told_outcome: int = 0
    orphaned: list[int] = field(default_factory=list)
    acks_seen: int = 0
    acks_missing: list[int] = field(default_factory=list)
    broadcasts_due: int = 0
    broadcasts_sent: int = 0
    broadcasts_note: str = ""
    broadcasts_extra: int = 0  # posted twice, or posted when not due
    signups: int = 0
    delivered: int = 0
    duplicates: int = 0
    undelivered: int = 0
    privacy_leaks: int = 0
    restarts: int = 0
    messages_in: int = 0
    resident_commands: int = 0  # messages from residents (not staff, not volunteers listed)
    group_messages: int = 0  # the bot's messages in groups, as delivered …
    group_updates: int = 0  # … of which updates of a gathered one (edited in place on Telegram)
    group_keys: Counter = field(default_factory=Counter)
    private_receipts: int = 0  # report receipts that went to the reporter privately
    commands: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    wall: float = 0.0

    @staticmethod
    def pct(part: int, whole: int) -> str:
        return f"{100 * part / whole:.1f}%" if whole else "—"


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华"


def display_name(user: str) -> str:
    """A resident's name as a platform shows it (no digits: a unit number must not hide in it)."""
    if not user.startswith("r") or not user[1:].isdigit():
        return user
    n = int(user[1:])
    return SURNAMES[n % len(SURNAMES)] + GIVEN[(n // 20) % len(GIVEN)] + GIVEN[(n // 500) % len(GIVEN)]


class RecordingTransport:
    """The platform end of the simulation: records every message and counts repeats of an outbox
    row (a duplicate send).  It lives across restarts, like a real chat platform."""

    platform = "console"
    limits = SendLimits(overall_per_second=1e6, group_per_minute=1e6, private_per_second=1e6)

    def __init__(self, on_message) -> None:
        self.on_message = on_message
        self.sent: list[Outbound] = []
        self.times: Counter[int] = Counter()

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, message: Outbound) -> str:
        self.times[message.outbox_id] += 1
        self.sent.append(message)
        self.on_message(message)
        return str(len(self.sent))

    @property
    def duplicates(self) -> int:
        return sum(n - 1 for n in self.times.values() if n > 1)


class Simulation:
    """One simulated stretch of the compound's life (see the section comment)."""

    def __init__(self, plan: Plan, db_path: str | Path) -> None:
        self.plan = plan
        self.db_path = Path(db_path)
        self.rng = random.Random(plan.seed)
        self.config = compound_config(plan.buildings)
        from bot.clock import ManualClock

        self.clock = ManualClock(self.config.tz, START)
        self.start = self.clock.now()
        self.end = self.start + timedelta(days=plan.days)
        self.transport = RecordingTransport(self._delivered)
        self.app = None
        self.queue: list[tuple[float, int, tuple]] = []
        self.seq = itertools.count()
        self.message_ids = itertools.count(1)
        self.report = Report(plan.days, plan.residents)
        self.units: set[str] = set()
        self.seen_residents: set[str] = set()
        self.acked: dict[int, str] = {}  # ticket → reporter, from the acknowledgements
        self.reported_in: dict[str, tuple[str, str]] = {}  # resident → (chat, message id) of their
        # latest report in a group
        self.acted: set[tuple[str, int, str]] = set()  # (who, ticket, what) already planned
        waking = self.config.tickets.waking_hours
        self.waking = waking
        # Each captain's habit: prompt, slow, or absent.
        self.habit = {}
        for n in range(1, plan.buildings + 1):
            draw = self.rng.random()
            self.habit[f"cap{n}"] = ("absent" if draw < plan.absent_captains else
                                     "slow" if draw < plan.absent_captains + plan.slow_captains else
                                     "prompt")

    # --- the world's clock --------------------------------------------------------------------
    def at(self, when: datetime, *action) -> None:
        if when <= self.end:
            heapq.heappush(self.queue, (when.timestamp(), next(self.seq), action))

    def now(self) -> datetime:
        return self.clock.now()

    def in_window(self, moment: datetime, start_h: float, end_h: float, delay: timedelta,
                  weekdays_only: bool = False) -> datetime:
        """``delay`` after the first moment from ``moment`` on that falls inside a daily window."""
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(10):
            opens = day + timedelta(hours=start_h)
            closes = day + timedelta(hours=end_h)
            if (not weekdays_only or day.weekday() < 5) and moment < closes:
                return max(moment, opens) + delay
            day += timedelta(days=1)
        return moment + delay

    def waking_delay(self, hours: float) -> datetime:
        return add_waking_time(self.now(), timedelta(hours=hours), self.waking)

    # --- the bot ------------------------------------------------------------------------------
    async def open_app(self) -> None:
        from bot.app import App

        self.app = App.create(self.config, self.db_path, ["console"], clock=self.clock,
                              adapters={"console": self.transport})
        await self.app.open()

    async def restart(self, drain_first: bool) -> None:
        """Stop the bot and start it again on the same database (sometimes with messages still in
        the outbox, as after a crash between commit and send)."""
        if drain_first:
            await self.app.dispatcher.drain()
        await self.app.stop()
        await self.open_app()
        self.report.restarts += 1

    async def say(self, chat: str, user: str, text: str, reply_to: str | None = None) -> None:
        private = chat == "dm"
        message = Inbound(platform="console", chat_id=user if private else chat,
                          chat_kind="private" if private else "group", sender_id=user,
                          sender_name=display_name(user), text=text,
                          message_id=f"s{next(self.message_ids)}", reply_to=reply_to)
        if text.startswith("报修") and not private:  # neighbours may quote it: 同问
            self.reported_in[user] = (chat, message.message_id)
        self.report.messages_in += 1
        if user.startswith("r") and user[1:].isdigit():
            self.report.resident_commands += 1
        self.report.commands[text.split()[0]] += 1
        await self.app.core.handle(message)

    # --- what people do when the bot tells them something ---------------------------------------
    def _delivered(self, message: Outbound) -> None:
        text = message.text
        if message.kind == "group":
            self.report.group_messages += 1
            self.report.group_updates += message.replaces is not None
            self.report.group_keys[message.key] += 1
            units = self.units
            shown = TICKET_REFS.sub("", text)
            if units and redact(shown, "<>", units) != shown:
                self.report.privacy_leaks += 1
            if message.key in ("tickets.acknowledged", "tickets.which_building") and \
                    message.mention_ids:
                ticket = int(message.values["number"])
                self.acked[ticket] = message.mention_ids[0]
                self.on_acknowledged(ticket, message.mention_ids[0], seen_in_group=True)
            return
        who, key = message.address, message.key
        if not key.startswith("tickets.") or "number" not in message.values:
            return
        ticket = int(message.values["number"])
        if key == "tickets.acknowledged" and who.startswith("r") and ticket not in self.acked:
            self.report.private_receipts += 1
            self.acked[ticket] = who  # the receipt went to the reporter privately
            self.on_acknowledged(ticket, who, seen_in_group=False)
        elif who.startswith("cap"):
            self.captain_pinged(who, ticket, key)
        elif who in PROPERTY:
            self.property_pinged(who, ticket, key)
        elif who == "office":
            self.office_pinged(ticket, key)
        elif who == "chen":
            if key == "tickets.ping.escalated" and ("chen", ticket, "check") not in self.acted:
                self.acted.add(("chen", ticket, "check"))
                self.at(self.in_window(self.now(), 19, 21, timedelta(minutes=self.rng.uniform(5, 90))),
                        "say", "dm", "chen", f"进度 {ticket}")
        elif who.startswith("r"):
            self.resident_told(who, ticket, key)

    def on_acknowledged(self, ticket: int, reporter: str, seen_in_group: bool) -> None:
        rng = self.rng
        building = self.building_of(reporter)
        if rng.random() < 0.25:  # a neighbour has the same problem
            neighbour = self.resident(building)
            later = self.now() + timedelta(hours=rng.uniform(0.2, 8))
            quoted = self.reported_in.get(reporter)
            if neighbour != reporter and seen_in_group:  # the receipt's number is there to type
                self.at(later, "say", f"b{building}", neighbour, f"同问 {ticket}")
            elif neighbour != reporter and quoted:  # they quote the reporter's own words
                self.at(later, "say", quoted[0], neighbour, "同问", quoted[1])
        if rng.random() < 0.3:  # the reporter asks how it is going
            self.at(self.now() + timedelta(hours=rng.uniform(2, 30)), "say", "dm", reporter,
                    f"进度 {ticket}")
        if rng.random() < 0.1:
            self.at(self.now() + timedelta(hours=rng.uniform(1, 48)), "say", "dm", reporter, "我的报修")

    def captain_pinged(self, captain: str, ticket: int, key: str) -> None:
        if key not in ("tickets.ping.new", "tickets.ping.reopened"):
            return
        habit = self.habit.get(captain, "prompt")
        if habit == "absent" or self.rng.random() < 0.08:  # away, or missed this one
            return
        hours = self.rng.lognormvariate(math.log(0.6), 0.8) if habit == "prompt" else \
            self.rng.uniform(2, 10)
        self.plan_handling(captain, ticket, self.waking_delay(hours))

    def property_pinged(self, who: str, ticket: int, key: str) -> None:
        if key != "tickets.ping.escalated" or (ticket % 2 == 1) != (who == PROPERTY[0]):
            return  # the two property staff split escalations between them
        if self.rng.random() < 0.05:
            return  # lost in a busy day: the committee and the office get it next
        when = self.in_window(self.now(), 8.5, 17.5, timedelta(hours=self.rng.uniform(0.2, 2.5)))
        self.plan_handling(who, ticket, when)

    def office_pinged(self, ticket: int, key: str) -> None:
        if key != "tickets.ping.escalated":
            return
        when = self.in_window(self.now(), 9, 17, timedelta(hours=self.rng.uniform(0.3, 3)),
                              weekdays_only=True)
        self.plan_handling("office", ticket, when)

    def plan_handling(self, who: str, ticket: int, when: datetime) -> None:
        """受理, maybe 处理中, then 已解决 (or now and then 驳回)."""
        if (who, ticket, "handle") in self.acted:
            return
        self.acted.add((who, ticket, "handle"))
        rng = self.rng
        chat = "dm"
        if rng.random() < 0.05:
            self.at(when, "say", chat, who, f"驳回 {ticket} 不属于物业维修范围，请联系业委会")
            return
        self.at(when, "say", chat, who, f"受理 {ticket} 马上安排")
        later = when
        if rng.random() < 0.5:
            later = add_waking_time(later, timedelta(hours=rng.uniform(0.5, 4)), self.waking)
            self.at(later, "say", chat, who, f"处理中 {ticket} 师傅已到现场")
        later = add_waking_time(later, timedelta(hours=rng.lognormvariate(math.log(6), 1.0)),
                                self.waking)
        self.at(later, "say", chat, who, f"已解决 {ticket} 已修好")

    def resident_told(self, resident: str, ticket: int, key: str) -> None:
        if key == "tickets.update.resolved" and self.acked.get(ticket) == resident:
            if (resident, ticket, "answer") in self.acted:
                return
            self.acted.add((resident, ticket, "answer"))
            draw = self.rng.random()
            when = self.waking_delay(self.rng.uniform(0.3, 20))
            if draw < 0.62:
                self.at(when, "say", "dm", resident, f"确认 {ticket}")
            elif draw < 0.70:
                self.at(when, "say", "dm", resident, f"未解决 {ticket} 还是老样子")
                self.acted.discard((resident, ticket, "answer"))
                for key in [k for k in self.acted if k[1] == ticket and k[2] == "handle"]:
                    self.acted.discard(key)  # a reopened ticket is handled again

    # --- residents ----------------------------------------------------------------------------
    def building_of(self, resident: str) -> int:
        return (int(resident[1:]) - 1) % self.plan.buildings + 1

    def resident(self, building: int | None = None) -> str:
        n = self.rng.randint(1, self.plan.residents)
        if building is not None:
            n = n - (n - 1) % self.plan.buildings + building - 1
            if n > self.plan.residents:
                n -= self.plan.buildings
        return f"r{n}"

    def plan_reports(self) -> None:
        """Poisson arrivals by hour of the day, each from a random resident."""
        rng = self.rng
        mean = sum(HOURLY) / len(HOURLY)
        hour = self.start
        texts, weights = zip(*REPORTS, strict=True)
        while hour < self.end:
            rate = self.plan.reports_per_day / 24 * HOURLY[hour.hour] / mean
            moment = hour
            while True:
                moment += timedelta(hours=rng.expovariate(rate))
                if moment >= hour + timedelta(hours=1):
                    break
                resident = self.resident()
                building = self.building_of(resident)
                what = rng.choices(texts, weights)[0].format(floor=rng.randint(2, 30))
                if resident not in self.seen_residents:
                    self.seen_residents.add(resident)
                    if rng.random() < 0.4:  # registers first, privately, with the unit
                        unit = f"{rng.randint(1, 30)}{rng.randint(1, 4):02d}"
                        self.units.add(unit)
                        self.at(moment - timedelta(minutes=rng.uniform(1, 30)), "say", "dm",
                                resident, f"登记 {building}栋 {unit}")
                draw = rng.random()
                if draw < 0.03:  # in the compound-wide group, never saying which building
                    self.at(moment, "say", "all", resident, f"报修 {what}")
                    self.report.no_building += 1
                elif draw < 0.18:  # in the compound-wide group, naming the building
                    self.at(moment, "say", "all", resident, f"报修 {building}栋{what}")
                else:
                    self.at(moment, "say", f"b{building}", resident, f"报修 {what}")
                self.report.reports_sent += 1
            hour += timedelta(hours=1)

    def plan_community(self) -> None:
        """Volunteering and duty: a weekly Sunday event residents sign up for, people asking who
        is on duty, volunteers checking their shifts."""
        rng = self.rng
        self.at(self.start + timedelta(hours=9), "say", "dm", "coord",
                "新活动 美化家园 每周日 上午9点 2小时 中心花园 40人")
        day = self.start
        while day < self.end:
            for _ in range(rng.randint(10, 25)):  # sign-ups to the next Sundays' events
                moment = day + timedelta(hours=rng.uniform(9.5, 22))
                resident = self.resident()
                self.at(moment, "say", "all", resident, f"报名 {rng.randint(1, 3)}")
                self.report.signups += 1
            for _ in range(rng.randint(5, 15)):  # who is on duty tonight?
                moment = day + timedelta(hours=rng.uniform(7, 22))
                resident = self.resident()
                self.at(moment, "say", f"b{self.building_of(resident)}", resident, "值班")
            for _ in range(rng.randint(1, 4)):
                volunteer = f"vol{rng.randint(1, 2 * self.plan.buildings + 4)}"
                self.at(day + timedelta(hours=rng.uniform(8, 21)), "say", "dm", volunteer, "我的值班")
            day += timedelta(days=1)

    def rota_due(self) -> list[tuple[str, str, datetime]]:
        """Every rota post due in the simulated span: (rota ref, chat key, due moment)."""
        due = []
        day = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        while day < self.end:
            for key, settings in self.config.rota.items():
                chats = settings.chats or [k for k, c in self.config.chats.items()
                                           if c.building == settings.building]
                b = settings.broadcasts
                moments = []
                if b.evening is not None:
                    moments.append(("evening", day.replace(hour=b.evening.hour, minute=b.evening.minute)))
                if b.morning is not None:
                    moments.append(("morning", day.replace(hour=b.morning.hour, minute=b.morning.minute)))
                if b.weekly is not None and day.weekday() == b.weekly[0]:
                    at = b.weekly[1]
                    moments.append(("weekly", day.replace(hour=at.hour, minute=at.minute)))
                for kind, moment in moments:
                    if self.start <= moment <= self.end:
                        due += [(f"rota:{key}:{kind}", chat, moment) for chat in chats]
            day += timedelta(days=1)
        return due

    # --- running ------------------------------------------------------------------------------
    async def run(self) -> Report:
        started = time.perf_counter()
        plan = self.plan
        await self.open_app()
        self.plan_reports()
        if self.config.rota:
            self.plan_community()
        restarts = plan.restarts if plan.restarts is not None else max(1, int(plan.days // 10))
        for _ in range(restarts):
            self.at(self.start + timedelta(days=self.rng.uniform(0.3, plan.days - 0.2)), "restart")
        next_tick = self.start
        try:
            while True:
                due = self.queue[0][0] if self.queue else math.inf
                moment = min(due, next_tick.timestamp())
                if moment > self.end.timestamp():
                    break
                if moment == next_tick.timestamp() and next_tick.timestamp() <= due:
                    self.clock.set(next_tick)
                    await self.app.core.tick()
                    next_tick += plan.tick
                else:
                    _, _, action = heapq.heappop(self.queue)
                    self.clock.set(datetime.fromtimestamp(moment, self.config.tz))
                    if action[0] == "restart":
                        await self.restart(drain_first=self.rng.random() < 0.5)
                        continue
                    await self.say(*action[1:])
                if self.app.core.outbox_changed.is_set():
                    self.app.core.outbox_changed.clear()
                    await self.app.dispatcher.drain()
            # the end: one last tick and delivery (after the hold of a gathered acknowledgement
            # written in the last minutes: it is due then), then judge
            self.clock.set(self.end + self.config.quiet.hold)
            await self.app.core.tick()
            await self.app.dispatcher.drain()
            await self.judge()
        finally:
            await self.app.stop()
        self.report.wall = time.perf_counter() - started
        return self.report

    async def judge(self) -> None:
        report = self.report
        window = self.config.tickets.ack_within
        delivered = set(self.transport.times)
        report.delivered = len(self.transport.sent)
        report.duplicates = self.transport.duplicates
        async with self.app.db.read() as tx:
            facts = await tx.simfacts.tickets()
            report.undelivered = await tx.simfacts.undelivered()
            report.tickets = len(facts)
            finals = {f["id"]: f["outcome_at"] for f in facts if f["outcome_at"] is not None}
            private = await tx.simfacts.private_about(finals)
            end = self.end.timestamp()
            for fact in facts:
                report.statuses[fact["status"]] += 1
                created = datetime.fromtimestamp(fact["created_at"], self.config.tz)
                deadline = add_waking_time(created, window, self.waking).timestamp()
                if deadline <= end:
                    report.due_for_ack += 1
                    if fact["acknowledged_at"] is not None and fact["acknowledged_at"] <= deadline:
                        report.acked_in_window += 1
                    kept_by = deadline + self.plan.tick.total_seconds() + 1
                    if min(fact["answered_at"] or math.inf, fact["escalated_at"] or math.inf) \
                            <= kept_by:
                        report.promise_kept += 1
                if fact["escalated_at"] is not None:
                    report.escalated += 1
                    if await tx.simfacts.handled_after(fact["id"], fact["escalated_at"]):
                        report.escalated_handled += 1
                if fact["id"] in finals:
                    report.with_outcome += 1
                    told = [row for row in private.get(fact["id"], [])
                            if row[1] == fact["reporter_id"] and row[2] >= finals[fact["id"]]
                            and row[0] in delivered]
                    if told:
                        report.told_outcome += 1
                if self.orphaned(fact):
                    report.orphaned.append(fact["id"])
            for ticket, reporter in self.acked.items():
                report.acks_seen += 1
                person = await tx.simfacts.person_of("console", reporter)
                ticket_row = await tx.tickets.get(ticket)
                if ticket_row is None or person is None or ticket_row.reporter_id != person:
                    report.acks_missing.append(ticket)
            posts = await tx.simfacts.rota_posts()
        due = self.rota_due()
        report.broadcasts_due = len(due)
        sent: Counter[tuple[str, str, object]] = Counter()
        for outbox_id, ref, chat, created in posts:
            if outbox_id in delivered:
                sent[(ref, chat, datetime.fromtimestamp(created, self.config.tz).date())] += 1
        wanted = {(ref, chat, moment.date()) for ref, chat, moment in due}
        report.broadcasts_sent = sum(1 for key in sent if key in wanted)
        report.broadcasts_extra = sum(n - 1 for n in sent.values()) + sum(
            1 for key in sent if key not in wanted)
        if not self.config.rota:
            report.broadcasts_note = "no rotas configured"

    def orphaned(self, fact: dict) -> bool:
        """A ticket nobody will ever come back to: open with no escalation pending below the top
        level, or resolved with no auto-close pending."""
        status = fact["status"]
        if status == "open":
            return fact["escalate_at"] is None and fact["escalation_level"] < 2
        if status == "resolved":
            return fact["close_at"] is None
        return False


def simulate(days: float = 30, seed: int = 1, db_path: str | Path | None = None, **options) -> Report:
    """Run a simulated stretch of the compound's life and return its report."""
    import tempfile

    plan = Plan(days=days, seed=seed, **options)
    if db_path is None:
        with tempfile.TemporaryDirectory(prefix="linli-sim-") as folder:
            return asyncio.run(Simulation(plan, Path(folder) / "sim.db").run())
    return asyncio.run(Simulation(plan, db_path).run())


def group_footprint(report: Report) -> list[str]:
    """The bot's group messages per resident command, now and before (GROUP_MESSAGES_BEFORE)."""
    messages, commands = GROUP_MESSAGES_BEFORE
    before = messages / commands
    now = report.group_messages / report.resident_commands if report.resident_commands else 0.0
    edited = (report.group_messages - report.group_updates) / report.resident_commands \
        if report.resident_commands else 0.0
    return [
        f"  group messages per resident command: {now:.3f} ({report.group_messages:,} for "
        f"{report.resident_commands:,}); before: {before:.3f} ({messages:,} for {commands:,}, "
        f"b47c45c) = {Report.pct(report.group_messages * commands, messages * report.resident_commands)}"
        " of before",
        f"    where updates edit in place (Telegram): {edited:.3f} "
        f"({report.group_updates:,} of them are updates of a gathered acknowledgement)",
        "    most frequent: " + ", ".join(f"{k} {v:,}" for k, v in report.group_keys.most_common(6)),
        f"    report receipts: {report.private_receipts:,} to the reporter privately, "
        f"{report.group_keys['tickets.acknowledged']:,} in a group (the reporter could not be "
        "told privately)",
    ]


def format_report(report: Report, seed: int | None = None) -> str:
    pct = Report.pct
    lines = [
        f"Simulated {report.days:g} days of a {report.residents:,}-resident, 20-building compound"
        + (f" (seed {seed})" if seed is not None else ""),
        f"  reports filed:                      {report.reports_sent:,} ({report.tickets:,} tickets)",
        f"  promise kept (件件有回音):           {pct(report.promise_kept, report.due_for_ack)}"
        f" ({report.promise_kept:,} of {report.due_for_ack:,} answered by a person or escalated by"
        " their deadline + one sweep)",
        f"  reports never told their building:  {report.no_building:,} (filed in the compound group)",
        f"  acknowledged within the window:     {pct(report.acked_in_window, report.due_for_ack)}"
        f" ({report.acked_in_window:,} of {report.due_for_ack:,} whose window had passed)",
        f"  escalated:                          {pct(report.escalated, report.tickets)}"
        f" ({report.escalated:,}); then handled by a person: "
        f"{pct(report.escalated_handled, report.escalated)} ({report.escalated_handled:,})",
        f"  reporters told the final outcome:   {pct(report.told_outcome, report.with_outcome)}"
        f" ({report.told_outcome:,} of {report.with_outcome:,} tickets with an outcome)",
        f"  tickets orphaned:                   {len(report.orphaned)}"
        + (f" {report.orphaned[:10]}" if report.orphaned else ""),
        f"  acknowledged reports that exist:    {report.acks_seen - len(report.acks_missing):,}"
        f" of {report.acks_seen:,}",
        "  rota broadcasts sent vs due:        "
        + (f"{report.broadcasts_sent:,} of {report.broadcasts_due:,} "
           f"({report.broadcasts_extra} extra)" if report.broadcasts_due else "—")
        + (f" ({report.broadcasts_note})" if report.broadcasts_note else ""),
        f"  messages delivered:                 {report.delivered:,}; duplicate sends: "
        f"{report.duplicates}; undelivered at the end: {report.undelivered}",
        f"  group messages with a unit number:  {report.privacy_leaks}",
        *group_footprint(report),
        f"  volunteer sign-ups (报名) sent:      {report.signups:,}",
        f"  restarts:                           {report.restarts}",
        "  ticket statuses at the end:         "
        + ", ".join(f"{k} {v}" for k, v in sorted(report.statuses.items())),
        f"  messages from people:               {report.messages_in:,}",
        f"  wall time:                          {report.wall:.1f} s",
    ]
    return "\n".join(lines)

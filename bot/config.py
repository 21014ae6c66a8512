"""Reading and checking the compound's TOML config.

``load_config(path)`` returns a :class:`Config` or raises :class:`ConfigError` with one message that
names the file and the key (or line) that is wrong, so ``linli`` can print it instead of a traceback.
Validation is pydantic's: unknown keys are refused, types are checked, and the cross-checks (a chat
pointing at a missing building, the same platform id used twice) run once everything has loaded.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

ROLE_NAMES = ("captain", "property", "committee", "coordinator", "admin")
_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:(\d+)\s*s)?\s*$")


class ConfigError(Exception):
    """The config cannot be used; the message says where and why."""


def parse_duration(value: object) -> timedelta:
    """Read ``"4h"``, ``"90m"``, ``"3d"``, ``"1h30m"`` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {value!r} (write it like \"4h\", \"30m\", \"3d\")")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_hours_range(value: object) -> tuple[time, time]:
    """Read ``"07:00-22:00"`` as a (start, end) pair of times."""
    if isinstance(value, tuple):
        return value
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", str(value))
    if not match:
        raise ValueError(f"not a range of hours: {value!r} (write it like \"07:00-22:00\")")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59:
        raise ValueError(f"not a time of day in {value!r}")
    return time(h1, m1), (time(23, 59, 59) if h2 == 24 else time(h2, m2))


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
HoursRange = Annotated[tuple[time, time], BeforeValidator(parse_hours_range)]


def normalize_name(text: str) -> str:
    """Fold what people type into one form: full-width to ASCII, lower case, no spaces."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompoundSettings(_Strict):
    name: str = "邻里小区"
    timezone: str = "Asia/Shanghai"
    language: Literal["zh", "en"] = "zh"
    bot_names: list[str] = Field(default_factory=lambda: ["邻里", "Linli"])

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (e.g. \"Asia/Shanghai\")") from exc
        return value


class BuildingSettings(_Strict):
    numbered: int = Field(default=0, ge=0, le=999)
    extra: dict[str, list[str]] = Field(default_factory=dict)
    # building key → unit → floor area in m² (专有部分面积): polls then show the share of floor area
    floor_areas: dict[str, dict[str, Annotated[float, Field(gt=0, le=100000)]]] = Field(
        default_factory=dict)


class TicketSettings(_Strict):
    ack_within: Duration = timedelta(hours=4)
    escalate_again_after: Duration = timedelta(hours=4)
    waking_hours: HoursRange = (time(7), time(22))
    auto_close_after: Duration = timedelta(days=3)
    max_report_length: int = Field(default=1000, ge=50, le=10000)
    # an urgent report (困人, 漏水, 着火, 燃气味 … or one of urgent_words): property and the captain
    # are told at once, and it escalates after this much real time (nights count)
    urgent_ack_within: Duration = timedelta(minutes=30)
    urgent_words: list[str] = Field(default_factory=list)  # more words that make a report urgent

    @field_validator("urgent_ack_within")
    @classmethod
    def _some_minutes(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration, like \"30m\"")
        return value


class MediaSettings(_Strict):
    """``[media]``: photos residents attach to reports, kept beside the database (storage/media.py)."""

    max_mb: float = Field(default=10, gt=0, le=50)  # a larger photo is refused, with a reply
    max_side: int = Field(default=2560, ge=320, le=10000)  # stored photos are scaled down to this
    thumb_side: int = Field(default=320, ge=64, le=1024)  # the board's thumbnails

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 1024 * 1024)


class AreaSettings(_Strict):
    """``[areas.<key>]``: a common area (东门, 地下车库, 会所 …), the words residents name it by and
    who answers for it: roles (``property``, ``captain:3``, ``committee`` …) or ``[people]`` keys."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    answers: list[str] = Field(default_factory=lambda: ["property"])


class CategorySettings(_Strict):
    """``[categories.<code>]``: a kind of report (bot/categories.py).  For a default category
    (elevator, leak, water_power, door_access, lighting, fire_door, greening, parking, noise, dogs,
    falling_objects, ev_charging, lake, sanitation, other), more words and tags and, if given, its own
    names; for a new one, its names, the words that file a report under it, and the category it is
    tried before (default: just before ``other``)."""

    zh: str = ""
    en: str = ""
    words: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)  # #tags that name it (its code and names do too)
    before: str = ""


class ChatSettings(_Strict):
    name: str = ""
    building: str | None = None
    telegram: int | None = None
    wechat: str | None = None  # a room id, or the room's topic
    language: Literal["zh", "en"] | None = None


class PersonSettings(_Strict):
    name: str = ""
    roles: list[str] = Field(default_factory=list)
    telegram: int | None = None
    wechat: str | None = None
    language: Literal["zh", "en"] | None = None

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        for role in roles:
            base = role.split(":", 1)[0]
            if base not in ROLE_NAMES:
                raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLE_NAMES)}")
            if base == "captain" and ":" not in role:
                raise ValueError(f"{role!r} needs a building, like \"captain:3\"")
        return roles


class DeliverySettings(_Strict):
    max_attempts: int = Field(default=12, ge=1, le=100)
    retry_base_seconds: float = Field(default=2.0, gt=0)
    retry_max_seconds: float = Field(default=600.0, gt=0)


class QuietSettings(_Strict):
    """A quieter bot in the groups: acknowledgements of one kind (sign-ups to one event, 同问 on one
    report, "answered privately" pointers) in one group gather into one message.  The first goes at
    once; those that come while it is on its way, or within ``window`` after the last one, wait up to
    ``hold`` after it and go as one updated message (on Telegram the sent one is edited in place).
    A report's receipt concerns its reporter alone: with ``receipts = "private"`` it goes to them
    privately, and to the group only where the platform refuses that (a Telegram user who never
    started the bot, a WeChat contact who is not the bot's friend); ``"group"`` posts it there."""

    hold: Duration = timedelta(minutes=2)
    window: Duration = timedelta(minutes=10)
    receipts: Literal["private", "group"] = "private"


class SchedulerSettings(_Strict):
    tick_seconds: float = Field(default=30.0, gt=0)


class TelegramSettings(_Strict):
    token: str = ""
    mode: Literal["polling", "webhook"] = "polling"
    api_base_url: str = "https://api.telegram.org/bot"
    api_base_file_url: str = "https://api.telegram.org/file/bot"
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_path: str = "telegram"
    webhook_url: str = ""
    webhook_secret: str = ""
    poll_timeout: float = 10.0


class WechatSettings(_Strict):
    """``[wechat]``: a Wechaty puppet service (see README.md, "Run it on WeChat")."""

    endpoint: str = ""  # host:port of the puppet service
    token: str = ""  # its token (or LINLI_WECHAT_TOKEN)
    tls: bool = False  # the service speaks TLS (the Wechaty default off loopback)
    tls_ca_cert: str = ""  # a CA file to check the service's certificate; empty: not checked
    tls_server_name: str = ""  # TLS server name (SNI); default: the token up to its last "_"
    send_interval_seconds: float = Field(default=2.0, ge=0)  # at least this long between sends …
    send_jitter_seconds: float = Field(default=1.0, ge=0)  # … plus up to this much at random
    daily_cap: int = Field(default=500, ge=0)  # at most this many sends a day (0: no cap)
    welcome: bool = True  # greet people who join a configured room, with three commands to try
    reconnect_max_seconds: float = Field(default=60.0, gt=0)  # the backoff between reconnects
    ping_seconds: float = Field(default=30.0, gt=0)  # check the connection this often


class WebSettings(_Strict):
    """``[web]``: the office board (bot/web), served by ``linli run`` in the bot's own process.

    ``listen``: host:port to serve on.  ``public_url``: what sign-in links point at (default:
    ``http://`` + listen); cookies are ``Secure`` when it is https.  ``secret``: signs the session
    cookies (or set ``LINLI_WEB_SECRET``; with neither, a random one per start: everyone signs in
    again after a restart)."""

    listen: str = "127.0.0.1:8080"
    public_url: str = ""
    secret: str = ""

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"write it as host:port, like \"127.0.0.1:8080\", not {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError(f"must start with http:// or https://, not {value!r}")
        return value.rstrip("/")


def parse_time_of_day(value: object) -> time:
    """Read ``"20:00"`` as a time of day."""
    if isinstance(value, time):
        return value
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", str(value))
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"not a time of day: {value!r} (write it like \"20:00\")")
    return time(int(match.group(1)), int(match.group(2)))


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weekly(value: object) -> tuple[int, time]:
    """Read ``"sat 20:00"`` as (weekday 0=Mon…6=Sun, time of day)."""
    if isinstance(value, tuple):
        return value
    match = re.fullmatch(r"\s*([a-z]{3})[a-z]*\s+(\S+)\s*", str(value).lower())
    if not match or match.group(1) not in _WEEKDAYS:
        raise ValueError(f"not a day and time: {value!r} (write it like \"sat 20:00\")")
    return _WEEKDAYS.index(match.group(1)), parse_time_of_day(match.group(2))


TimeOfDay = Annotated[time, BeforeValidator(parse_time_of_day)]
Weekly = Annotated[tuple[int, time], BeforeValidator(parse_weekly)]


class VolunteerSettings(_Strict):
    remind_evening: TimeOfDay = time(20, 0)
    remind_before: Duration = timedelta(hours=1)
    advertise_before: Duration = timedelta(days=2)
    make_ahead: Duration = timedelta(days=14)
    chats: list[str] = Field(default_factory=list)


class RotaBroadcasts(_Strict):
    evening: TimeOfDay | None = None
    morning: TimeOfDay | None = None
    weekly: Weekly | None = None
    grace: Duration = timedelta(hours=2)


class RotaSettings(_Strict):
    name: str
    building: str | None = None
    chats: list[str] = Field(default_factory=list)
    members: list[str] = Field(default_factory=list)
    shifts: str | None = None
    rotation: Literal["daily", "weekly"] = "daily"
    approval: bool = False
    remind_before: Duration = timedelta(hours=2)
    weeks_ahead: int = Field(default=2, ge=1, le=12)
    escalate_uncovered: Duration = timedelta(hours=12)  # still uncovered this long before: coordinators
    escalate_admin: Duration = timedelta(hours=2)  # … and this long before: the admin (0: never)
    broadcasts: RotaBroadcasts = RotaBroadcasts()

    @field_validator("shifts")
    @classmethod
    def _readable_shifts(cls, value: str | None) -> str | None:
        from bot.when import WhenProblem, parse_repeat, parse_until

        if value is None:
            return value
        try:
            repeat = parse_repeat(value, ZoneInfo("UTC"))
            until = parse_until(repeat.rest)
        except WhenProblem:
            until = None
        if until is None:
            raise ValueError(f"not days and hours of shifts: {value!r} "
                             "(write it like \"每天 08:00-12:00\" or \"every Saturday 19:00-20:00\")")
        return value


class AnnouncementSettings(_Strict):
    """``[announcements]``: broadcasts wait out the quiet hours unless urgent; runs missed while the
    bot was down are sent late within ``grace``, older ones skipped and reported to the admin."""

    quiet_hours: HoursRange = (time(22, 0), time(7, 0))
    grace: Duration = timedelta(hours=2)
    max_length: int = Field(default=4000, ge=20, le=20000)


_DIGEST_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class DigestSettings(_Strict):
    """``[digest]``: the weekly digest of tickets (and volunteers and rotas), with a chart."""

    enabled: bool = True
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = "mon"
    time: str = "08:00"
    grace: Duration = timedelta(hours=12)
    oldest_open: int = Field(default=3, ge=0, le=20)
    chart_chats: list[str] | None = None  # None: every compound-wide chat (one with no building)
    committee: bool = True  # also send the compound digest and chart privately to the committee

    @field_validator("time")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", value)
        if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
            raise ValueError(f"not a time of day: {value!r} (write it like \"08:00\")")
        return f"{int(match.group(1)):02d}:{match.group(2)}"

    @property
    def day_number(self) -> int:
        return _DIGEST_DAYS.index(self.weekday)

    @property
    def at(self) -> time:
        hour, minute = self.time.split(":")
        return time(int(hour), int(minute))


class RetentionSettings(_Strict):
    """``[retention]``: how long the tables that only grow keep their rows, in days
    (handlers/housekeeping.py prunes them in small batches, at most once an hour).

    ``inbound_days``: the record of platform message ids that makes a redelivered message do nothing
    (platforms redeliver within hours).  ``outbox_days``: messages sent or given up on (pending and
    held ones are never pruned).  ``audit_days``: the audit log, kept longest (0: forever).  Tickets
    and their history are never pruned."""

    inbound_days: int = 14
    outbox_days: int = 30
    audit_days: int = 730
    batch_size: int = 500  # rows deleted per statement, each batch its own short transaction
    batches_per_tick: int = 20  # at most this many batches per scheduler tick; the rest next tick
    every: Duration = timedelta(hours=1)  # how often a pass starts (an unfinished one goes on sooner)

    @field_validator("inbound_days", "outbox_days", "batch_size", "batches_per_tick", mode="before")
    @classmethod
    def _positive(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"must be a whole number of at least 1, not {value!r}")
        return value

    @field_validator("batch_size")
    @classmethod
    def _short_batches(cls, value: int) -> int:
        if value > 500:
            raise ValueError(f"at most 500 rows a batch (a batch holds the write lock), not {value}")
        return value

    @field_validator("audit_days", mode="before")
    @classmethod
    def _days_or_forever(cls, value: object) -> object:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"must be a whole number of days (0: keep forever), not {value!r}")
        return value

    @field_validator("every")
    @classmethod
    def _some_time(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration, like \"1h\"")
        return value

    @model_validator(mode="after")
    def _audit_kept_longest(self) -> RetentionSettings:
        name = max(("inbound_days", "outbox_days"), key=lambda n: getattr(self, n))
        if self.audit_days and self.audit_days < getattr(self, name):
            raise ValueError(
                f"audit_days = {self.audit_days} is shorter than {name} = {getattr(self, name)}: "
                "the audit log is kept longest (or set audit_days = 0 to keep it forever)")
        return self


class Building(BaseModel):
    """A building and the ways residents name it."""

    model_config = ConfigDict(frozen=True)
    key: str
    name: str
    aliases: tuple[str, ...]


class Area(BaseModel):
    """A common area, the ways residents name it, and who answers for it (roles or person keys)."""

    model_config = ConfigDict(frozen=True)
    key: str
    name: str
    aliases: tuple[str, ...]
    answers: tuple[str, ...]


_CATEGORY_INDEX: dict[int, tuple] = {}  # id(config) → (config, categories, by code)


class Config(_Strict):
    """The whole config, checked."""

    path: str = ""
    compound: CompoundSettings = CompoundSettings()
    buildings: BuildingSettings = BuildingSettings()
    tickets: TicketSettings = TicketSettings()
    media: MediaSettings = MediaSettings()  # photos kept with reports: size limit, thumbnails
    delivery: DeliverySettings = DeliverySettings()
    quiet: QuietSettings = QuietSettings()  # group acknowledgements gathered into one message
    scheduler: SchedulerSettings = SchedulerSettings()
    telegram: TelegramSettings = TelegramSettings()
    wechat: WechatSettings = WechatSettings()
    chats: dict[str, ChatSettings] = Field(default_factory=dict)
    people: dict[str, PersonSettings] = Field(default_factory=dict)
    volunteers: VolunteerSettings = VolunteerSettings()  # reminders and posts of events
    rota: dict[str, RotaSettings] = Field(default_factory=dict)  # duty rotas by key
    # Sections owned by capabilities (announcements, digest) are free-form tables
    # that those capabilities check themselves.
    announcements: AnnouncementSettings = AnnouncementSettings()  # quiet hours, missed runs
    digest: DigestSettings = DigestSettings()  # the weekly digest: when, to whom
    retention: RetentionSettings = RetentionSettings()  # how long the growing tables keep rows
    web: WebSettings | None = None  # the office board; None: not served
    # a 物业 front desk: question words (comma-separated) → the answer ("物业电话多少" → the number)
    faq: dict[str, str] = Field(default_factory=dict)
    areas: dict[str, AreaSettings] = Field(default_factory=dict)  # common areas: 东门, 地下车库 …
    # kinds of report: the defaults of bot/categories.py, with the operator's additions
    categories: dict[str, CategorySettings] = Field(default_factory=dict)
    _categories: tuple = PrivateAttr(default=())

    def model_post_init(self, context: object, /) -> None:
        from bot.categories import merged

        self._categories = merged(self.categories)

    def _category_index(self) -> tuple[tuple, dict]:
        """The categories in order and by code, kept beside the config: a private attribute of a
        pydantic model costs a slow ``__getattr__`` each read, and every report reads them."""
        known = _CATEGORY_INDEX.get(id(self))
        if known is None or known[0] is not self:
            by_code: dict = {}
            for category in self._categories:  # the first of a code wins, as a scan would find
                by_code.setdefault(category.code, category)
            if len(_CATEGORY_INDEX) >= 64:  # configs come and go in tests: keep a few
                _CATEGORY_INDEX.clear()
            known = _CATEGORY_INDEX[id(self)] = (self, self._categories, by_code)
        return known[1], known[2]

    def category_list(self) -> tuple:
        """The categories (``bot.categories.Category``) in the order a report's words are tried."""
        return self._category_index()[0]

    def category_name(self, code: str, lang: str) -> str:
        """A category's name in ``lang``: the operator's, else the catalogue's."""
        category = self._category_index()[1].get(code)
        if category is not None:
            return category.name(lang)
        from bot.categories import Category

        return Category(code, (), ()).name(lang)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.compound.timezone)

    def building_list(self) -> list[Building]:
        """Every building, numbered ones first, each with the aliases a resident might type."""
        return list(_buildings(self.buildings))

    def area_list(self) -> list[Area]:
        """Every common area, each with its name among the words it answers to."""
        return [Area(key=key, name=a.name, aliases=(a.name, *a.aliases), answers=tuple(a.answers))
                for key, a in self.areas.items()]


def _buildings(settings: BuildingSettings) -> list[Building]:
    out = []
    for n in range(1, settings.numbered + 1):
        aliases = (
            f"{n}栋", f"{n}座", f"{n}号楼", f"{n}幢", f"{n}栋楼", f"{n}号栋",
            f"building{n}", f"bldg{n}", f"b{n}", f"block{n}", f"tower{n}", f"no.{n}building",
        )
        out.append(Building(key=str(n), name=f"{n}栋", aliases=aliases))
    for name, aliases in settings.extra.items():
        out.append(Building(key=name, name=name, aliases=(name, *aliases)))
    return out


def _cross_check(config: Config) -> list[str]:
    problems = []
    keys = {b.key for b in config.building_list()}
    for building in config.buildings.floor_areas:
        if building not in keys:
            problems.append(f"[buildings] floor_areas: {building!r}: no such building")
    for chat_key, chat in config.chats.items():
        if chat.building is not None and chat.building not in keys:
            problems.append(f"[chats.{chat_key}] building = {chat.building!r}: no such building")
    for person_key, person in config.people.items():
        for role in person.roles:
            if role.startswith("captain:") and role.split(":", 1)[1] not in keys:
                problems.append(f"[people.{person_key}] role {role!r}: no such building")
    for chat_key in config.volunteers.chats:
        if chat_key not in config.chats:
            problems.append(f"[volunteers] chats: {chat_key!r}: no such chat")
    for rota_key, rota in config.rota.items():
        if rota.building is not None and rota.building not in keys:
            problems.append(f"[rota.{rota_key}] building = {rota.building!r}: no such building")
        problems += [f"[rota.{rota_key}] chats: {c!r}: no such chat" for c in rota.chats
                     if c not in config.chats]
        problems += [f"[rota.{rota_key}] members: {m!r}: no such person in [people]"
                     for m in rota.members if m not in config.people]
    from bot.categories import DEFAULTS

    for code, category in config.categories.items():
        if category.before and category.before not in {*DEFAULTS, *config.categories}:
            problems.append(f"[categories.{code}] before = {category.before!r}: no such category")
        if code not in DEFAULTS and not (category.zh and category.words):
            problems.append(f"[categories.{code}]: a new category needs its zh name and its words")
    for area_key, area in config.areas.items():
        for who in area.answers:
            base, _, building = who.partition(":")
            if who in config.people or (base in ROLE_NAMES and base != "captain" and not building) \
                    or (base == "captain" and building in keys):
                continue
            problems.append(f"[areas.{area_key}] answers: {who!r}: no such role or person "
                            "(a role like \"property\" or \"captain:3\", or a key of [people])")
    problems += [f"[digest] chart_chats: {c!r}: no such chat"
                 for c in config.digest.chart_chats or () if c not in config.chats]
    for section, table in (("chats", config.chats), ("people", config.people)):
        for platform in ("telegram", "wechat"):
            seen: dict[object, str] = {}
            for key, entry in table.items():
                value = getattr(entry, platform)
                if value is None:
                    continue
                if value in seen:
                    problems.append(
                        f"[{section}.{key}] {platform} = {value!r} is also used by "
                        f"[{section}.{seen[value]}]"
                    )
                seen[value] = key
    return problems


def load_config(path: str | Path) -> Config:
    """Read, validate and cross-check the config at ``path``."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file (copy config.example.toml to start)") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        config = Config(path=str(path), **raw)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                message = "unknown key (check the spelling against config.example.toml)"
            lines.append(f"{path}: {where}: {message}")
        raise ConfigError("\n".join(lines)) from exc
    problems = _cross_check(config)
    if problems:
        raise ConfigError("\n".join(f"{path}: {p}" for p in problems))
    return config

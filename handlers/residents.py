"""Residents register where they live (登记), so reports find their building without asking.

The building is used to route reports; the unit (房号) is private: it reaches the building's captain in
task pings and is never shown in a group.
"""

from __future__ import annotations

import re

from bot.commands import Router
from bot.context import Context, Refusal
from bot.format import name_range

router = Router("residents")
register = router.command("register", zh=["登记"], en=["register"], group="general")


@register.handle
async def register_home(ctx: Context) -> None:
    """A resident says which building (and unit) they live in."""
    args = ctx.args.strip()
    if not args:
        raise Refusal("residents.usage")
    building, unit = split_building_and_unit(ctx, args)
    if building is None:
        raise Refusal("tickets.unknown_building", name=args.split()[0][:20],
                      buildings=name_range([b.name for b in ctx.core.buildings], ctx.lang))
    if unit is not None and not re.fullmatch(r"[0-9A-Za-z\-]{1,8}", unit):
        raise Refusal("residents.bad_unit", unit=unit[:20])
    await ctx.tx.people.register(ctx.person.id, building.key, unit)
    ctx.core.remember_unit(unit)  # hidden from every group from now on
    await ctx.record("person.register", f"person:{ctx.person.id}", building.key)
    key = "residents.registered_with_unit" if unit else "residents.registered"
    await ctx.reply(key, building=building.name)
    if unit and ctx.in_group:
        await ctx.reply("residents.unit_tip")
    await ctx.emit("resident.registered", building=building.key)  # a report may be waiting


def split_building_and_unit(ctx: Context, args: str):
    """``3栋 1203`` / ``3栋1203`` / ``B3 1203`` → (building 3, "1203")."""
    parts = args.split()
    building = ctx.core.building_named(parts[0])
    if building is not None:
        rest = " ".join(parts[1:]).strip()
        return building, (rest or None)
    match = re.match(r"^(.*?(?:栋|座|号楼|幢))\s*([0-9０-９A-Za-z\-]+)\s*(?:室|房)?$", args)
    if match:
        building = ctx.core.building_named(match.group(1))
        if building is not None:
            return building, match.group(2)
    return ctx.core.building_named(args), None

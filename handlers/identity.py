"""One resident, several chat apps: ``/link`` gives a one-time code, ``绑定 <code>`` on the other app
makes the two accounts one person, so tickets, sign-ups and shifts follow them."""

from __future__ import annotations

import secrets

from bot.commands import Router
from bot.context import Context, Refusal

CODE_MINUTES = 15

router = Router("identity")
link = router.command("link", zh=["绑定码", "关联码"], en=["link"], private_only=True, group="general")
bind = router.command("bind", zh=["绑定", "关联"], en=["bind"], private_only=True, group="general")


@link.handle
async def give_link_code(ctx: Context) -> None:
    """Someone asks for a code to join this account with their account on another app."""
    code = f"{secrets.randbelow(900000) + 100000}"
    expires = ctx.ts + CODE_MINUTES * 60
    await ctx.tx.kv.put(f"link:{code}", f"{ctx.person.id}:{expires}")
    await ctx.record("person.link_code", f"person:{ctx.person.id}")
    await ctx.reply("identity.code", code=code, minutes=CODE_MINUTES)


@bind.handle
async def bind_with_code(ctx: Context) -> None:
    """Someone types the code from their other app: the two accounts become one person."""
    code = ctx.args.strip().replace(" ", "")
    if not code:
        raise Refusal("identity.usage")
    stored = await ctx.tx.kv.get(f"link:{code}")
    if stored is None:
        raise Refusal("identity.bad_code", code=code[:12])
    owner_id, expires = stored.split(":")
    await ctx.tx.kv.put(f"link:{code}", f"{owner_id}:0")  # one use only
    if float(expires) < ctx.ts:
        raise Refusal("identity.bad_code", code=code[:12])
    owner_id = int(owner_id)
    if owner_id == ctx.person.id:
        raise Refusal("identity.same_account")
    await ctx.tx.people.merge(ctx.person.id, owner_id)
    await ctx.tx.identities.link(ctx.msg.platform, ctx.msg.sender_id, owner_id, ctx.ts)
    await ctx.record("person.bind", f"person:{owner_id}", f"{ctx.msg.platform}")
    await ctx.reply("identity.bound")

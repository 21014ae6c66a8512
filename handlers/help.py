"""帮助 / help: teaches by example, in the user's language.

``帮助`` lists what the sender may do, grouped, each with an example; ``帮助 报修`` explains one
command.  Commands of other roles are listed only to those who hold them.
"""

from __future__ import annotations

from bot.commands import Command, Router
from bot.context import Context
from bot.i18n import has

router = Router("help")
help_command = router.command("help", zh=["帮助", "菜单", "说明"], en=["help", "start", "menu"])
GROUPS = ("tickets", "general", "volunteers", "rota", "announcements", "staff", "admin")


@help_command.handle
async def show_help(ctx: Context) -> None:
    """Someone asks what Linli can do, or how one command works."""
    topic = ctx.args.strip().lstrip("/#／＃").split(maxsplit=1)
    if topic:
        command = ctx.core.registry.command_with_word(topic[0])
        if command is not None:
            await ctx.reply_text(describe(ctx, command), key="help.command_header")
            return
        await ctx.reply("help.unknown_topic", topic=topic[0][:20])
    lines = [ctx.t("help.header", compound=ctx.config.compound.name)]
    for group in GROUPS:
        commands = [c for c in ctx.core.registry.commands.values()
                    if c.group == group and may_use(ctx, c)]
        if not commands:
            continue
        lines.append(ctx.t(f"help.group.{group}"))
        lines += [example_line(ctx, c) for c in commands if has(ctx.lang, f"help.example.{c.name}")]
    lines.append(ctx.t("help.footer"))
    await ctx.reply_text("\n".join(lines), key="help.header")


def may_use(ctx: Context, command: Command) -> bool:
    return command.roles is None or any(ctx.has_role(r) for r in command.roles)


def example_line(ctx: Context, command: Command) -> str:
    return "  " + ctx.t(f"help.example.{command.name}")


def describe(ctx: Context, command: Command) -> str:
    words = command.zh if ctx.lang == "zh" else tuple("/" + w for w in command.en)
    others = command.en if ctx.lang == "zh" else command.zh
    lines = [ctx.t("help.command_header", words=" / ".join(words),
                   others=" / ".join(("/" + w) if ctx.lang == "zh" else w for w in others))]
    if has(ctx.lang, f"help.detail.{command.name}"):
        lines.append(ctx.t(f"help.detail.{command.name}"))
    if has(ctx.lang, f"help.example.{command.name}"):
        lines.append(ctx.t("help.for_example", example=ctx.t(f"help.example.{command.name}")))
    if command.roles:
        lines.append(ctx.t("help.who", who=ctx.core.describe_roles(command.roles, ctx.lang)))
    return "\n".join(lines)

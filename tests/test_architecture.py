"""The shape the code keeps: a registry built (not imported), no import cycles in bot/, no handler
importing another, no handler writing the outbox itself, and the office's way in (Core.perform).

Scenario tests for the rest of the architecture live beside the capability they protect: the privacy
gate in tests/test_privacy.py, the Telegram "start me" fallback decided by the core in
tests/test_telegram_e2e.py.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from bot.commands import Registry, Router
from tests.harness import ROOT, Compound

BOT = ROOT / "bot"


def runtime_imports(path: Path, package: str) -> set[str]:
    """The project modules a file imports when it runs (not those under ``if TYPE_CHECKING``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {name for name in found if name.split(".")[0] == package}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_the_bot_package_has_no_import_cycle():
    files = {module_name(p): p for p in BOT.rglob("*.py")}
    graph = {name: {m for m in runtime_imports(path, "bot") if m in files and m != name}
             for name, path in files.items()}
    state: dict[str, int] = {}

    def walk(name: str, trail: list[str]) -> None:
        state[name] = 1
        for other in sorted(graph[name]):
            if state.get(other) == 1:
                pytest.fail("import cycle: " + " → ".join([*trail, name, other]))
            if other not in state:
                walk(other, [*trail, name])
        state[name] = 2

    for name in sorted(graph):
        if name not in state:
            walk(name, [])


def test_the_core_imports_no_handler_and_handlers_import_no_other_handler():
    assert not any(m.startswith("handlers") for m in runtime_imports(BOT / "core.py", "handlers"))
    for path in (ROOT / "handlers").glob("*.py"):
        assert runtime_imports(path, "handlers") == set(), f"{path.name} imports a handler"


def test_only_the_send_path_writes_the_outbox():
    """Handlers and adapters send through Context/Notifier, so every group message meets the gate."""
    for path in [*(ROOT / "handlers").glob("*.py"), *(BOT / "adapters").glob("*.py")]:
        text = path.read_text(encoding="utf-8")
        assert "outbox.add(" not in text and "Outbound(" not in text, path.name


def test_importing_a_handler_module_again_declares_nothing_twice():
    import importlib

    import handlers.tickets

    importlib.reload(handlers.tickets)
    assert "report" in Registry.from_modules(handlers.MODULES).commands


def test_two_words_for_one_command_across_routers_are_refused():
    one, two = Router("one"), Router("two")
    one.command("first", zh=["报到"], en=["checkin"])
    two.command("second", zh=["签到"], en=["CheckIn"])
    with pytest.raises(ValueError, match="'checkin' of 'second' is taken by 'first'"):
        Registry([one, two])


async def test_two_apps_in_one_process_answer_to_different_commands(tmp_path):
    only_tickets = Registry.from_modules(["handlers.tickets", "handlers.help"])
    small = await Compound.open(tmp_path / "small", registry=only_tickets)
    full = await Compound.open(tmp_path / "full")
    try:
        assert "join" not in small.core.registry.commands
        assert "join" in full.core.registry.commands
        sent = await small.say("b3", "alice", "/join 1")
        assert [m.key for m in sent.messages] == ["core.unknown_command"]
        sent = await full.say("b3", "alice", "/join 1")
        assert "core.unknown_command" not in [m.key for m in sent.messages]
        help_small = (await small.say("dm", "alice", "帮助")).messages[0].text
        assert "报名" not in help_small and "报修" in help_small
        sent = await small.say("b3", "alice", "报修 3栋电梯坏了")
        assert sent.keys_to("alice") == ["tickets.acknowledged"]
    finally:
        await small.close()
        await full.close()


async def test_the_office_performs_a_command_as_a_person_with_the_same_checks(compound: Compound):
    """Core.perform: role checks, audit and notifications as in a chat; the answer comes back."""
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    before = len(compound.adapter.sent)
    answers = await compound.core.perform("wang", "ack", "1 明天上午来修")
    assert [a.key for a in answers] == ["tickets.moved"]
    assert "#1" in answers[0].text
    await compound.app.dispatcher.drain()
    told = [m for m in compound.adapter.sent[before:] if m.address == "alice"]
    assert [m.key for m in told] == ["tickets.update.acknowledged"]
    assert told[0].values["number"] == 1
    refused = await compound.core.perform("sun", "ack", "1")  # a coordinator is not staff here
    assert [a.key for a in refused] == ["core.not_allowed"]
    async with compound.app.db.read() as tx:
        actions = [row["action"] for row in await tx.audit._all(
            "SELECT action FROM audit ORDER BY id", ())]
    assert "ticket.ack" in actions, actions
    assert "denied" in actions


def test_linli_do_performs_a_command_from_the_shell(tmp_path):
    import os
    import subprocess

    from tests.harness import EXAMPLE_CONFIG

    def linli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "bot", *args, "--db", str(tmp_path / "d.db"),
                               "--config", str(EXAMPLE_CONFIG)], input=stdin, text=True,
                              capture_output=True, timeout=120, cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})

    assert linli("console", stdin="b3 alice: 报修 3栋电梯坏了\n").returncode == 0
    done = linli("do", "wang", "受理", "1", "马上来")
    assert done.returncode == 0, done.stderr
    assert "#1" in done.stdout
    refused = linli("do", "sun", "ack", "1")  # a volunteer coordinator: not staff for tickets
    assert refused.returncode == 0 and "只有" in refused.stdout, refused.stdout
    assert linli("do", "nobody", "ack", "1").returncode == 2

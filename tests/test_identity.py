"""Linking accounts (绑定码 → 绑定 → 确认绑定 → 批准绑定): proof from both accounts, an admin for any
role, and guessing that is limited, audited and reported to code owners (handlers/identity.py).

In the console harness each user name is its own account: "alice_tg" stands for alice's Telegram
account, "wang_tg" for wang's.
"""

from __future__ import annotations

import re
from datetime import timedelta

from tests.harness import Compound, Sent


def keys(sent: Sent, user: str) -> list[str]:
    return [m.key for m in sent.messages if m.kind == "private" and m.address == user]


def message(sent: Sent, user: str, key: str):
    found = [m for m in sent.messages if m.address == user and m.key == key]
    assert found, (user, key, [(m.address, m.key) for m in sent.messages])
    return found[0]


async def code_of(compound: Compound, user: str, word: str = "绑定码") -> str:
    sent = await compound.say("dm", user, word)
    code = message(sent, user, "identity.code").values["code"]
    assert re.fullmatch(r"[0-9]{8,}", code), code
    assert code in sent.to(user)[0]
    return code


async def person_of(compound: Compound, user: str):
    async with compound.app.db.read() as tx:
        return await tx.people.by_identity("console", user)


async def audited(compound: Compound, action: str) -> int:
    async with compound.app.db.read() as tx:
        return await tx.audit.count(action)


def no_oops(*steps: Sent) -> None:
    for sent in steps:
        assert "core.oops" not in [m.key for m in sent.messages]


async def test_mallory_cannot_take_over_a_captain_with_his_code(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    code = await code_of(compound, "wang")
    sent = await compound.say("dm", "mallory", f"绑定 {code}")
    assert keys(sent, "mallory") == ["identity.sent_to_owner"]
    ask = message(sent, "wang", "identity.confirm_ask")  # the owner is asked, privately
    assert ask.values["name"] == "mallory" and "确认绑定" in ask.plain_text()
    # nothing merged: mallory is still mallory, with no role
    assert (await person_of(compound, "mallory")).id != (await person_of(compound, "wang")).id
    sent = await compound.say("dm", "mallory", "受理 1 x")
    assert keys(sent, "mallory") == ["core.not_allowed"]
    sent = await compound.say("dm", "mallory", "驳回 1 滚")
    assert keys(sent, "mallory") == ["core.not_allowed"]
    # the one who typed the code cannot confirm it
    sent = await compound.say("dm", "mallory", "确认绑定")
    assert keys(sent, "mallory") == ["identity.nothing_to_confirm"]
    # wang says nothing: the request lapses, mallory is told, wang hears nothing more
    sent = await compound.advance(timedelta(minutes=11))
    assert keys(sent, "mallory") == ["identity.expired"] and keys(sent, "wang") == []
    sent = await compound.say("dm", "wang", "确认绑定")
    assert keys(sent, "wang") == ["identity.nothing_to_confirm"]
    assert (await person_of(compound, "mallory")).key is None
    sent = await compound.say("dm", "mallory", "受理 1 x")
    assert keys(sent, "mallory") == ["core.not_allowed"]
    sent = await compound.say("dm", "alice", "进度 1")
    assert "已受理" not in sent.to("alice")[0]
    # the code was used up: typing it again is just a wrong code
    sent = await compound.say("dm", "mallory", f"绑定 {code}")
    assert keys(sent, "mallory") == ["identity.bad_code"] and keys(sent, "wang") == []


async def test_a_resident_links_two_of_their_own_accounts(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    code = await code_of(compound, "alice")
    sent = await compound.say("dm", "alice_tg", f"绑定 {code}")
    assert keys(sent, "alice_tg") == ["identity.sent_to_owner"]
    assert keys(sent, "alice") == ["identity.confirm_ask"]
    sent = await compound.say("dm", "alice_tg", "我的报修")
    assert "#1" not in sent.to("alice_tg")[0]  # not before the confirmation
    sent = await compound.say("dm", "alice", "确认绑定")
    assert keys(sent, "alice") == ["identity.bound"] and keys(sent, "alice_tg") == ["identity.bound"]
    assert "绑定成功" in sent.to("alice")[0] and "绑定成功" in sent.to("alice_tg")[0]
    assert (await person_of(compound, "alice")).id == (await person_of(compound, "alice_tg")).id
    sent = await compound.say("dm", "alice_tg", "我的报修")
    assert "#1" in sent.to("alice_tg")[0]  # tickets follow
    assert await audited(compound, "person.bind") == 1
    sent = await compound.say("dm", "alice", "确认绑定")  # nothing left to confirm
    assert keys(sent, "alice") == ["identity.nothing_to_confirm"]


async def test_the_whole_flow_in_english(compound: Compound):
    code = await code_of(compound, "carol", "/link")
    sent = await compound.say("dm", "carol_tg", f"/bind {code}")
    assert "/confirmlink" in sent.to("carol_tg")[0]
    assert "/confirmlink" in sent.to("carol")[0]
    sent = await compound.say("dm", "carol", "/confirmlink")
    assert sent.to("carol") == [m for m in sent.to("carol") if m.startswith("Linked!")]
    assert sent.to("carol_tg")[0].startswith("Linked!")


async def test_a_captains_link_waits_for_the_admin(compound: Compound):
    await compound.say("b3", "alice", "报修 3栋电梯坏了")
    code = await code_of(compound, "wang")
    await compound.say("dm", "wang_tg", f"绑定 {code}")
    sent = await compound.say("dm", "wang", "确认绑定")
    ask = message(sent, "admin", "identity.admin_ask")
    number = ask.values["number"]
    assert "楼长" in ask.values["roles"] and "批准绑定" in ask.plain_text()
    assert keys(sent, "wang") == ["identity.waiting_admin"]
    assert keys(sent, "wang_tg") == ["identity.waiting_admin"]
    # not yet: wang_tg is no captain
    sent = await compound.say("dm", "wang_tg", "受理 1 马上来")
    assert keys(sent, "wang_tg") == ["core.not_allowed"]
    # only an admin may approve
    sent = await compound.say("dm", "wang", f"批准绑定 {number}")
    assert keys(sent, "wang") == ["core.not_allowed"]
    sent = await compound.say("dm", "admin", f"批准绑定 {number + 1}")
    assert keys(sent, "admin") == ["identity.no_request"]
    sent = await compound.say("dm", "admin", f"批准绑定 {number}")
    assert keys(sent, "admin") == ["identity.approved"]
    assert keys(sent, "wang") == ["identity.bound"] and keys(sent, "wang_tg") == ["identity.bound"]
    merged = await person_of(compound, "wang_tg")
    assert merged.key == "wang" and merged.id == (await person_of(compound, "wang")).id
    sent = await compound.say("dm", "wang_tg", "受理 1 马上来")
    assert "core.not_allowed" not in keys(sent, "wang_tg")
    assert await audited(compound, "person.link_approved") == 1


async def test_a_captain_typing_a_residents_code_also_needs_the_admin_who_may_refuse(
        compound: Compound):
    code = await code_of(compound, "wang_tg")  # the code made on the account without a role
    await compound.say("dm", "wang", f"绑定 {code}")
    sent = await compound.say("dm", "wang_tg", "确认绑定")
    number = message(sent, "admin", "identity.admin_ask").values["number"]
    sent = await compound.say("dm", "admin", f"/rejectlink {number}")
    assert keys(sent, "admin") == ["identity.rejected"]
    assert keys(sent, "wang") == ["identity.rejected_told"]
    assert keys(sent, "wang_tg") == ["identity.rejected_told"]
    assert (await person_of(compound, "wang_tg")).key is None
    sent = await compound.say("dm", "admin", f"批准绑定 {number}")
    assert keys(sent, "admin") == ["identity.no_request"]


async def test_an_unapproved_link_lapses_and_both_are_told(compound: Compound):
    code = await code_of(compound, "li")
    await compound.say("dm", "li_tg", f"绑定 {code}")
    await compound.say("dm", "li", "确认绑定")
    sent = await compound.advance(timedelta(days=3, minutes=1))
    assert keys(sent, "li") == ["identity.expired_admin"]
    assert keys(sent, "li_tg") == ["identity.expired_admin"]
    assert (await person_of(compound, "li_tg")).key is None


async def test_six_wrong_codes_are_refused_and_audited(compound: Compound):
    code = await code_of(compound, "wang")
    wrong = str(int(code) + 1 if int(code) < 99999999 else int(code) - 1)
    for left in (4, 3, 2, 1):
        sent = await compound.say("dm", "mallory", f"绑定 {wrong}")
        assert keys(sent, "mallory") == ["identity.bad_code"]
        assert message(sent, "mallory", "identity.bad_code").values["left"] == left
    sent = await compound.say("dm", "mallory", f"绑定 {wrong}")
    locked = message(sent, "mallory", "identity.bad_code_locked")
    assert locked.values["until"] == "12月1日 10:00"  # an hour after the fifth
    # the sixth is refused even with the right code: it is not looked at
    sent = await compound.say("dm", "mallory", f"绑定 {code}")
    assert keys(sent, "mallory") == ["identity.locked"] and "10:00" in sent.to("mallory")[0]
    assert "identity.confirm_ask" not in keys(sent, "wang")
    assert await audited(compound, "person.bind_failed") == 5
    assert await audited(compound, "person.bind_locked") == 1
    # an hour later, mallory may try again
    await compound.advance(timedelta(hours=1, minutes=1))
    sent = await compound.say("dm", "mallory", f"绑定 {wrong}")
    assert message(sent, "mallory", "identity.bad_code").values["left"] == 4


async def test_the_lock_speaks_english_to_who_writes_english(compound: Compound):
    for _ in range(4):
        sent = await compound.say("dm", "eve", "/bind 1234 5678")
        assert sent.to("eve")[0].startswith('The code "12345678" is wrong or has expired.')
    sent = await compound.say("dm", "eve", "/bind 1234 5678")
    assert "linking is paused until Dec 1 10:00" in sent.to("eve")[0]
    sent = await compound.say("dm", "eve", "/bind 1234 5678")
    assert sent.to("eve")[0].startswith("Too many wrong link codes in an hour")


async def test_code_owners_are_told_when_codes_are_being_guessed(compound: Compound):
    await code_of(compound, "wang")
    await code_of(compound, "alice")
    steps = []
    for guess in ("12345678", "87654321"):
        sent = await compound.say("dm", "mallory", f"绑定 {guess}")
        assert keys(sent, "wang") == [] and keys(sent, "alice") == []
        steps.append(sent)
    sent = await compound.say("dm", "carol", "绑定 11112222")  # a third wrong code, from anyone
    assert keys(sent, "wang") == ["identity.guessing"] and keys(sent, "alice") == ["identity.guessing"]
    assert message(sent, "wang", "identity.guessing").values["count"] == 3
    assert await audited(compound, "person.link_guessing") == 2
    sent = await compound.say("dm", "mallory", "绑定 22223333")  # told once per code
    assert keys(sent, "wang") == [] and keys(sent, "alice") == []
    no_oops(*steps, sent)


async def test_an_unconfirmed_request_expires(compound: Compound):
    code = await code_of(compound, "alice")
    await compound.say("dm", "alice_tg", f"绑定 {code}")
    sent = await compound.advance(timedelta(minutes=9))
    assert keys(sent, "alice_tg") == []
    sent = await compound.advance(timedelta(minutes=2))
    assert keys(sent, "alice_tg") == ["identity.expired"]
    sent = await compound.say("dm", "alice", "确认绑定")
    assert keys(sent, "alice") == ["identity.nothing_to_confirm"]
    assert (await person_of(compound, "alice")).id != (await person_of(compound, "alice_tg")).id
    assert await audited(compound, "person.link_expired") == 1


async def test_an_expired_code_is_refused(compound: Compound):
    code = await code_of(compound, "alice")
    await compound.advance(timedelta(minutes=16))
    sent = await compound.say("dm", "alice_tg", f"绑定 {code}")
    assert keys(sent, "alice_tg") == ["identity.bad_code"] and keys(sent, "alice") == []


async def test_typing_your_own_code_is_refused_and_the_code_still_works(compound: Compound):
    code = await code_of(compound, "alice")
    sent = await compound.say("dm", "alice", f"绑定 {code}")
    assert keys(sent, "alice") == ["identity.same_account"]
    sent = await compound.say("dm", "alice_tg", f"绑定 「{code[:4]} {code[4:]}」")  # as copied
    assert keys(sent, "alice_tg") == ["identity.sent_to_owner"]


async def test_a_new_code_withdraws_an_unconfirmed_request(compound: Compound):
    first = await code_of(compound, "alice")
    await compound.say("dm", "mallory", f"绑定 {first}")
    sent = await compound.say("dm", "alice", "绑定码")
    assert keys(sent, "mallory") == ["identity.withdrawn"]
    second = message(sent, "alice", "identity.code").values["code"]
    await compound.say("dm", "alice_tg", f"绑定 {second}")
    sent = await compound.say("dm", "alice", "确认绑定")
    assert keys(sent, "alice_tg") == ["identity.bound"] and keys(sent, "mallory") == []
    assert (await person_of(compound, "mallory")).id != (await person_of(compound, "alice")).id


async def test_two_listed_people_are_not_joined_in_chat(compound: Compound):
    code = await code_of(compound, "wang")
    sent = await compound.say("dm", "li", f"绑定 {code}")
    assert keys(sent, "li") == ["identity.both_listed"] and keys(sent, "wang") == []


async def test_usage_and_groups(compound: Compound):
    sent = await compound.say("dm", "alice", "绑定")
    assert keys(sent, "alice") == ["identity.usage.bind"]
    sent = await compound.say("dm", "admin", "批准绑定 abc")
    assert keys(sent, "admin") == ["identity.not_a_number"]
    sent = await compound.say("b3", "alice", "确认绑定")
    assert [m.key for m in sent.messages] == ["core.private_only"]
    assert await audited(compound, "person.bind_failed") == 0

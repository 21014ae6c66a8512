"""Shared fixtures: a demo compound on a manual clock with a real SQLite file."""

from __future__ import annotations

import pytest

from tests.harness import Compound


@pytest.fixture
async def compound(tmp_path):
    compound = await Compound.open(tmp_path)
    yield compound
    await compound.close()

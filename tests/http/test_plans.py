"""GET /plans (public) and the usage report, with the tier table's prices and limits
(core/tiers.py: Pro $9.99 a month or $99.90 a year; Free 5 analyses a month, 180 days of
history; Coach unlimited)."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import bearer, register


def _by_feature(limits: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["feature"]: item for item in limits}


async def test_plans_are_public_with_prices_in_cents_and_every_limit_spelled_out(
    client: AsyncTestClient[Litestar],
) -> None:
    response = await client.get("/plans")
    assert response.status_code == 200
    plans = response.json()["plans"]
    assert [p["id"] for p in plans] == ["free", "pro", "coach"]
    free, pro, coach = plans
    assert pro["name"] == "Pro"
    assert pro["currency"] == "usd"
    assert pro["prices"] == [
        {"billing_period": "month", "amount_cents": 999},
        {"billing_period": "year", "amount_cents": 9990},
    ]
    assert len(free["limits"]) == 9
    f, c = _by_feature(free["limits"]), _by_feature(coach["limits"])
    assert f["ai_workout_analysis"] == {
        "feature": "ai_workout_analysis",
        "measure": "per_month",
        "kind": "capped",
        "maximum": 5,
        "text": "5 per month",
    }
    assert f["history_days"]["text"] == "180 days"
    assert f["data_export"]["text"] == "not included"
    assert c["ai_workout_analysis"]["kind"] == "unlimited"
    assert c["ai_workout_analysis"]["text"] == "unlimited"
    assert c["ai_workout_analysis"]["maximum"] is None
    assert c["race_strategy"]["text"] == "included"


async def test_usage_shows_each_limit_what_is_used_and_when_it_resets(
    client: AsyncTestClient[Litestar],
) -> None:
    auth = bearer((await register(client, "ivo@example.com"))["access_token"])
    response = await client.get("/me/usage", headers=auth)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["plan"], body["timezone"]) == ("free", "UTC")
    items = {i["limit"]["feature"]: i for i in body["features"]}
    analysis = items["ai_workout_analysis"]
    # The test clock is 2026-03-02 08:00 UTC: the month resets on 1 April, the day at midnight.
    assert (analysis["used"], analysis["window"]) == (0, "2026-03")
    assert analysis["resets_at"] == "2026-04-01T00:00:00Z"
    assert items["ai_chat_message"]["resets_at"] == "2026-03-03T00:00:00Z"
    assert items["history_days"]["visible_from"] == "2025-09-04T00:00:00Z"
    assert items["active_ai_plans"]["used"] is None
    unauthenticated = await client.get("/me/usage")
    assert unauthenticated.status_code == 401

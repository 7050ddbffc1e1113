"""GET /admin/metrics on a seeded dataset, and PUT /admin/plans/{id}.

Purchases go through the fake checkout and the fake gateway's signed webhooks (the `make run`
path). Prices are the tier table's (core/tiers.py): Pro 999 a month or 9,990 a year, Coach
2,999 or 29,990, in cents. The grace period is the default 7 days.

The dataset, at 2026-03-10 08:00 UTC (8 days after the test clock's start):
- u1 Pro monthly, u2 Pro yearly, u3 Coach monthly, u4 Coach yearly: active;
- u5 Pro monthly, canceled on 10 March: churned this month;
- u6 Pro monthly, renewal failed on 10 March: past due within the grace period (still paying);
- u7 Pro monthly, renewal failed on 2 March: past due beyond the 7-day grace (Free now);
- the administrator: no subscription. Eight users in all.
Expected: 5 paying users; Pro 3 (2 monthly, 1 yearly), Coach 2 (1 and 1);
MRR = monthly 999 + 999 + 2,999 = 4,997, plus yearly (9,990 + 29,990) / 12 = 3,331.67, rounded
half up once to 3,332: 8,329 cents. Conversion 5 / 8 = 0.625; churn 1 / (1 + 5) = 0.166667.
Active in the last 7 days: the administrator, u1 and u7 sign in again on 10 March: 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.http.conftest import BASE_URL, PASSWORD, bearer, register
from training_analyzer.adapters.memory.clock import FakeClock
from training_analyzer.adapters.memory.payments import FakePaymentGateway, SignedWebhook
from training_analyzer.container import AppContainer


async def _make_admin(db: Path, email: str) -> None:
    async with aiosqlite.connect(db) as conn:
        await conn.execute("UPDATE users SET role = 'admin' WHERE email = ?", (email,))
        await conn.commit()


async def _login(client: AsyncTestClient[Litestar], email: str) -> dict[str, str]:
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return bearer(response.json()["access_token"])


async def _buy(
    client: AsyncTestClient[Litestar], auth: dict[str, str], plan: str, period: str
) -> str:
    response = await client.post(
        "/billing/checkout", json={"plan": plan, "period": period}, headers=auth
    )
    assert response.status_code == 201, response.text
    done = await client.post(response.json()["url"].removeprefix(BASE_URL), follow_redirects=False)
    assert done.status_code == 303
    subscription = (await client.get("/me/subscription", headers=auth)).json()
    sub_id: str = subscription["subscription_id"]
    return sub_id


async def _send(client: AsyncTestClient[Litestar], hooks: tuple[SignedWebhook, ...]) -> None:
    for hook in hooks:
        response = await client.post(
            "/webhooks/stripe",
            content=hook.payload,
            headers={"Stripe-Signature": hook.signature_header},
        )
        assert response.status_code == 200, response.text


async def test_metrics_on_a_seeded_dataset(
    client: AsyncTestClient[Litestar], container: AppContainer, clock: FakeClock, db_path: Path
) -> None:
    gateway = container.payments()
    assert isinstance(gateway, FakePaymentGateway)
    await register(client, "admin@example.com")
    await _make_admin(db_path, "admin@example.com")
    subs: dict[str, str] = {}
    for name, plan, period in (
        ("u1", "pro", "month"),
        ("u2", "pro", "year"),
        ("u3", "coach", "month"),
        ("u4", "coach", "year"),
        ("u5", "pro", "month"),
        ("u6", "pro", "month"),
        ("u7", "pro", "month"),
    ):
        auth = bearer((await register(client, f"{name}@example.com"))["access_token"])
        subs[name] = await _buy(client, auth, plan, period)
    await _send(client, gateway.fail_renewal(subscription_id=subs["u7"], now=clock.now()))
    clock.advance(days=8)
    await _send(client, gateway.fail_renewal(subscription_id=subs["u6"], now=clock.now()))
    await _send(client, gateway.cancel_subscription(subscription_id=subs["u5"], now=clock.now()))
    admin = await _login(client, "admin@example.com")
    await _login(client, "u1@example.com")
    await _login(client, "u7@example.com")

    response = await client.get("/admin/metrics", headers=admin)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["as_of"] == "2026-03-10T08:00:00Z"
    assert body["users"] == 8
    assert body["paying_users"] == 5
    assert body["active_subscriptions"] == [
        {"plan": "pro", "total": 3, "monthly": 2, "yearly": 1},
        {"plan": "coach", "total": 2, "monthly": 1, "yearly": 1},
    ]
    assert body["mrr_cents"] == 8_329
    assert body["currency"] == "usd"
    assert body["free_to_paid_conversion"] == 0.625
    assert body["churned_this_month"] == 1
    assert body["churn_rate_this_month"] == 0.166667
    assert body["active_users_last_7_days"] == 3


async def test_metrics_and_plans_are_for_administrators_only(
    client: AsyncTestClient[Litestar],
) -> None:
    auth = bearer((await register(client, "someone@example.com"))["access_token"])
    assert (await client.get("/admin/metrics")).status_code == 401
    assert (await client.get("/admin/metrics", headers=auth)).status_code == 403
    change = {"limits": {"ai_workout_analysis": {"type": "capped", "maximum": 9}}}
    assert (await client.put("/admin/plans/free", json=change, headers=auth)).status_code == 403


async def test_an_admin_changes_a_limit_and_plans_and_the_gate_follow(
    client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    await register(client, "admin@example.com")
    await _make_admin(db_path, "admin@example.com")
    admin = await _login(client, "admin@example.com")
    change = {
        "limits": {
            "ai_workout_analysis": {"type": "capped", "maximum": 9},
            "history_days": {"type": "unlimited"},
        }
    }
    response = await client.put("/admin/plans/free", json=change, headers=admin)
    assert response.status_code == 200, response.text
    limits = {item["feature"]: item for item in response.json()["limits"]}
    assert limits["ai_workout_analysis"]["text"] == "9 per month"
    assert limits["history_days"]["text"] == "unlimited"
    assert limits["ai_chat_message"]["maximum"] == 10  # untouched
    plans = (await client.get("/plans")).json()["plans"]
    free = {item["feature"]: item for item in plans[0]["limits"]}
    assert free["ai_workout_analysis"]["maximum"] == 9
    usage = (await client.get("/me/usage", headers=admin)).json()
    history = [i for i in usage["features"] if i["limit"]["feature"] == "history_days"]
    assert history[0]["visible_from"] is None


async def test_a_limit_that_does_not_fit_its_feature_is_400(
    client: AsyncTestClient[Litestar], db_path: Path
) -> None:
    await register(client, "admin@example.com")
    await _make_admin(db_path, "admin@example.com")
    admin = await _login(client, "admin@example.com")
    changes: list[dict[str, Any]] = [
        {"limits": {"data_export": {"type": "capped", "maximum": 3}}},
        {"limits": {"ai_workout_analysis": {"type": "capped", "maximum": 0}}},
        {"limits": {"no_such_feature": {"type": "unlimited"}}},
        {"limits": {}},
    ]
    for change in changes:
        response = await client.put("/admin/plans/free", json=change, headers=admin)
        assert response.status_code == 400, (change, response.text)
    unknown = await client.put(
        "/admin/plans/platinum",
        json={"limits": {"ai_workout_analysis": {"type": "unlimited"}}},
        headers=admin,
    )
    assert unknown.status_code == 404

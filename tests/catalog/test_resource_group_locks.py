"""Resource-group changes of one organization in flight together: each applies whole, none deadlocks.

Two groups created at once, naming the same repos in opposite orders, each moved one repo and waited for the
other's; a group deleted while another was created with its repos did the same through the deletion's
cascade. PostgreSQL aborted one of them: a 500.
"""

from __future__ import annotations

import asyncio

from tests.catalog.conftest import Catalog


async def test_group_changes_naming_the_same_repos_in_opposite_orders_all_apply(catalog: Catalog) -> None:
    token = await catalog.user("boss", orgs={"acme": "admin"})
    names = [f"acme/r{i}" for i in range(6)]
    for name in names:
        status, _, body = await catalog.call(
            "POST", "/api/repos/create", token=token, json={"name": name.split("/")[1], "organization": "acme"}
        )
        assert status == 200, body
    repos = [{"type": "model", "name": n} for n in names]
    groups = "/api/organizations/acme/resource-groups"
    for round_ in range(10):
        answers = await asyncio.gather(
            catalog.call("POST", groups, token=token, json={"name": f"up-{round_}", "repos": repos}),
            catalog.call("POST", groups, token=token, json={"name": f"down-{round_}", "repos": repos[::-1]}),
        )
        assert [a[0] for a in answers] == [200, 200], [a[2] for a in answers]
        # Then delete one while a third takes the repos back, again in the opposite order.
        gone = answers[0][2]["id"]
        answers = await asyncio.gather(
            catalog.call("DELETE", f"{groups}/{gone}", token=token),
            catalog.call("POST", groups, token=token, json={"name": f"back-{round_}", "repos": repos[::-1]}),
        )
        assert [a[0] for a in answers] == [200, 200], [a[2] for a in answers]

"""`GET /v1/stream`: the agency's feed live over real Kafka and PostgreSQL: each event once,
in order, with its cursor as id; resume from `Last-Event-ID`; gaps in the topic healed from
the database; heartbeats; the stream ends when the token expires; a slow reader is dropped
while others go on; never another agency's events; what each role sees."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from agencyos.common.web import ServiceContext
from agencyos.notification.app import build_stream_app
from agencyos.notification.feed.cursor import encode
from agencyos.testing.feed_events import invoice_event, notice_event, project_event, task_event
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency
from agencyos.testing.sse import EventStream, StreamingASGITransport, open_stream

from .conftest import StreamRig, data

PATH = "/v1/stream"


async def ready(stream: EventStream) -> str:
    event = await stream.ready()
    assert event.id is not None
    return event.id


class TestLive:
    async def test_an_event_arrives_once_with_its_cursor_as_id(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            assert live.status_code == 200, await live.response.aread()
            assert live.response.headers["content-type"].startswith("text/event-stream")
            assert live.response.headers["cache-control"] == "no-cache"
            assert live.response.headers["x-accel-buffering"] == "no"
            assert "content-length" not in live.response.headers
            head = await ready(live)
            assert head == encode(0)
            [entry] = await stream.record(tenant.id, task_event(tenant.id, project))
            event = await live.next()
            assert (event.event, event.id) == ("work.task.created", entry.cursor)
            body = data(event)
            assert body["cursor"] == entry.cursor
            assert body["id"] == str(entry.event_id)
            assert body["data"]["project_id"] == str(project)
            assert "traceparent" not in body
            assert "connected" in live.comments

    async def test_ready_names_the_head_so_a_client_can_resume_from_it(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        entries = await stream.record(tenant.id, task_event(tenant.id, uuid.uuid4()))
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            assert await ready(live) == entries[-1].cursor

    async def test_types_keeps_only_the_types_asked_for(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        client = uuid.uuid4()
        async with open_stream(
            stream.http, PATH, headers=tenant.owner.headers, params={"types": "billing.*"}
        ) as live:
            await ready(live)
            await stream.record(tenant.id, task_event(tenant.id, uuid.uuid4()))
            [invoice] = await stream.record(tenant.id, invoice_event(tenant.id, client))
            event = await live.next()
            assert (event.event, event.id) == ("billing.invoice.sent", invoice.cursor)

    async def test_a_bad_types_filter_is_a_400_naming_types(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        response = await stream.http.get(
            PATH, params={"types": "Work!"}, headers=tenant.owner.headers
        )
        assert_problem(response, 400)
        assert response.json()["errors"][0]["field"] == "types"

    async def test_without_a_token_it_is_a_401(self, stream: StreamRig) -> None:
        assert_problem(await stream.http.get(PATH), 401)


class TestResume:
    async def test_last_event_id_gets_every_missed_event_once_then_live_ones(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        # not on the topic yet: the catch-up is the database's (test_resume: the hub's memory)
        first, *missed = await stream.record(
            tenant.id,
            *(task_event(tenant.id, project, title=f"t{i}") for i in range(5)),
            publish=False,
        )
        headers = {**tenant.owner.headers, "Last-Event-ID": first.cursor}
        async with open_stream(stream.http, PATH, headers=headers) as live:
            caught_up = await live.until(lambda e: e.event == "ready")
            assert [e.id for e in caught_up[:-1]] == [e.cursor for e in missed]
            assert caught_up[-1].id == missed[-1].cursor
            # published twice (a redelivery), and the already-sent ones again: each once
            await stream.publish(missed)
            [fresh] = await stream.record(tenant.id, task_event(tenant.id, project))
            await stream.publish([fresh])
            [newer] = await stream.record(tenant.id, task_event(tenant.id, project))
            got = await live.until(lambda e: e.id == newer.cursor)
            assert [e.id for e in got] == [fresh.cursor, newer.cursor]

    async def test_after_resumes_like_last_event_id(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        first, second = await stream.record(
            tenant.id, *(task_event(tenant.id, uuid.uuid4()) for _ in range(2)), publish=False
        )
        async with open_stream(
            stream.http, PATH, headers=tenant.owner.headers, params={"after": first.cursor}
        ) as live:
            assert (await live.next()).id == second.cursor

    async def test_paging_through_a_long_catch_up_misses_nothing(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        stream.tune(stream_catch_up_page=3)
        entries = await stream.record(
            tenant.id, *(task_event(tenant.id, uuid.uuid4()) for _ in range(10)), publish=False
        )
        headers = {**tenant.owner.headers, "Last-Event-ID": encode(0)}
        async with open_stream(stream.http, PATH, headers=headers) as live:
            got = await live.until(lambda e: e.event == "ready")
            assert [e.id for e in got[:-1]] == [e.cursor for e in entries]

    async def test_an_id_that_is_not_a_cursor_is_a_400(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        headers = {**tenant.owner.headers, "Last-Event-ID": "42"}
        response = await stream.http.get(PATH, headers=headers)
        assert_problem(response, 400)
        assert response.json()["errors"][0]["field"] == "Last-Event-ID"

    async def test_a_cursor_past_the_agencys_head_is_a_400(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        response = await stream.http.get(
            PATH, params={"after": encode(999)}, headers=tenant.owner.headers
        )
        assert_problem(response, 400)
        assert response.json()["errors"][0]["field"] == "after"

    async def test_a_cursor_retention_has_passed_is_a_410(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        # not published: retention only passes events older than the hub's memory keeps
        # (test_resume covers one the hub held, aged out)
        entries = await stream.record(
            tenant.id, *(task_event(tenant.id, uuid.uuid4()) for _ in range(3)), publish=False
        )
        await stream.service.rows("UPDATE feed_heads SET pruned_through = 2", tenant_id=tenant.id)
        headers = {**tenant.owner.headers, "Last-Event-ID": entries[0].cursor}
        assert_problem(await stream.http.get(PATH, headers=headers), 410)


class TestGaps:
    async def test_an_entry_the_topic_never_carried_is_read_from_the_database(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            await ready(live)
            lost = await stream.record(tenant.id, task_event(tenant.id, project), publish=False)
            later = await stream.record(tenant.id, task_event(tenant.id, project))
            got = [await live.next(), await live.next()]
            assert [e.id for e in got] == [lost[0].cursor, later[0].cursor]

    async def test_n_plus_2_before_n_plus_1_comes_out_in_order_once(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        project = uuid.uuid4()
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            await ready(live)
            first, second = await stream.record(
                tenant.id, *(task_event(tenant.id, project) for _ in range(2)), publish=False
            )
            await stream.publish([second])
            await stream.publish([first])
            [third] = await stream.record(tenant.id, task_event(tenant.id, project))
            got = await live.until(lambda e: e.id == third.cursor)
            assert [e.id for e in got] == [first.cursor, second.cursor, third.cursor]


class TestLifetime:
    async def test_a_heartbeat_comment_comes_every_interval(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        stream.tune(stream_heartbeat_seconds=0.2)
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            await ready(live)
            started = time.monotonic()
            await live.comment("heartbeat", timeout=3)
            await live.comment("heartbeat", timeout=3)
            assert time.monotonic() - started < 3

    async def test_the_stream_ends_when_the_token_expires(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        owner = tenant.owner
        token = tenant.keys.mint(
            sub=str(owner.user_id),
            tid=str(tenant.id),
            role="owner",
            sid=uuid.uuid4().hex,
            exp=int(time.time()) + 2,
        )
        async with open_stream(
            stream.http, PATH, headers={"Authorization": f"Bearer {token}"}
        ) as live:
            await ready(live)
            closed = await live.next(timeout=6)
            assert (closed.event, data(closed)) == ("stream.closed", {"reason": "token_expired"})
            assert await live.next_or_end(timeout=3) is None

    async def test_the_stream_ends_soon_after_its_token_is_revoked(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        stream.tune(stream_revocation_check_seconds=0.2)
        owner = tenant.owner
        ctx: ServiceContext = stream.app.state.ctx
        async with open_stream(stream.http, PATH, headers=owner.headers) as live:
            await ready(live)
            await asyncio.sleep(0.6)  # a few checks pass while the token stands
            # e.g. the owner was suspended: their tokens issued before now are refused
            await ctx.revocations.revoke_user(tenant.id, owner.user_id, ttl_seconds=60)

            closed = await live.next(timeout=5)
            assert (closed.event, data(closed)) == ("stream.closed", {"reason": "token_revoked"})
            assert await live.next_or_end(timeout=3) is None

    async def test_a_client_too_slow_is_dropped_while_another_keeps_receiving(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        stream.tune(stream_queue_size=5)
        project = uuid.uuid4()
        async with (
            open_stream(stream.http, PATH, headers=tenant.owner.headers) as slow,
            open_stream(stream.http, PATH, headers=tenant.owner.headers) as reader,
        ):
            await ready(slow)
            await ready(reader)
            assert stream.hub.open_connections == 2
            reading = asyncio.create_task(reader.until(lambda e: e.event == "work.task.deleted"))
            entries = [
                *await stream.record(
                    tenant.id, *(task_event(tenant.id, project) for _ in range(20))
                ),
                *await stream.record(
                    tenant.id, task_event(tenant.id, project, event_type="work.task.deleted")
                ),
            ]
            got = await reading
            assert [e.id for e in got] == [e.cursor for e in entries]
            # the slow one was dropped: what was on its way, then the end
            rest = await slow.rest(timeout=5)
            assert len(rest) < len(entries)
            assert stream.hub.open_connections == 1

    async def test_a_shutdown_ends_every_stream_with_shutdown_and_refuses_new_ones(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            await ready(live)
            stream.hub.drain()
            try:
                closed = await live.next()
                assert (closed.event, data(closed)) == ("stream.closed", {"reason": "shutdown"})
                assert await live.next_or_end() is None
                refused = await stream.http.get(PATH, headers=tenant.owner.headers)
                assert_problem(refused, 503)
            finally:
                stream.hub.draining = False

    async def test_a_stream_whose_client_went_away_is_forgotten(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            await ready(live)
            assert stream.hub.open_connections == 1
        for _ in range(50):
            if stream.hub.open_connections == 0:
                break
            await asyncio.sleep(0.05)
        assert stream.hub.open_connections == 0


class TestWhoSeesWhat:
    async def test_another_agencys_events_never_arrive(
        self, stream: StreamRig, tenant: Agency, other_tenant: Agency
    ) -> None:
        async with open_stream(stream.http, PATH, headers=tenant.owner.headers) as live:
            await ready(live)
            await stream.record(
                other_tenant.id, *(task_event(other_tenant.id, uuid.uuid4()) for _ in range(3))
            )
            [mine] = await stream.record(tenant.id, task_event(tenant.id, uuid.uuid4()))
            event = await live.next()
            assert event.id == mine.cursor
            assert data(event)["tenantid"] == str(tenant.id)

    async def test_a_member_sees_their_projects_and_no_money(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        theirs, other = uuid.uuid4(), uuid.uuid4()
        await stream.project(tenant.id, theirs, member.user_id)
        async with open_stream(stream.http, PATH, headers=member.headers) as live:
            await ready(live)
            await stream.record(
                tenant.id,
                task_event(tenant.id, other),
                invoice_event(tenant.id, uuid.uuid4()),
                notice_event(tenant.id, tenant.owner.user_id),
            )
            seen, mine = await stream.record(
                tenant.id, task_event(tenant.id, theirs), notice_event(tenant.id, member.user_id)
            )
            got = [await live.next(), await live.next()]
            assert [e.id for e in got] == [seen.cursor, mine.cursor]
            assert got[1].event == "notification.notice.created"

    async def test_a_member_added_to_a_project_sees_it_from_then_on(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        member = tenant.caller("member")
        project = uuid.uuid4()
        async with open_stream(stream.http, PATH, headers=member.headers) as live:
            await ready(live)
            await stream.record(tenant.id, task_event(tenant.id, project, title="before"))
            added, after = await stream.record(
                tenant.id,
                project_event(tenant.id, project, [member.user_id]),
                task_event(tenant.id, project, title="after"),
            )
            got = [await live.next(), await live.next()]
            assert [e.id for e in got] == [added.cursor, after.cursor]
            # rates are for whoever may write them
            assert "hourly_rate_cents" not in data(got[0])["data"]["project"]
            _removed, _hidden, shown = await stream.record(
                tenant.id,
                project_event(tenant.id, project, []),
                task_event(tenant.id, project, title="gone"),
                notice_event(tenant.id, member.user_id),
            )
            assert (await live.next()).id == shown.cursor

    async def test_a_manager_sees_every_project_and_invoices(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        manager = tenant.caller("manager")
        async with open_stream(stream.http, PATH, headers=manager.headers) as live:
            await ready(live)
            entries = await stream.record(
                tenant.id,
                task_event(tenant.id, uuid.uuid4()),
                invoice_event(tenant.id, uuid.uuid4()),
            )
            got = [await live.next(), await live.next()]
            assert [e.id for e in got] == [e.cursor for e in entries]

    async def test_a_client_user_sees_only_their_clients_visible_events_trimmed(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        client_user = tenant.caller("client")
        assert client_user.client_id is not None
        theirs, others = uuid.uuid4(), uuid.uuid4()
        clients = {theirs: client_user.client_id, others: uuid.uuid4()}
        async with open_stream(stream.http, PATH, headers=client_user.headers) as live:
            await ready(live)
            await stream.record(
                tenant.id,
                task_event(tenant.id, theirs, visible_to_client=False),
                task_event(tenant.id, others, visible_to_client=True),
                invoice_event(tenant.id, uuid.uuid4()),
                project_clients=clients,
            )
            task, invoice = await stream.record(
                tenant.id,
                task_event(tenant.id, theirs, visible_to_client=True),
                invoice_event(tenant.id, client_user.client_id),
                project_clients=clients,
            )
            got = [await live.next(), await live.next()]
            assert [e.id for e in got] == [task.cursor, invoice.cursor]
            assert "assignee_ids" not in data(got[0])["data"]
            assert "column_id" not in data(got[0])["data"]


class TestStreamProcess:
    async def test_the_stream_mode_serves_the_stream_health_and_metrics_alone(
        self, stream: StreamRig, tenant: Agency
    ) -> None:
        ctx = ServiceContext("notification", stream.settings)
        app = build_stream_app(ctx)
        try:
            async with (
                httpx.AsyncClient(
                    transport=StreamingASGITransport(app), base_url="http://stream"
                ) as http,
                app.router.lifespan_context(app),
            ):
                assert (await http.get("/healthz")).status_code == 200
                assert (await http.get("/metrics")).status_code == 200
                assert_problem(
                    await http.get("/v1/notifications", headers=tenant.owner.headers), 404
                )
                async with open_stream(http, PATH, headers=tenant.owner.headers) as live:
                    await ready(live)
                    [entry] = await stream.record(tenant.id, task_event(tenant.id, uuid.uuid4()))
                    assert (await live.next()).id == entry.cursor
                    metrics = (await http.get("/metrics")).text
                    assert "agencyos_stream_connections 1.0" in metrics
        finally:
            await ctx.close()

from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app
from agencyos.work.board.endpoints import router as board_router
from agencyos.work.deliverable.endpoints import router as deliverables_router
from agencyos.work.file.endpoints import router as files_router
from agencyos.work.milestone.endpoints import router as milestones_router
from agencyos.work.project.endpoints import router as projects_router
from agencyos.work.task.activity_endpoints import router as activity_router
from agencyos.work.task.comment_endpoints import router as comments_router
from agencyos.work.task.endpoints import router as tasks_router
from agencyos.work.task.follower_endpoints import router as followers_router
from agencyos.work.template.endpoints import router as templates_router


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS work",
        description=(
            "Work: projects, templates, boards, tasks, milestones, deliverables and files."
        ),
        routers=[
            projects_router,
            templates_router,
            board_router,
            tasks_router,
            comments_router,
            followers_router,
            activity_router,
            milestones_router,
            deliverables_router,
            files_router,
        ],
    )

"""`GET /export?format=json|csv`: a zip of all the user's data (Pro and Coach).

The export gate decides first: a plan without export answers 402 with the problem body the
gate builds (feature, limit, used, resets_at, upgrade_to).
"""

from __future__ import annotations

from typing import Annotated, Final

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from training_analyzer.container import AppContainer
from training_analyzer.core.identity import AccessClaims
from training_analyzer.services.export import ExportFormat


@get(
    "/export",
    tags=["export"],
    summary="Download all my data as a zip (Pro and Coach)",
    description=(
        "`format=json` (default) puts one JSON document per kind of data in the zip, "
        "`format=csv` one CSV table each; streams are one file per activity. Free: 402 naming "
        "the plan to upgrade to."
    ),
    media_type="application/zip",
)
async def export_data(
    container: NamedDependency[AppContainer],
    claims: NamedDependency[AccessClaims],
    fmt: Annotated[ExportFormat, QueryParameter(name="format")] = ExportFormat.JSON,
) -> Response[bytes]:
    """Build and answer the archive."""
    export = await container.export()
    archive = await export.export(user_id=claims.user_id, fmt=fmt)
    return Response(
        archive.content,
        media_type=archive.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{archive.filename}"',
            "Cache-Control": "no-store",
        },
    )


ROUTES: Final = [export_data]

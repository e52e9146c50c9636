from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from agencyos.common.fields import Omittable
from agencyos.common.types import MultiLine

# work's limit on a decision's comment.
COMMENT_MAX = 10_000

DecisionComment = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=COMMENT_MAX),
    MultiLine,
]


class DeliverableApproval(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"comment": "Looks great, thanks!"}]}
    )
    comment: Omittable[DecisionComment] = None


class DeliverableChangesRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"comment": "Please use our new brand colours."}]},
    )
    comment: DecisionComment

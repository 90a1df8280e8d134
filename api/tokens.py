"""`POST /v1/tokens`: a proof-of-work token, the first step of every submission.

Anyone may ask; a token costs the server one HMAC and nothing stored. The work it asks
for (`bits`) comes from the KDF profile; the client binds its solution to the records it
will declare (docs/submissions.md, step 4).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, status
from pydantic import BaseModel

from api.submissions import SubmissionsDep, rate_limited

router = APIRouter(prefix="/tokens", tags=["submissions"])


class TokenOut(BaseModel):
    token: str
    bits: int


@router.post(
    "", status_code=status.HTTP_201_CREATED, dependencies=[Depends(rate_limited("tokens"))]
)
def issue_token(submissions: SubmissionsDep) -> TokenOut:
    """A fresh token, valid for about ten minutes and for one submission."""
    return TokenOut(token=submissions.pow.issue(), bits=submissions.pow.bits)

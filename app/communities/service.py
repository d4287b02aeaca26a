"""Rules of communities: the IDM score and status."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from app.communities.models import IdmStatus

# Upper bounds (inclusive) of each status, from Permendesa PDTT 2/2016.
IDM_THRESHOLDS: tuple[tuple[Decimal, IdmStatus], ...] = (
    (Decimal("0.4907"), IdmStatus.sangat_tertinggal),
    (Decimal("0.5989"), IdmStatus.tertinggal),
    (Decimal("0.7072"), IdmStatus.berkembang),
    (Decimal("0.8155"), IdmStatus.maju),
)


def idm_score(iks: Decimal, ike: Decimal, ikl: Decimal) -> Decimal:
    """Exact decimal mean, rounded half-up to 4 places (no float drift at the boundaries)."""
    return ((iks + ike + ikl) / 3).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def idm_status(score: Decimal) -> IdmStatus:
    for upper, status in IDM_THRESHOLDS:
        if score <= upper:
            return status
    return IdmStatus.mandiri

"""The implemented review types. Adding one: its module, and one line here.

The models never import this: `Task` reaches it through the tasks app config
(tasks/apps.py), because every review module imports the models.
"""

from __future__ import annotations

from tasks.reviews import database_review, health_check, log_analysis
from tasks.reviews.review import Review


def registry(*reviews: Review) -> dict[str, Review]:
    return {review.name: review for review in reviews}


REVIEWS: dict[str, Review] = registry(
    health_check.REVIEW,
    log_analysis.REVIEW,
    database_review.REVIEW,
)

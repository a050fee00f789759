"""A workshop, the learners who joined it, and the gradings they sent."""

from django.db import models


class Workshop(models.Model):
    """One session in a room: its join code admits learners, its lead token opens the board."""

    title = models.CharField(max_length=120)
    join_code = models.CharField(max_length=16, unique=True)
    lead_token_hash = models.CharField(max_length=64, unique=True)
    stuck_minutes = models.PositiveIntegerField(default=10)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.title


class Learner(models.Model):
    """Someone in the room, known by the name they joined with and the token their gradings carry."""

    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="learners")
    name = models.CharField(max_length=80)
    token_hash = models.CharField(max_length=64, unique=True)
    helped_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workshop", "name"], name="workshop_learner_name_unique")]

    def __str__(self) -> str:
        return self.name


class Grading(models.Model):
    """One grading of one kata by one learner: counts and failing checks, never code."""

    class Status(models.TextChoices):
        SOLVED = "solved"
        FAILING = "failing"
        INCOMPLETE = "incomplete"
        BROKEN = "broken"

    learner = models.ForeignKey(Learner, on_delete=models.CASCADE, related_name="gradings")
    grading_id = models.CharField(max_length=64)  # the learner's own id: a replayed post is recognised by it
    kata = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    passed = models.PositiveIntegerField()
    failed = models.PositiveIntegerField()
    failing = models.JSONField(default=list)  # [{"check": …, "rule": …}]
    attempt = models.PositiveIntegerField()
    graded_at = models.DateTimeField()  # the learner's clock: shown, never used to order
    received_at = models.DateTimeField()  # the board's clock: what the board orders by
    source = models.CharField(max_length=16, default="cli")
    body_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["learner", "grading_id"], name="workshop_grading_id_unique"),
        ]
        indexes = [
            models.Index(fields=["received_at", "id"], name="workshop_grading_received_idx"),
            models.Index(fields=["learner", "kata", "received_at"], name="workshop_grading_kata_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kata} {self.status}"

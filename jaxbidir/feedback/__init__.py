"""Feedback between teacher and student: the fused training step of every mode (`make_train`),
where each mode's hints come from (`sources`), the hint schedule and the student's scores of
hints (`hints`), and the teacher's KL-regularized reward-weighted update (`teacher_update`)."""

from .sources import SOURCES, HintSource, make_source
from .teacher_update import TeacherState
from .train import make_train

__all__ = ["SOURCES", "HintSource", "TeacherState", "make_source", "make_train"]

"""Feedback between teacher and student: the fused training step of every mode (`make_train`),
the hint schedule and the student's scores of hints (`hints`), and the teacher's
KL-regularized reward-weighted update (`teacher_update`)."""

from .train import TEACHER_MODES, TeacherState, Trainer, load_teacher, make_train

__all__ = ["TEACHER_MODES", "TeacherState", "Trainer", "load_teacher", "make_train"]

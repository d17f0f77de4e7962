"""GLAM's MixedTrainLocal / MixedTestLocal on the real minigrid classes, for the parity tests.

minigrid 3.2 on PyPI does not ship these levels, so this re-states GLAM's generator (Carta et
al. 2023) on minigrid's own `RoomGridLevel`, placement functions and verifiers: the dynamics and
the instruction semantics the tests compare against are minigrid's. As in GLAM, a task is fixed
when a level object is built; `MixedLocal.sample` draws the task per episode instead.
"""

from minigrid.envs.babyai.core.roomgrid_level import RejectSampling, RoomGridLevel
from minigrid.envs.babyai.core.verifier import (
    AfterInstr,
    BeforeInstr,
    GoToInstr,
    ObjDesc,
    OpenInstr,
    PickupInstr,
    PutNextInstr,
)  # fmt: skip

TASKS = ("goto", "pickup", "putnext", "pick up then go to", "open", "pick up then pick up")
HELD_OUT = {"yellow box", "red key", "red door", "green ball", "grey door"}
COLOURS = ("red", "green", "blue", "purple", "yellow", "grey")
PAIRS = {f"{c} {t}" for c in COLOURS for t in ("box", "key", "ball", "door")}


class MixedLocal(RoomGridLevel):
    def __init__(self, task: str, test: bool = False, **kwargs):
        self.task, self.test = task, test
        cols = 2 if task == "open" else 1
        super().__init__(room_size=8, num_rows=1, num_cols=cols, **kwargs)

    def _other(self, objs, a):
        b = self._rand_elem(objs)
        same = lambda o: (o.type, o.color) == (a.type, a.color)  # noqa: E731
        if same(b) and len(ObjDesc(a.type, a.color).find_matching_objs(self)[0]) < 2:
            while same(b):
                b = self._rand_elem(objs)
        return b

    def gen_mission(self):
        if self.task == "open":
            self._open()
        else:
            self.place_agent()
            n = 9 if self.task in ("goto", "pickup") else 10
            objs = self.add_distractors(num_distractors=n, all_unique=False)
            self.check_objs_reachable()
            a = self._rand_elem(objs)
            desc_a = ObjDesc(a.type, a.color)
            if self.task == "goto":
                self.instrs = GoToInstr(desc_a)
            elif self.task == "pickup":
                self.instrs = PickupInstr(desc_a)
            else:
                b = self._other(objs, a)
                desc_b = ObjDesc(b.type, b.color)
                if self.task == "putnext":
                    self.instrs = PutNextInstr(desc_a, desc_b)
                else:
                    second = GoToInstr if self.task == "pick up then go to" else PickupInstr
                    instr_a, instr_b = PickupInstr(desc_a), second(desc_b)
                    if self._rand_elem(["Before", "After"]) == "Before":
                        self.instrs = BeforeInstr(instr_a, instr_b)
                    else:
                        self.instrs = AfterInstr(instr_b, instr_a)
        text = self.instrs.surface(self)
        named = {p for p in PAIRS if p in text}
        if (not named <= HELD_OUT) if self.test else (named & HELD_OUT):
            raise RejectSampling("mission outside this split")

    def _open(self):
        # GLAM leaves the agent mid-grid facing east while it places objects
        self.agent_pos, self.agent_dir = (
            (self.room_size - 1 + self.room_size // 2, self.room_size // 2),
            0,
        )
        colour = self._rand_elem(
            ["red", "grey"] if self.test else ["yellow", "green", "blue", "purple"]
        )
        while True:
            i, door_idx = self._rand_int(0, 2), self._rand_int(0, 4)
            locked = self.get_room(i, 0)
            if locked.neighbors[door_idx] is not None:
                break
        self.add_door(i, 0, door_idx, colour, locked=True)
        while True:
            i = self._rand_int(0, 2)
            if self.get_room(i, 0) is not locked:
                break
        self.add_object(i, 0, "key", colour)
        self.connect_all()
        for i in range(2):
            if self.get_room(i, 0) is not locked:
                self.add_distractors(i, 0, num_distractors=8, all_unique=False)
        while True:
            self.place_agent()
            if self.room_from_pos(*self.agent_pos) is not locked:
                break
        self.check_objs_reachable()
        said = colour if self.test else self._rand_elem([None, colour])
        self.instrs = OpenInstr(ObjDesc("door", said))

"""A reference for the view description: GLAM's `get_babyai_text_obs` (BabyAI-Text), rewritten
in plain Python over minigrid's observation, lower-cased, with its "a open door" written
"an open door" as ours does."""

from minigrid.core.constants import IDX_TO_COLOR, IDX_TO_OBJECT

STATES = {0: "open", 1: "closed", 2: "locked"}


def steps(n: int, direction: str) -> str:
    return f"{n} step{'s' if n > 1 else ''} {direction}"


def describe(image, carrying) -> str:
    """image: minigrid's obs["image"] u8[7,7,3] ([x, y]); carrying: minigrid's WorldObj or None."""
    out = []
    if carrying is not None:
        out.append(f"you carry a {carrying.color} {carrying.type}")
    ax, ay = image.shape[0] // 2, image.shape[1] - 1
    kind = image[..., 0]
    # a wall is described only if nothing but unseen/empty cells lie between it and the agent
    for direction, cells in [
        ("forward", [(ax, j) for j in range(ay - 1, -1, -1)]),
        ("left", [(i, ay) for i in range(ax - 1, -1, -1)]),
        ("right", [(i, ay) for i in range(ax + 1, image.shape[0])]),
    ]:
        for n, (i, j) in enumerate(cells, start=1):
            if kind[i, j] in (0, 1):
                continue
            if kind[i, j] == 2:
                out.append(f"you see a wall {steps(n, direction)}")
            break
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            if kind[i, j] in (0, 1, 2) or (i, j) == (ax, ay):
                continue
            obj, colour, state = (int(v) for v in image[i, j])
            name = f"{IDX_TO_COLOR[colour]} {IDX_TO_OBJECT[obj]}"
            if obj == 4:
                article = "an" if state == 0 else "a"
                name = f"{article} {STATES[state]} {name}"
            else:
                name = f"a {name}"
            dx, ahead = i - ax, ay - j
            if dx == 0:
                where = steps(ahead, "forward")
            elif ahead == 0:
                where = steps(abs(dx), "left" if dx < 0 else "right")
            else:
                where = (
                    f"{steps(abs(dx), 'left' if dx < 0 else 'right')} and {steps(ahead, 'forward')}"
                )
            out.append(f"you see {name} {where}")
    return ". ".join(out) + "." if out else ""

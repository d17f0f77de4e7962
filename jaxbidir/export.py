"""A run's learnt teacher, for one seed, as a Hugging Face checkpoint that transformers loads and
a config can name as its teacher (`teacher.path=DIR`):

    jaxbidir export-teacher --checkpoint RUN_DIR [--seed-index I] --out DIR

Adapters (`teacher.update=lora`) are folded into the weights, so the export is a plain model of
the teacher's family. Beside it: the tokenizer, the source teacher's `pretrain.json` (its view
length) and `export.json` (which run, seed and update it is).
"""

import json
from pathlib import Path

from jaxbidir.checkpoints import load_seed
from jaxbidir.teacher import configured, hf, lora

LEARNING = ("bidirectional", "bidirectional_shuffled")


def export_teacher(checkpoint_dir, out, seed_index: int = 0) -> dict:
    """Write seed `seed_index`'s teacher of the run in `checkpoint_dir` to `out` (replaced
    atomically) -> what `export.json` says."""
    trainer, state = load_seed(checkpoint_dir, seed_index)
    config = trainer.config
    if config.mode not in LEARNING:
        used = config.teacher.path or str(configured.SHIPPED_DIR)
        raise ValueError(
            f"{checkpoint_dir} is a {config.mode} run: no teacher learnt in it (the modes whose "
            f"teacher learns: {', '.join(LEARNING)}); the teacher it used is {used}"
        )
    model = lora.merged(trainer.teacher(state.mode_state))
    directory = configured.resolve(config.teacher.path, "teacher.path")  # checked when loaded
    tokenizer = hf.load_tokenizer(directory)
    note = dict(
        run=str(Path(checkpoint_dir).resolve()), seed_index=seed_index, mode=config.mode,
        updates_done=int(state.updates_done), teacher_update=config.teacher.update,
        started_from=str(directory),
    )  # fmt: skip
    notes = {"export.json": note}
    if (directory / "pretrain.json").exists():
        notes["pretrain.json"] = json.loads((directory / "pretrain.json").read_text())
    hf.save_atomically(model, tokenizer, out, notes)
    return note

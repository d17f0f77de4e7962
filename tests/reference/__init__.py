"""What the tests compare against or build on, none of them tests themselves: minigrid
environments for our level ids (`minigrid_envs`, GLAM's mixed levels stated on minigrid's classes
in `glam_levels`), GLAM's view description in plain Python (`glam_text`) and a small trained BPE
tokenizer (`bpe`). Imported as `reference.<module>` (pytest puts `tests/` on the path)."""

"""What each GPU script leaves in its output folder: STEM.json (the record) and
STEM.txt (the lines it printed)."""

import json
import os


def save_record(out, stem, record, lines):
    with open(os.path.join(out, f"{stem}.json"), "w") as f:
        json.dump(record, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, f"{stem}.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")

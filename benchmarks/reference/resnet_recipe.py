"""PyTorch reference of `ember train resnet`: the same recipe (config, data, batches, starting weights,
AdamW, schedule, steps, metrics) in PyTorch; see recipe.py. Extra arguments (--set, --preset,
--json) go to recipe.main.

    python benchmarks/reference/resnet_recipe.py [--set train.steps=100] [--json out.json]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from recipe import main  # noqa: E402

if __name__ == "__main__":
    main("resnet")

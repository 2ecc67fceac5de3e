"""MLX's fused kernels behind ember's primitives (filled in as they land)."""

FUNCTIONS: dict = {}
KERNELS: dict = {}

"""pytest-benchmark set-up: report the BLAS, thread counts and OPENBLAS_* variables in the header."""

from __future__ import annotations

import cases


def pytest_report_header(config):
    return [f"benchmarks: {cases.cores()} cores; torch.set_num_threads({cases.cores()})", cases.blas_info()]

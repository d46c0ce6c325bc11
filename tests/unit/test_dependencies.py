"""grafana-client's urllib3-future must not replace the urllib3 that influxdb-client uses (scripts/bootstrap)."""

from __future__ import annotations

import importlib.metadata

import urllib3


def test_urllib3_is_the_real_one_beside_urllib3_future() -> None:
    real = importlib.metadata.version("urllib3")
    assert urllib3.__version__ == real  # urllib3-future's versions end in .9xx and would differ
    assert int(urllib3.__version__.split(".")[2]) < 900
    import urllib3_future

    assert urllib3_future.__version__ != urllib3.__version__

"""The kernel block's launch keys for gateways: `kernel_username`, `gateway_launch_timeout`, `env`."""

import pytest

from tornado_launcher.config import ConfigError, loads
from tornado_launcher.config.model import GATEWAY_LAUNCH_TIMEOUT


def kernel(body: str):
    return loads('kernel "k" {\n%s\n}\n' % body, "jaffle.hcl").kernels["k"]


def refused(body: str):
    with pytest.raises(ConfigError) as ei:
        loads('kernel "k" {\n%s\n}\n' % body, "jaffle.hcl")
    return [str(d) for d in ei.value.diagnostics if d.severity == "error"]


def test_defaults():
    k = kernel('gateway_url = "http://127.0.0.1:8888"')
    assert k.kernel_username is None and k.env == {} and k.gateway_launch_timeout == GATEWAY_LAUNCH_TIMEOUT == 120


def test_values_are_read():
    k = kernel('gateway_url = "http://gw:8888"\nkernel_username = "alice"\ngateway_launch_timeout = 300\n'
               'env {\n  KERNEL_NAMESPACE = "dev"\n  WORKERS = 4\n}')
    assert (k.kernel_username, k.gateway_launch_timeout, k.env) == ("alice", 300.0, {"KERNEL_NAMESPACE": "dev",
                                                                                      "WORKERS": "4"})


@pytest.mark.parametrize("value", ["0", "0.5", "7200", '"soon"'])
def test_a_launch_timeout_out_of_range_is_refused_at_its_line(value):
    (message,) = refused('gateway_url = "http://gw:8888"\ngateway_launch_timeout = %s' % value)
    assert message.startswith("jaffle.hcl:3:")
    assert "gateway_launch_timeout" in message


def test_a_bad_env_name_is_refused_at_its_line():
    (message,) = refused('gateway_url = "http://gw:8888"\nenv {\n  "1BAD" = "x"\n}')
    assert message.startswith("jaffle.hcl:4:") and "not an environment variable name" in message


def test_env_adds_to_a_local_kernel_and_launch_keys_without_a_gateway_warn():
    cfg = loads('kernel "k" {\nkernel_username = "alice"\nenv { A = "1" }\n}\n', "jaffle.hcl")
    assert cfg.kernels["k"].env == {"A": "1"}
    assert any("`kernel_username` is used only with `gateway_url`" in str(w) for w in cfg.warnings)

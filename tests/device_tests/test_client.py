"""The host client against a simulated device: retries, resets, faults, silence and noise, all
bounded in time."""

from __future__ import annotations

import socket
import time

import pytest

from tinynas.device.client import DeviceClient, connect
from tinynas.errors import DeviceError

from .fake_device import INPUT_SIZE, TICKS, Behaviour, FakeDevice, model

SAMPLE = bytes(range(INPUT_SIZE))


def _client(device: FakeDevice, timeout: float = 0.3, retries: int = 2) -> DeviceClient:
    return DeviceClient.open(device.url, timeout=timeout, retries=retries)


def test_invoke_returns_output_and_ticks() -> None:
    with FakeDevice() as device, _client(device) as client:
        info = client.info()
        result = client.invoke(SAMPLE)
    assert (info.input_size, info.core) == (INPUT_SIZE, "cortex-m4")
    assert (result.output, result.ticks) == (model(SAMPLE), TICKS)
    assert client.resends == 0


def test_corrupted_reply_is_retried() -> None:
    with FakeDevice(Behaviour(corrupt_replies=2)) as device, _client(device) as client:
        result = client.invoke(SAMPLE)
    assert result.output == model(SAMPLE)
    assert client.resends == 2
    assert client.bad_frames == 2


def test_lost_request_is_retried() -> None:
    with FakeDevice(Behaviour(lose_requests=1)) as device, _client(device) as client:
        assert client.invoke(SAMPLE).output == model(SAMPLE)
    assert client.resends == 1


def test_reset_mid_run_is_retried_and_counted() -> None:
    with FakeDevice(Behaviour(reset_on_invoke=1)) as device, _client(device) as client:
        outputs = [client.invoke(SAMPLE).output for _ in range(3)]
    assert outputs == [model(SAMPLE)] * 3
    assert (client.resets, client.resends) == (1, 1)


def test_device_that_keeps_resetting_gives_up() -> None:
    with FakeDevice(Behaviour(reset_on_invoke=10)) as device, _client(device) as client:
        with pytest.raises(DeviceError, match="INVOKE failed after 3 attempts.*reset"):
            client.invoke(SAMPLE)


def test_fault_is_reported_not_retried() -> None:
    with FakeDevice(Behaviour(fault_on_invoke=True)) as device, _client(device) as client:
        with pytest.raises(DeviceError, match="faulted during INVOKE: HardFault at pc=0x00001234"):
            client.invoke(SAMPLE)
    assert device.requests.count(0x03) == 1


def test_wrong_input_size_is_a_final_refusal() -> None:
    with FakeDevice() as device, _client(device) as client:
        client.info()
        with pytest.raises(DeviceError, match=f"wrong payload length|expects {INPUT_SIZE}"):
            client.invoke(b"\x00" * 3)
    assert device.requests.count(0x03) == 1


def test_silent_device_fails_in_bounded_time_and_says_so() -> None:
    start = time.monotonic()
    with FakeDevice(Behaviour(silent=True)) as device, _client(device, 0.2, 1) as client:
        with pytest.raises(DeviceError, match="sent nothing") as error:
            client.info()
    assert time.monotonic() - start < 2.0
    assert "\n" not in str(error.value)


def test_line_noise_points_at_the_baud_rate() -> None:
    with FakeDevice(Behaviour(noise=True)) as device, _client(device, 0.2, 1) as client:
        with pytest.raises(DeviceError, match="no valid frame: wrong baud rate"):
            client.info()


def test_connection_closed_mid_run_ends_at_once() -> None:
    with FakeDevice(Behaviour(close_on_invoke=True)) as device, _client(device, 5.0) as client:
        client.info()
        start = time.monotonic()
        with pytest.raises(DeviceError, match="connection to the device lost"):
            client.invoke(SAMPLE)
    assert time.monotonic() - start < 1.0


def test_absent_devices_fail_at_once() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(DeviceError, match="cannot open device 'socket://127.0.0.1"):
        connect(f"socket://127.0.0.1:{port}")
    with pytest.raises(DeviceError, match="cannot open device '/dev/ttyTINYNAS9'"):
        connect("/dev/ttyTINYNAS9")
    assert time.monotonic() - start < 1.0

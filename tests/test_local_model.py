"""The embedded local model: GGUF assembly from part packages, and the `local` backend.

Assembly tests use small part files made here (no model, no xllamacpp). Tests marked `slow`
run the real model and skip with a reason when `rlm[local]` is not installed.
"""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from rlm.clients.model_assembly import (
    ModelAssemblyError,
    ModelSpec,
    assemble,
    check_gguf,
    ensure_model,
    installed_parts,
)
from rlm.errors import ConfigurationError, MissingDependencyError, RLMError

SRC = Path(__file__).resolve().parents[1] / "src"


def make_parts(directory: Path, sizes: list[int], seed: int = 1) -> tuple[list[Path], bytes]:
    rng = random.Random(seed)
    directory.mkdir(parents=True, exist_ok=True)
    parts, whole = [], b""
    for i, size in enumerate(sizes, 1):
        data = (b"GGUF" if i == 1 else b"") + rng.randbytes(size)
        path = directory / f"part{i:02d}.bin"
        path.write_bytes(data)
        parts.append(path)
        whole += data
    return parts, whole


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.partial"))


# -- assembly ---------------------------------------------------------------------------------


def test_assemble_concatenates_in_order_and_verifies(tmp_path):
    parts, whole = make_parts(tmp_path / "parts", [3000, 5000, 17])
    dest = tmp_path / "cache" / "model.gguf"
    out = assemble(parts, sha256=sha(whole), dest=dest, expected_size=len(whole))
    assert out == dest
    assert dest.read_bytes() == whole
    assert oct(dest.stat().st_mode & 0o777) == oct(0o644)
    assert leftovers(dest.parent) == []
    # Second use: the verified file is reused, not rebuilt.
    inode = dest.stat().st_ino
    assemble(parts, sha256=sha(whole), dest=dest, expected_size=len(whole))
    assert dest.stat().st_ino == inode


def test_parts_in_another_order_fail_the_hash(tmp_path):
    parts, whole = make_parts(tmp_path / "parts", [1000, 1000])
    dest = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelAssemblyError, match="SHA-256"):
        assemble(parts[::-1], sha256=sha(whole), dest=dest)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_corrupt_part_is_a_clear_error_and_leaves_nothing(tmp_path):
    parts, whole = make_parts(tmp_path / "parts", [2000, 2000, 2000])
    data = bytearray(parts[1].read_bytes())
    data[100] ^= 0xFF
    parts[1].write_bytes(bytes(data))
    dest = tmp_path / "cache" / "model.gguf"
    with pytest.raises(ModelAssemblyError) as info:
        assemble(parts, sha256=sha(whole), dest=dest, reinstall_hint="Reinstall: pip install x")
    message = str(info.value)
    assert sha(whole) in message and "corrupt" in message and "pip install x" in message
    assert isinstance(info.value, RLMError)
    assert not dest.exists()
    assert leftovers(dest.parent) == []


def test_missing_part_file_names_it(tmp_path):
    parts, whole = make_parts(tmp_path / "parts", [100, 100])
    parts[1].unlink()
    with pytest.raises(ModelAssemblyError, match=r"part02\.bin is missing"):
        assemble(parts, sha256=sha(whole), dest=tmp_path / "m.gguf")


def test_wrong_size_file_in_cache_is_rebuilt(tmp_path):
    parts, whole = make_parts(tmp_path / "parts", [500, 500])
    dest = tmp_path / "m.gguf"
    dest.write_bytes(whole[:300])  # e.g. truncated by hand
    assemble(parts, sha256=sha(whole), dest=dest, expected_size=len(whole))
    assert dest.read_bytes() == whole


_ASSEMBLE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from rlm.clients.model_assembly import assemble
    parts = [Path(p) for p in sys.argv[3:]]
    dest = assemble(parts, sha256=sys.argv[1], dest=Path(sys.argv[2]))
    print(dest.stat().st_ino, flush=True)
    """
)


def start_assembler(parts: list[Path], digest: str, dest: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen(
        [sys.executable, "-c", _ASSEMBLE_SCRIPT, digest, str(dest), *map(str, parts)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def open_fifo_writer(fifo: Path, reader: subprocess.Popen):
    """Open a named pipe for writing once `reader` has opened it (never hang the test)."""
    deadline = time.monotonic() + 20
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            if reader.poll() is not None:
                raise AssertionError(f"assembler exited early: {reader.communicate()}") from None
            if time.monotonic() > deadline:
                raise AssertionError("assembler never opened the pipe") from None
            time.sleep(0.02)
            continue
        os.set_blocking(fd, True)
        return os.fdopen(fd, "wb")


def wait_for(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_crash_mid_assembly_leaves_no_model_and_next_run_recovers(tmp_path):
    # The last "part" is a named pipe that this test feeds: the assembler is provably halfway
    # through writing when it is killed.
    parts, whole = make_parts(tmp_path / "parts", [100_000, 100_000])
    fifo = tmp_path / "parts" / "part03.bin"
    os.mkfifo(fifo)
    tail = b"x" * 3000
    dest = tmp_path / "cache" / "model.gguf"
    proc = start_assembler([*parts, fifo], sha(whole + tail), dest)
    try:
        with open_fifo_writer(fifo, proc) as feed:
            feed.write(tail[:1000])
            feed.flush()
            wait_for(
                lambda: any(p.stat().st_size >= 200_000 for p in dest.parent.glob("*.partial"))
            )
            proc.kill()
            proc.wait(timeout=10)
    except BrokenPipeError:
        pass
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
    assert not dest.exists(), "a killed assembler must not leave a model under the final name"
    assert len(leftovers(dest.parent)) == 1
    # A later run (parts now complete) builds the file and clears the dead run's partial.
    fifo.unlink()
    fifo.write_bytes(tail)
    assemble([*parts, fifo], sha256=sha(whole + tail), dest=dest)
    assert dest.read_bytes() == whole + tail
    assert leftovers(dest.parent) == []


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_concurrent_processes_assemble_once(tmp_path):
    parts, whole = make_parts(tmp_path / "parts", [4000])
    fifo = tmp_path / "parts" / "part02.bin"
    os.mkfifo(fifo)
    tail = b"y" * 2000
    dest = tmp_path / "cache" / "model.gguf"
    digest = sha(whole + tail)
    first = start_assembler([*parts, fifo], digest, dest)
    with open_fifo_writer(fifo, first) as feed:
        feed.write(tail[:500])
        feed.flush()
        wait_for(lambda: any(dest.parent.glob("*.partial")))
        # The first process holds the lock and is mid-write: a second one must wait for it.
        second = start_assembler([*parts, fifo], digest, dest)
        time.sleep(1.0)
        assert second.poll() is None, "second assembler should wait for the first"
        assert not dest.exists()
        feed.write(tail[500:])
    out1, err1 = first.communicate(timeout=20)
    out2, err2 = second.communicate(timeout=20)
    assert first.returncode == 0, err1
    assert second.returncode == 0, err2
    assert dest.read_bytes() == whole + tail
    # Same inode: the second process found the finished file and did not rebuild it.
    assert out1.strip() == out2.strip() == str(dest.stat().st_ino)
    assert leftovers(dest.parent) == []


def fake_part_packages(root: Path, prefix: str, blobs: list[bytes | None]) -> None:
    """Packages laid out as the PyPI part wheels are: <prefix>N/data/partNN.bin."""
    for i, blob in enumerate(blobs, 1):
        if blob is None:
            continue
        package = root / f"{prefix}{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i:02d}.bin").write_bytes(blob)


def spec_for(prefix: str, parts: int, whole: bytes) -> ModelSpec:
    return ModelSpec(
        name="fake",
        filename="fake.gguf",
        package_prefix=prefix,
        distribution_prefix=prefix.replace("_", "-"),
        parts=parts,
        version="1.0",
        sha256=sha(whole),
        size=len(whole),
        extra="local",
    )


def test_ensure_model_from_installed_part_packages(tmp_path, monkeypatch):
    blobs = [b"GGUF" + bytes(range(200)) * 5, bytes(300), b"end"]
    fake_part_packages(tmp_path / "site", "rlmtest_fake_ok_part", blobs)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = spec_for("rlmtest_fake_ok_part", 3, b"".join(blobs))
    path = ensure_model(spec, directory=tmp_path / "cache")
    assert path == tmp_path / "cache" / "fake.gguf"
    assert path.read_bytes() == b"".join(blobs)
    assert check_gguf(path) == path


def test_partly_installed_model_names_missing_packages(tmp_path, monkeypatch):
    fake_part_packages(tmp_path / "site", "rlmtest_fake_gap_part", [b"GGUF", None, b"c"])
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = spec_for("rlmtest_fake_gap_part", 3, b"GGUF?c")
    with pytest.raises(ModelAssemblyError) as info:
        installed_parts(spec)
    assert "rlmtest-fake-gap-part2" in str(info.value)
    assert "pip install --force-reinstall 'rlm[local]'" in str(info.value)


def test_model_not_installed_at_all_is_none(tmp_path):
    spec = spec_for("rlmtest_not_installed_part", 4, b"")
    assert installed_parts(spec) is None
    assert ensure_model(spec, directory=tmp_path) is None


def test_check_gguf_rejects_missing_and_non_gguf_files(tmp_path):
    with pytest.raises(ConfigurationError, match="does not exist"):
        check_gguf(tmp_path / "nope.gguf")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(ConfigurationError, match="not a GGUF file"):
        check_gguf(bad)


def test_missing_extra_says_what_to_install():
    # A real interpreter where `xllamacpp` cannot be imported.
    code = textwrap.dedent(
        """
        import sys
        sys.modules["xllamacpp"] = None
        from rlm.clients import get_client
        from rlm.errors import MissingDependencyError
        try:
            get_client("local")
        except MissingDependencyError as exc:
            print("MDE:", exc)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "MDE:" in out.stdout, out.stderr
    assert "pip install 'rlm[local]'" in out.stdout


# -- the real model ---------------------------------------------------------------------------


def _local_model_or_skip() -> str:
    try:
        from rlm.clients import local_model
    except MissingDependencyError:
        pytest.skip("needs the local model extra: pip install -e '.[local]'")
    # The fastest installed model keeps the smoke test short.
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        if installed_parts(local_model.MODELS[name]) is not None:
            return name
    pytest.skip("no local model installed: pip install -e '.[local]'")


@pytest.fixture(scope="module")
def local_lm():
    name = _local_model_or_skip()
    from rlm.clients.local_model import LocalLM

    return LocalLM(model=name, n_ctx=4096)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_complete_returns_text_and_exact_usage(local_lm):
    response = local_lm.complete("Reply with the single word: hello", max_tokens=8)
    assert "hello" in response.text.lower()
    usage = response.usage
    assert usage.model == local_lm.model_name
    assert usage.cost == 0.0
    assert 0 < usage.output_tokens <= 8
    assert usage.input_tokens > 5
    # Cut off by the cap: exactly max_tokens generated.
    long = local_lm.complete("Count from 1 to 100, separated by commas.", max_output_tokens=7)
    assert long.usage.output_tokens == 7
    # The same prompt always counts the same; the totals are the sum of the calls.
    again = local_lm.complete("Count from 1 to 100, separated by commas.", max_output_tokens=7)
    assert again.usage.input_tokens == long.usage.input_tokens
    assert again.text == long.text  # temperature 0
    total = local_lm.get_usage_summary().model_usage_summaries[local_lm.model_name]
    assert total.total_output_tokens >= usage.output_tokens + 14


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_stream_complete_passes_tokens_on_as_generated(local_lm):
    pieces: list[str] = []
    prompt = "Count from 1 to 100, separated by commas."
    response = local_lm.stream_complete(prompt, pieces.append, max_output_tokens=6)
    assert local_lm.streams
    assert len(pieces) > 1  # one piece per generated token, not the answer at once
    assert "".join(pieces) == response.text
    assert response.usage.output_tokens == 6
    assert response.text == local_lm.complete(prompt, max_output_tokens=6).text


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_one_server_shared_by_clients_and_threads(local_lm):
    from rlm.clients.local_model import LocalLM

    other = LocalLM(model=local_lm.model_name, n_ctx=4096)
    assert other._server() is local_lm._server()
    other.close()  # closing one client must not stop the shared server
    results: dict[int, str] = {}

    def ask(i: int) -> None:
        results[i] = local_lm.complete(f"What is {i} + {i}? Reply with the number only.").text

    threads = [threading.Thread(target=ask, args=(i,)) for i in (2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert "4" in results[2] and "6" in results[3]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_timeout_stops_generation(local_lm):
    from rlm.errors import ProviderError

    started = time.monotonic()
    with pytest.raises(ProviderError, match="no complete answer within"):
        local_lm.complete("Count from 1 to 1000, separated by commas.", max_tokens=1000, timeout=2)
    assert time.monotonic() - started < 60
    # The server is still usable afterwards.
    assert local_lm.complete("Reply with the single word: yes", max_tokens=4).text


_SIGINT_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from rlm.clients.local_model import LocalLM
    lm = LocalLM(model=sys.argv[1], n_ctx=1024)
    lm.complete("hi", max_tokens=1)
    print("ready", flush=True)
    try:
        lm.complete("Count from 1 to 1000, separated by commas.", max_tokens=1000)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_ctrl_c_stops_generation_promptly():
    import signal

    name = _local_model_or_skip()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SIGINT_SCRIPT, name],
        env={**os.environ, "PYTHONPATH": str(SRC)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out.strip() == "interrupted"
    assert time.monotonic() - sent < 30


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_server_http_port_refuses_other_programs(local_lm):
    # llama.cpp also serves its API on a loopback port; without our random key it must refuse.
    import json
    import urllib.error
    import urllib.request

    address = local_lm._server().server.listening_address
    assert address.startswith("http://127.0.0.1:")
    body = json.dumps({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2})
    request = urllib.request.Request(
        address + "/v1/chat/completions",
        data=body.encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=30)
    assert info.value.code == 401


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_next_turn_reuses_the_cached_prefix(local_lm):
    # What makes RLM iterations cheap: after a sub-call used the server, the root conversation's
    # next turn still evaluates only its new tokens. Read from llama.cpp's own timings.
    server = local_lm._server().server
    data = "\n".join(f"item {i}: value {i * 7 % 50}" for i in range(80))
    turn1 = [
        {"role": "system", "content": "Data:\n" + data},
        {"role": "user", "content": "What is the value of item 3? Number only."},
    ]
    first = server.handle_chat_completions(local_lm.request_body(turn1, max_tokens=6))
    server.handle_chat_completions(local_lm.request_body("Say OK.", max_tokens=2))
    turn2 = [
        *turn1,
        {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
        {"role": "user", "content": "And item 4?"},
    ]
    second = server.handle_chat_completions(local_lm.request_body(turn2, max_tokens=6))
    prompt_tokens = second["usage"]["prompt_tokens"]
    assert first["timings"]["prompt_n"] > 400
    assert second["timings"]["prompt_n"] < 40 < prompt_tokens


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("look", [False, None])
def test_rlm_finds_a_needle_end_to_end(look):
    """Without the first look the model must search with code; with it (the default for this
    window) the needle's line is in its first turn."""
    name = _local_model_or_skip()
    from rlm import RLM
    from rlm.clients.local_model import SMALL_MODEL_SYSTEM_PROMPT

    rng = random.Random(11)
    secret = rng.randint(100000, 999999)
    lines = [
        f"[{i:04d}] batch {rng.randint(1, 99)} status={rng.randint(100, 599)}" for i in range(150)
    ]
    lines.insert(97, f"[0097] The secret code is {secret}.")
    context = "\n".join(lines)
    assert len(context) < 6000
    rlm = RLM(
        backend="local",
        backend_kwargs={"model": name, "n_ctx": 8192},
        environment="local",
        max_iterations=3,  # the 0.5B model ends via the best-answer call
        custom_system_prompt=SMALL_MODEL_SYSTEM_PROMPT,
        first_look=look,
    )
    result = rlm.completion(context, root_prompt="What is the secret code?")
    assert str(secret) in result.response
    summary = result.usage_summary.model_usage_summaries[name]
    if look is False:
        assert summary.total_calls >= 2  # it searched, then answered
    assert summary.total_input_tokens > 0 and summary.total_output_tokens > 0
    assert result.usage_summary.total_cost == 0.0

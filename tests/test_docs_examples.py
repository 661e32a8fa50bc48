"""Every command in the README and every ``--help`` example runs as written, on the demo.

As a newcomer would: the README's first command, ``bash scripts/demo.sh``, starts in the
background in a scratch folder that holds only what a clone has at the top (``data``, ``scripts``
and the ``.venv`` the test command made, linked); once the demo page answers, every README
command (each line of its ``bash`` blocks, and its inline ``readalso ...`` commands) and every
line of every ``Example:`` block of ``readalso --help`` / ``readalso COMMAND --help`` runs in that
folder, in a shell where ``source .venv/bin/activate`` was run, as the README says. The commands
are read from the README and from the click commands here, so they cannot drift.

What is changed, and why:

* the ports: 8000 and 8001 become free ports (this machine may already serve on them), the same
  mapping for every command, so the README's curl examples reach the demo it started;
* ``curl`` gets ``--fail-with-body``, so an HTTP error fails the command instead of printing it;
* a command that serves (``readalso serve``) runs in the background until its ``/readyz`` answers,
  and is stopped after the last command of its block.

Not run: ``bash scripts/test.sh`` (it runs this test), the README's first command a second time,
and the commands of the "Measured" section (they reproduce published figures and take minutes
to hours): those are parsed by click instead, so their options and values are still checked.
Where the README shows a JSON answer after a block, every field it names must be in the real one.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import REPO, free_port
from recommender.cli import cli

pytestmark = [pytest.mark.slow, pytest.mark.server]

README = REPO / "README.md"
VENV = REPO / ".venv"
PORTS = ("8000", "8001")
NOT_RUN = {
    "bash scripts/demo.sh": "the README's first command: already running, it serves everything else",
    "bash scripts/test.sh": "runs the test suite, this test included",
}


# -- reading the commands ---------------------------------------------------------------------
def _logical_lines(lines: list[str]) -> list[str]:
    """Shell lines with backslash continuations joined; blank and comment-only lines dropped."""
    commands, current = [], ""
    for line in lines:
        current += line.strip()
        if current.endswith("\\"):
            current = current[:-1].rstrip() + " "
            continue
        if current and not current.startswith("#"):
            commands.append(current)
        current = ""
    return commands


def readme_parts() -> tuple[list[dict], list[str], list[str]]:
    """README ``bash`` blocks (commands, the JSON shown after them), inline commands, Measured commands."""
    text = README.read_text(encoding="utf-8")
    measured = text.index("\n## Measured")
    blocks, inline, reproduce = [], [], []
    fence = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)
    last_end = 0
    for match in fence.finditer(text):
        prose = text[last_end:match.start()]
        spans = re.findall(r"`(readalso [^`]+|scripts/[^`]+)`", prose)
        (reproduce if match.start() > measured else inline).extend(spans)
        last_end = match.end()
        language, body = match.group(1), match.group(2)
        if language == "bash":
            blocks.append({"line": text[:match.start()].count("\n") + 1,
                           "commands": _logical_lines(body.splitlines()), "answer": None})
        elif language == "json" and blocks and text[blocks[-1]["end"]:match.start()].strip() == "":
            blocks[-1]["answer"] = body
        if blocks and language == "bash":
            blocks[-1]["end"] = match.end()
    tail = re.findall(r"`(readalso [^`]+|scripts/[^`]+)`", text[last_end:])
    reproduce.extend(tail)
    return blocks, inline, reproduce


def help_examples() -> list[tuple[str, list[str]]]:
    """Each command's ``Example:`` lines (the group's first), from the click objects themselves."""
    found = []
    for name, command in [("readalso", cli), *sorted(cli.commands.items())]:
        lines = (command.help or "").splitlines()
        starts = [i for i, line in enumerate(lines) if line.strip() in ("Example:", "Examples:")]
        block = []
        for line in lines[starts[0] + 1:] if starts else []:
            if not line.strip():
                break
            block.append(line)
        found.append((name, _logical_lines(block)))
    return found


def test_every_command_documents_an_example():
    names = [name for name, commands in help_examples() if not commands]
    assert names == []


def test_measured_commands_parse():
    """Commands that reproduce published figures are not run here, but click must accept them."""
    _, _, reproduce = readme_parts()
    assert reproduce
    for command in reproduce:
        argv = shlex.split(command)
        if argv[0].startswith("scripts/"):
            assert (REPO / argv[0]).is_file(), command
            continue
        if len(argv) == 2:  # the name of a command in prose
            assert argv[1] in cli.commands, command
            continue
        sub = cli.commands[argv[1]]
        with sub.make_context(argv[1], argv[2:]) as ctx:
            assert ctx.command is sub


# -- running them -----------------------------------------------------------------------------
def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited with {process.returncode} before {url} answered:\n{log.read_text()[-3000:]}")
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


class Shell:
    """Runs documented commands in the scratch folder as a newcomer's activated shell would."""

    def __init__(self, folder: Path, ports: dict[str, int]):
        self.folder, self.ports = folder, ports
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("READALSO_", "PROMETHEUS_", "VIRTUAL_ENV"))}
        self.servers: list[subprocess.Popen] = []
        self.failures: list[str] = []

    def localise(self, command: str) -> str:
        command = re.sub(r"\b(" + "|".join(PORTS) + r")\b", lambda m: str(self.ports[m.group(1)]), command)
        return re.sub(r"(^|[|;&]\s*|\$\()curl ", r"\1curl --fail-with-body ", command)

    def run(self, where: str, command: str) -> str | None:
        script = f"source .venv/bin/activate\nset -o pipefail\n{self.localise(command)}"
        if re.search(r"\breadalso serve\b", command) and "--help" not in command:
            return self._serve(where, command, script)
        started = time.monotonic()
        try:
            done = subprocess.run(["bash", "-c", script], cwd=self.folder, env=self.env, capture_output=True,
                                  text=True, timeout=900)
        except subprocess.TimeoutExpired:
            self.failures.append(f"{where}: `{command}` did not finish in 900 s")
            return None
        print(f"{where}: {time.monotonic() - started:5.1f} s  rc {done.returncode}  {command}")
        if done.returncode != 0:
            output = (done.stdout + done.stderr)[-2000:]
            self.failures.append(f"{where}: `{command}` exited {done.returncode}:\n{output}")
            return None
        return done.stdout

    def _serve(self, where: str, command: str, script: str) -> str | None:
        port = re.search(r"--port (\d+)", self.localise(command))
        assert port, f"{where}: a serving command without --port: {command}"
        log = self.folder / f"serve-{port.group(1)}.log"
        process = subprocess.Popen(["bash", "-c", script], cwd=self.folder, env=self.env, start_new_session=True,
                                   stdout=log.open("wb"), stderr=subprocess.STDOUT)
        self.servers.append(process)
        try:
            _wait_for(f"http://127.0.0.1:{port.group(1)}/readyz", process, log, timeout=180)
        except AssertionError as error:
            self.failures.append(f"{where}: `{command}`: {error}")
            return None
        print(f"{where}: serving on {port.group(1)}  {command}")
        return ""

    def stop_servers(self) -> None:
        while self.servers:
            _stop(self.servers.pop())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The README's first command, running in the background in a fresh scratch folder."""
    if not (VENV / "bin" / "python").exists():
        pytest.skip(f"needs the project's virtualenv at {VENV} (bash scripts/test.sh makes it)")
    if shutil.which("curl") is None:
        pytest.skip("needs curl for the README's HTTP examples (bash scripts/test.sh installs it as root)")
    folder = tmp_path_factory.mktemp("newcomer")
    for name in ("data", "scripts", ".venv"):
        (folder / name).symlink_to(REPO / name)
    ports = {port: free_port() for port in PORTS}
    shell = Shell(folder, ports)
    log = folder / "demo.log"
    first = readme_parts()[0][0]["commands"][0]
    assert first.split("#")[0].strip() == "bash scripts/demo.sh", f"the README's first command changed: {first}"
    process = subprocess.Popen(["bash", "scripts/demo.sh", "--port", str(ports["8000"])], cwd=folder, env=shell.env,
                               start_new_session=True, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    try:
        started = time.monotonic()
        _wait_for(f"http://127.0.0.1:{ports['8000']}/demo", process, log, timeout=900)
        print(f"demo page up in {time.monotonic() - started:.1f} s")
        yield shell
    finally:
        shell.stop_servers()
        _stop(process)


def test_every_readme_and_help_example_runs_as_written(demo):
    shell = demo
    status, page = _get(f"http://127.0.0.1:{shell.ports['8000']}/demo")
    assert status == 200 and b"data-readalso-article" in page
    assert (shell.folder / "readalso-data" / "readalso.db").exists()  # demo.sh filled the default store

    blocks, inline, _ = readme_parts()
    ran = 0
    for block in blocks:
        outputs = []
        for command in block["commands"]:
            bare = command.split("#")[0].strip()
            if bare in NOT_RUN:
                continue
            outputs.append(shell.run(f"README.md:{block['line']}", command))
            ran += 1
        shell.stop_servers()
        if block["answer"] and all(out is not None for out in outputs):
            shown = set(re.findall(r'"(\w+)":', block["answer"]))
            real = set()
            for out in outputs:
                decoder, rest = json.JSONDecoder(), out.strip()
                while rest:
                    value, end = decoder.raw_decode(rest)
                    real |= _keys(value)
                    rest = rest[end:].strip()
            missing = shown - real
            if missing:
                shell.failures.append(f"README.md:{block['line']}: the answer shown names fields the API no longer "
                                      f"sends: {sorted(missing)}")

    for command in inline:
        argv = shlex.split(command)
        if argv[0] != "readalso":
            continue
        if len(argv) == 2 and not argv[1].startswith("-"):  # a command named in prose: it must exist
            assert argv[1] in cli.commands, command
            continue
        expanded = ([command.replace("COMMAND", name) for name in sorted(cli.commands)] if "COMMAND" in argv
                    else [command])
        for one in expanded:
            shell.run("README.md (inline)", one)
            ran += 1

    for name, commands in help_examples():
        for command in commands:
            shell.run(f"readalso {'' if name == 'readalso' else name + ' '}--help", command)
            ran += 1
        shell.stop_servers()

    assert ran >= 40
    assert shell.failures == [], "\n\n".join(shell.failures)

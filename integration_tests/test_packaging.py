"""The Dockerfile's install steps, run without a Docker engine, give a working `source-confluence spec`.

CI machines have no Docker engine, so this replays the Dockerfile: its COPY lines into a fresh
folder, its `pip install` RUN lines into a fresh virtual environment, then its entry point.
"""

import json
import shlex
import shutil
import subprocess
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def dockerfile_steps():
    copies, runs, entrypoint = [], [], None
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.strip().split(maxsplit=1)
        if not words or words[0].startswith("#"):
            continue
        if words[0] == "COPY":
            *sources, target = shlex.split(words[1])
            copies.append((sources, target))
        elif words[0] == "RUN":
            runs.append(shlex.split(words[1]))
        elif words[0] == "ENTRYPOINT":
            entrypoint = json.loads(words[1])
    return copies, runs, entrypoint


def test_dockerfile_install_steps_produce_a_working_spec(tmp_path):
    copies, runs, entrypoint = dockerfile_steps()
    assert runs and entrypoint == ["source-confluence"]
    workdir = tmp_path / "integration_code"
    workdir.mkdir()
    for sources, target in copies:
        for source in sources:
            destination = workdir / target if target not in ("./", ".") else workdir / Path(source).name
            if (ROOT / source).is_dir():
                shutil.copytree(ROOT / source, destination, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(ROOT / source, destination if target not in ("./", ".") else workdir)
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    bin_dir = environment / "bin"
    for run in runs:
        assert run[:2] == ["pip", "install"], f"unexpected RUN step {run}"
        subprocess.run([str(bin_dir / "python"), "-m", *run], cwd=workdir, check=True, capture_output=True)

    completed = subprocess.run([str(bin_dir / entrypoint[0]), "spec"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr[-2000:]
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    spec = next(m["spec"] for m in messages if m["type"] == "SPEC")
    assert {"base_url", "deployment", "credentials"} <= set(spec["connectionSpecification"]["properties"])
    # The image carries the connector only: the emulator and test tools stay out of it.
    probe = subprocess.run([str(bin_dir / "python"), "-c", "import confluence_emulator"], capture_output=True)
    assert probe.returncode != 0

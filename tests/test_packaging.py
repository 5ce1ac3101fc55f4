"""A plain (non-editable) install carries what the default pipeline reads: settings, weights, samples."""

import shutil
import subprocess
import sys
import zipfile

REPO_FILES = ("setup.py", "pyproject.toml", "encryptface", "jobs", "conf")


def test_a_built_wheel_loads_its_settings_and_models_without_the_repository(tmp_path):
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    source = tmp_path / "src"
    source.mkdir()
    for name in REPO_FILES:  # a copy, so the build leaves nothing in the checkout
        if (repo / name).is_dir():
            shutil.copytree(repo / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(repo / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("encryptface-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "encryptface/conf/default.toml" in names and "jobs/cli.py" in names
    assert any(n.startswith("encryptface/weights/prior/") for n in names)
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    probe = ("import encryptface.config as c, pathlib\n"
             "s = c.load_settings()\n"
             "print(c.default_conf_path().is_relative_to(pathlib.Path(c.__file__).parent))\n"
             "print(c.resolve_weight(s.encrypt.prior_model).joinpath('config.json').is_file())\n")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(target)}
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]
    assert str(repo) not in result.stdout

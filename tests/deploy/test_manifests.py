"""The deployment files agree with the app and with each other: the Kubernetes manifests are valid against the
API's schemas (kubernetes-validate, offline), the compose file against the Compose specification, the Dockerfile
passes hadolint, and every probe, health check, port, user and start command they name is what the image and the
app really have. The image cannot be started here; what it runs is tested by tests/deploy/test_wheel.py through
the same script."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from starlette.testclient import TestClient

from asahi.app import create_app
from asahi.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30"  # the oldest release still commonly run; newer ones accept these manifests too


def manifests() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for path in sorted(KUBERNETES.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in yaml.safe_load_all(path.read_text())}


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped), one list per stage."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def instruction(stage: list[str], name: str) -> list[str]:
    return [line.removeprefix(name + " ") for line in stage if line.startswith(name + " ")]


def answer_200(paths: set[str], data_dir: Path) -> set[str]:
    """Which of `paths` a started gateway (embedded defaults) answers with 200."""
    with TestClient(create_app(load_settings({"ASAHI_DATA_DIR": str(data_dir)}))) as client:
        return {path for path in paths if client.get(path).status_code == 200}


@pytest.mark.parametrize("path", sorted(p.name for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_each_kubernetes_manifest_is_valid_against_the_api_schema(path: str) -> None:
    for doc in yaml.safe_load_all((KUBERNETES / path).read_text()):
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    present = {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert sorted(listed) == sorted(present)


def test_probes_and_health_checks_name_real_routes(tmp_path: Path) -> None:
    container = manifests()["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    probed = {container[p]["httpGet"]["path"] for p in ("startupProbe", "readinessProbe", "livenessProbe")}
    railway = json.loads((ROOT / "railway.json").read_text())
    healthcheck = " ".join(instruction(dockerfile_stages()[-1], "HEALTHCHECK"))
    assert railway["deploy"]["healthcheckPath"] == "/health/live" and "/health/live" in healthcheck
    checked = probed | {railway["deploy"]["healthcheckPath"]}
    assert answer_200(checked, tmp_path) == checked


def test_the_deployment_shuts_down_gracefully_and_reads_secrets_by_reference() -> None:
    found = manifests()
    pod = found["Deployment"]["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["lifecycle"]["preStop"] and pod["terminationGracePeriodSeconds"] >= 30
    assert {"secretRef": {"name": found["Secret"]["metadata"]["name"]}} in container["envFrom"]
    assert not [e for e in container.get("env", []) if re.search("KEY|SECRET|PASSWORD|URL", e["name"])]
    assert {"DATABASE_URL", "REDIS_URL", "ASAHI_ENCRYPTION_KEY", "ASAHI_ADMIN_SECRET"} <= set(
        found["Secret"]["stringData"])
    labels = found["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert found["Service"]["spec"]["selector"].items() <= labels.items()
    assert found["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items() <= labels.items()
    target = found["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", found["Deployment"]["metadata"]["name"])


def test_the_image_is_multi_stage_slim_non_root_and_runs_the_tested_script() -> None:
    stages = dockerfile_stages()
    assert len(stages) == 3 and stages[0][0].startswith("FROM node:") and " AS dashboard" in stages[0][0]
    final = stages[-1]
    assert "slim" in final[0]
    assert not re.search(r"apt-get|gcc|build-essential|npm", "\n".join(final))  # nothing built in it
    user = instruction(final, "USER")
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "COPY deploy/install-and-serve.sh /usr/local/bin/asahi-container" in final
    assert any(run.startswith("asahi-container install ") for run in instruction(final, "RUN"))
    assert json.loads(instruction(final, "CMD")[-1]) == ["asahi-container", "serve", "/opt/asahi"]
    assert "ASAHI_IN_CONTAINER=1" in " ".join(instruction(final, "ENV"))
    uid = re.search(r"--uid (\d+)", "\n".join(final))
    pod = manifests()["Deployment"]["spec"]["template"]["spec"]
    assert uid and int(uid.group(1)) == pod["securityContext"]["runAsUser"] == int(user[-1].split(":")[0])
    exposed = int(instruction(final, "EXPOSE")[-1])
    assert exposed == pod["containers"][0]["ports"][0]["containerPort"]


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    linted = subprocess.run([str(Path(sys.executable).with_name("hadolint")), str(ROOT / "Dockerfile")],
                            capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "web/node_modules", "src/asahi/dashboard"} <= ignored


def test_railway_and_the_procfile_start_what_the_image_starts() -> None:
    railway = json.loads((ROOT / "railway.json").read_text())
    assert railway["build"] == {"builder": "DOCKERFILE", "dockerfilePath": "Dockerfile"}
    assert shlex.split(railway["deploy"]["startCommand"]) == json.loads(
        instruction(dockerfile_stages()[-1], "CMD")[-1])
    web = dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines())["web"]
    assert "asahi migrate" in web and "asahi serve --host 0.0.0.0" in web  # a buildpack dyno is no container


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    checked = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
                              str(ROOT / "docker-compose.yml")], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_compose_starts_asahi_on_healthy_postgres_and_redis_with_secrets_from_env() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"asahi", "postgres", "redis"}
    assert services["asahi"]["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                               "redis": {"condition": "service_healthy"}}
    assert all("healthcheck" in services[name] for name in ("postgres", "redis"))
    env = services["asahi"]["environment"]
    for name in ("ASAHI_ENCRYPTION_KEY", "ASAHI_ADMIN_SECRET"):
        assert env[name].startswith(f"${{{name}:?"), name  # required: compose stops with the message if unset
    assert env["DATABASE_URL"].startswith("postgresql://") and env["REDIS_URL"].startswith("redis://redis:")
    named = {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}
    assert named == set(compose["volumes"])

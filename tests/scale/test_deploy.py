"""deploy/ checked offline (no cluster, no Docker engine here): the Kubernetes base against
the Kubernetes JSON schemas (kubernetes-validate, strict: unknown fields fail), the compose
file against a JSON schema, and what a reviewer would check by hand: probes, resources,
non-root, secrets referenced and never inlined, selectors that match, pool sizes that fit
the primary's max_connections.

The compose check: the Compose Specification's own schema is not in any installed
package, and nothing may be downloaded during tests, so ``COMPOSE_SCHEMA`` below is a
focused schema of the parts this file uses (it rejects unknown service keys, as the
specification's schema does).
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
BASE = DEPLOY / "kubernetes" / "base"
COMPOSE = DEPLOY / "compose.yaml"
KUBERNETES_VERSION = "1.33.0"
SECRET_NAMES = re.compile(r"(PASSWORD|SECRET|PRIVATE_KEY|PII_KEYS|HMAC|PSEUDONYM|DATABASE_URL)$")


def built() -> list[dict[str, Any]]:
    """What ``kustomize build`` makes of the base: its resources, images replaced, the
    common labels added (the transforms the kustomization uses)."""
    kustomization = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Kustomization"
    images = {i["name"]: f"{i['newName']}:{i['newTag']}" for i in kustomization["images"]}
    labels = {k: v for group in kustomization["labels"] for k, v in group["pairs"].items()}
    documents = []
    for name in kustomization["resources"]:
        for doc in yaml.safe_load_all((BASE / name).read_text()):
            doc["metadata"].setdefault("labels", {}).update(labels)
            for container in _containers(doc):
                container["image"] = images.get(container["image"], container["image"])
            documents.append(doc)
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, "every manifest is in the kustomization, and only those"
    return documents


def _pod(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] in ("Deployment", "Job"):
        spec: dict[str, Any] = doc["spec"]["template"]["spec"]
        return spec
    return None


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    pod = _pod(doc)
    return [*pod.get("initContainers", []), *pod["containers"]] if pod else []


def by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_every_manifest_passes_the_kubernetes_schema_strictly() -> None:
    docs = built()
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(
        [
            "ConfigMap",
            "Deployment",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Job",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
        ]
    )


def test_a_manifest_with_a_mistake_is_refused() -> None:
    """The validator is not a no-op: a misspelt field and a wrong type fail."""
    (deployment,) = [
        d for d in by_kind(built(), "Deployment") if d["metadata"]["name"] == "berdaya-api"
    ]
    deployment["spec"]["replica"] = 2
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
    del deployment["spec"]["replica"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_workloads_probe_limit_and_run_as_non_root() -> None:
    docs = built()
    deployments = by_kind(docs, "Deployment")
    assert {d["metadata"]["name"] for d in deployments} == {"berdaya-api", "berdaya-dispatcher"}
    for doc in [*deployments, *by_kind(docs, "Job")]:
        pod = _pod(doc)
        assert pod is not None
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
        assert pod["automountServiceAccountToken"] is False
        for container in _containers(doc):
            assert container["image"].startswith("registry.example.id/berdaya/api:")
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= container["resources"][bound].keys()
            if doc["kind"] == "Deployment":
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    (api,) = [d for d in deployments if d["metadata"]["name"] == "berdaya-api"]
    assert api["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_secrets_are_referenced_never_inlined() -> None:
    docs = built()
    assert not by_kind(docs, "Secret")
    for doc in docs:
        for container in _containers(doc):
            refs = [e["secretRef"]["name"] for e in container["envFrom"] if "secretRef" in e]
            assert refs == ["berdaya-secrets"]
            for env in container.get("env", []):
                assert not SECRET_NAMES.search(env["name"]) or "valueFrom" in env, env
    (config,) = by_kind(docs, "ConfigMap")
    for name in config["data"]:
        assert not SECRET_NAMES.search(name), name


def test_service_hpa_pdb_and_job_fit_together() -> None:
    docs = built()
    (api,) = [d for d in by_kind(docs, "Deployment") if d["metadata"]["name"] == "berdaya-api"]
    pods = api["spec"]["template"]["metadata"]["labels"]
    (service,) = by_kind(docs, "Service")
    assert service["spec"]["selector"].items() <= pods.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    (pdb,) = by_kind(docs, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= pods.items()
    (hpa,) = by_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "berdaya-api"
    assert hpa["spec"]["minReplicas"] >= 2  # with the PDB, a drain never empties the API
    (dispatcher,) = [d for d in by_kind(docs, "Deployment") if d is not api]
    dispatcher_pods = dispatcher["spec"]["template"]["metadata"]["labels"]
    assert not service["spec"]["selector"].items() <= dispatcher_pods.items()
    (job,) = by_kind(docs, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["berdaya", "migrate"]
    (config,) = by_kind(docs, "ConfigMap")
    assert config["data"]["BERDAYA_MIGRATE_ON_START"] == "false"  # the Job migrates
    assert config["data"]["BERDAYA_DATABASE_PGBOUNCER"] == "true"


# --- compose ------------------------------------------------------------------------------

_HEALTHCHECK = {
    "type": "object",
    "required": ["test"],
    "additionalProperties": False,
    "properties": {
        "test": {"type": "array", "minItems": 2, "items": {"type": "string"}},
        "interval": {"type": "string", "pattern": r"^\d+(ms|s|m)$"},
        "timeout": {"type": "string", "pattern": r"^\d+(ms|s|m)$"},
        "start_period": {"type": "string", "pattern": r"^\d+(ms|s|m)$"},
        "retries": {"type": "integer", "minimum": 1},
    },
}
_SERVICE = {
    "type": "object",
    "additionalProperties": False,
    "anyOf": [{"required": ["image"]}, {"required": ["build"]}],
    "properties": {
        "image": {"type": "string"},
        "build": {
            "type": "object",
            "required": ["context"],
            "additionalProperties": False,
            "properties": {"context": {"type": "string"}, "dockerfile": {"type": "string"}},
        },
        "command": {"type": "array", "items": {"type": "string"}},
        "entrypoint": {"type": "array", "items": {"type": "string"}},
        "environment": {
            "type": "object",
            "additionalProperties": {"type": "string"},
        },
        "env_file": {"type": "array", "items": {"type": "string"}},
        "ports": {"type": "array", "items": {"type": "string", "pattern": r"^[\d.:]+$"}},
        "volumes": {"type": "array", "items": {"type": "string"}},
        "secrets": {
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "required": ["source"],
                        "additionalProperties": False,
                        "properties": {"source": {"type": "string"}, "target": {"type": "string"}},
                    },
                ]
            },
        },
        "depends_on": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["condition"],
                "additionalProperties": False,
                "properties": {
                    "condition": {
                        "enum": [
                            "service_started",
                            "service_healthy",
                            "service_completed_successfully",
                        ]
                    }
                },
            },
        },
        "healthcheck": _HEALTHCHECK,
        "restart": {"enum": ["no", "always", "on-failure", "unless-stopped"]},
    },
}
COMPOSE_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["services"],
    "additionalProperties": False,
    "patternProperties": {"^x-": {}},
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]*$"},
        "services": {"type": "object", "additionalProperties": _SERVICE},
        "volumes": {"type": "object", "additionalProperties": {"type": ["object", "null"]}},
        "secrets": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["file"],
                "additionalProperties": False,
                "properties": {"file": {"type": "string"}},
            },
        },
    },
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_the_compose_file_passes_its_schema() -> None:
    document = compose()
    jsonschema.Draft202012Validator(COMPOSE_SCHEMA).validate(document)
    broken = compose()
    broken["services"]["api-1"]["helthcheck"] = broken["services"]["api-1"].pop("healthcheck")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(COMPOSE_SCHEMA).validate(broken)


def test_the_compose_topology() -> None:
    services = compose()["services"]
    assert set(services) == {
        "primary",
        "replica",
        "pgbouncer",
        "migrate",
        "api-1",
        "api-2",
        "dispatcher",
    }
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, (name, dependency)
        if name != "migrate":
            assert "healthcheck" in service, name
        for key, value in service.get("environment", {}).items():
            assert not SECRET_NAMES.search(key) or key.endswith("_FILE"), (name, key, value)
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), (name, source)
    for api in ("api-1", "api-2"):
        env = services[api]["environment"]
        assert env["BERDAYA_DATABASE_PGBOUNCER"] == "true"
        assert services[api]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "/readyz" in " ".join(services[api]["healthcheck"]["test"])
    assert services["dispatcher"]["command"] == ["berdaya", "dispatch"]
    example = (DEPLOY / "compose" / "berdaya.env.example").read_text()
    for key in ("DATABASE_URL", "BERDAYA_DATABASE_REPLICA_URL", "BERDAYA_DATABASE_DIRECT_URL"):
        assert f"{key}=" in example
    assert "@pgbouncer:6432/" in example and "@primary:5432/" in example
    replica = (DEPLOY / "compose" / "replica-entrypoint.sh").read_text()
    assert "pg_basebackup" in replica and " -R " in replica


def test_pgbouncer_pools_fit_the_primary() -> None:
    """Transaction mode, and the server connections PgBouncer may open to the primary, plus
    the direct ones (dispatcher pools, a migration, superuser slots), stay under the
    primary's max_connections (docs/scaling.md, "Pool sizing")."""
    ini = configparser.ConfigParser()
    ini.read(DEPLOY / "compose" / "pgbouncer.ini")
    assert ini["pgbouncer"]["pool_mode"] == "transaction"
    assert ini["pgbouncer"]["server_reset_query"] == ""
    pools = {
        name: int(dict(p.split("=") for p in value.split())["pool_size"])
        for name, value in ini["databases"].items()
    }
    reserve = int(ini["pgbouncer"]["reserve_pool_size"])
    command = compose()["services"]["primary"]["command"]
    max_connections = int(next(c.split("=")[1] for c in command if "max_connections" in c))
    services = compose()["services"]
    direct = int(services["dispatcher"]["environment"]["BERDAYA_DB_POOL_SIZE"]) + 5 + 3
    assert pools["berdaya"] + reserve + direct <= max_connections
    assert pools["berdaya_replica"] + reserve <= 100  # the replica's default max_connections


def test_deploy_scripts_and_dockerfiles_are_clean() -> None:
    for script in (DEPLOY / "compose").glob("*.sh"):
        subprocess.run(["sh", "-n", str(script)], check=True)
    hadolint = shutil.which("hadolint") or str(
        Path(__file__).resolve().parents[2] / ".venv/bin/hadolint"
    )
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed")
    for dockerfile in (DEPLOY / "compose").glob("*.Dockerfile"):
        result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr

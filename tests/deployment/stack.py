"""
Bring the docker-compose stack up on this machine: the base images it needs, built locally, then
``docker-compose up`` on free loopback ports, and ``down -v`` whatever happens.

No image registry is needed: a Debian rootfs from ``debootstrap`` is imported once, Airflow from the
lock goes on top of it (a stand-in for ``apache/airflow``), PostgreSQL and Redis come from Debian's
packages. Base images are tagged by a hash of what they are built from, so later runs reuse them.
Package index settings and the CA bundle of this machine are forwarded into the builds (never
written into the repository).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
IMAGES = Path(__file__).resolve().parent / "images"
LOCK = ROOT / "requirements" / "lock.txt"
DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = ("python3", "python3-venv", "ca-certificates", "curl", "tini", "postgresql", "redis-server")
REPO = "airflow-crm-provider-test"
#: Index settings forwarded to the builds, when this machine has them (http(s) URLs only).
INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL")
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


class StackError(RuntimeError):
    """A step of building or running the stack failed (the message says which, with its output)."""


def run(command: list[str], *, timeout: float = 900, env: dict[str, str] | None = None, **kw: Any) -> str:
    """Run ``command``, return its stdout; raise :class:`StackError` with its output on failure."""
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=timeout, env=env, check=False, **kw
    )
    if done.returncode != 0:
        tail = (done.stdout[-3000:] + "\n" + done.stderr[-3000:]).strip()
        raise StackError(f"{' '.join(command[:4])} ... exited {done.returncode}:\n{tail}")
    return done.stdout


def docker_unavailable() -> str | None:
    """Return why no Docker engine and docker-compose can be used here, or None when they can."""
    for tool in ("docker", "docker-compose"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (make test-compose installs it)"
    try:
        run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=30)
    except (StackError, subprocess.TimeoutExpired) as err:
        return f"no Docker engine answers: {str(err).splitlines()[-1]}"
    return None


def _digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def _image_exists(tag: str) -> bool:
    return (
        subprocess.run(["docker", "image", "inspect", tag], capture_output=True, check=False).returncode == 0
    )


def debian_mirror() -> str:
    """Return the Debian mirror this machine's apt uses (debootstrap fetches from the same place)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file() or path.suffix not in ("", ".list", ".sources"):
            continue
        text = path.read_text(errors="replace")
        for match in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.M):
            url = match.group(1)
            if url.startswith("http") and "security" not in url and re.search(r"/debian/?$", url):
                return url
    raise StackError("no Debian mirror found in /etc/apt/sources.list*: debootstrap needs one")


def ca_bundle() -> Path:
    """Return this machine's CA bundle (what its package clients trust), for the builds."""
    for candidate in (
        os.environ.get("PIP_CERT"),
        os.environ.get("SSL_CERT_FILE"),
        ssl.get_default_verify_paths().cafile,
    ):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return Path("/etc/ssl/certs/ca-certificates.crt")


def index_build_args() -> list[str]:
    """Return ``--build-arg`` options for the package index and proxy settings of this machine."""
    values: dict[str, str] = {}
    try:
        listed = run(["pip", "config", "list"], timeout=30)
    except (StackError, OSError, subprocess.TimeoutExpired):
        listed = ""
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        name = key.rsplit(".", 1)[-1]
        if name in ("index-url", "extra-index-url"):
            values[f"PIP_{name.upper().replace('-', '_')}"] = value.strip().strip("'\"")
    for name in (*INDEX_VARIABLES, *PROXY_VARIABLES):
        value = os.environ.get(name) or os.environ.get(name.lower())
        if value:
            values[name] = value
    args: list[str] = []
    for name, value in values.items():
        if name in INDEX_VARIABLES:
            value = " ".join(u for u in value.split() if u.startswith(("http://", "https://")))
        if value:
            args += ["--build-arg", f"{name}={value}"]
    if "PIP_INDEX_URL" in values and "UV_INDEX_URL" not in values:
        args += ["--build-arg", f"UV_INDEX_URL={values['PIP_INDEX_URL']}"]
    return args


def uv_version() -> str:
    """Return the uv version the Makefile pins."""
    found = re.search(r"^UV_VERSION\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), re.M)
    if not found:
        raise StackError("UV_VERSION not found in the Makefile")
    return found.group(1)


def debian_image(log: Any) -> str:
    """Return the tag of the imported Debian rootfs, making it with debootstrap when missing."""
    tag = f"{REPO}/debian:{_digest(DEBIAN_SUITE, *DEBIAN_PACKAGES)}"
    if _image_exists(tag):
        return tag
    if shutil.which("debootstrap") is None:
        raise StackError("debootstrap is not installed (make test-compose installs it)")
    log(f"debootstrap {DEBIAN_SUITE} -> {tag} (about a minute)")
    with tempfile.TemporaryDirectory(prefix="acp-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(DEBIAN_PACKAGES)}",
                DEBIAN_SUITE,
                str(rootfs),
                debian_mirror(),
            ],
            timeout=900,
        )
        for cached in (rootfs / "var/cache/apt/archives").glob("*.deb"):
            cached.unlink()
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        try:
            run(["docker", "import", "-", tag], stdin=tar.stdout, timeout=600)
        finally:
            tar.wait()
    return tag


def _build_standin(name: str, files: dict[str, Path], args: list[str], log: Any) -> str:
    """Build ``images/<name>.Dockerfile`` with ``files`` in its context; the tag hashes all inputs."""
    dockerfile = IMAGES / f"{name}.Dockerfile"
    inputs = [
        dockerfile.read_bytes(),
        *args,
        *(f"{k}:{v.read_bytes().hex()}" for k, v in sorted(files.items())),
    ]
    tag = f"{REPO}/{name}:{_digest(*inputs)}"
    if _image_exists(tag):
        return tag
    log(f"docker build {tag}")
    with tempfile.TemporaryDirectory(prefix=f"acp-{name}-") as context:
        for target, source in files.items():
            shutil.copy(source, Path(context) / target)
        shutil.copy(dockerfile, Path(context) / "Dockerfile")
        run(["docker", "build", "--quiet", "-t", tag, *args, context], timeout=1800)
    return tag


def base_images(log: Any) -> dict[str, str]:
    """Return the compose variables naming locally built bases: Airflow, PostgreSQL and Redis."""
    debian = debian_image(log)
    common = ["--build-arg", f"DEBIAN_IMAGE={debian}"]
    airflow = _build_standin(
        "airflow",
        {"entrypoint.sh": IMAGES / "entrypoint.sh", "lock.txt": LOCK, "build-ca.crt": ca_bundle()},
        [*common, "--build-arg", f"UV_VERSION={uv_version()}"],
        log,
    )
    # Index settings may change without changing the image: pass them outside the tag's inputs.
    postgres = _build_standin(
        "postgres", {"postgres-entrypoint.sh": IMAGES / "postgres-entrypoint.sh"}, common, log
    )
    redis = _build_standin("redis", {}, common, log)
    return {"AIRFLOW_BASE_IMAGE": airflow, "POSTGRES_IMAGE": postgres, "REDIS_IMAGE": redis}


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Stack:
    """
    One compose project of ``docker-compose.yaml`` on free loopback ports.

    :param workdir: where logs of a failed run are kept.
    :param variables: compose variables (image names) on top of the ports chosen here.
    """

    def __init__(self, workdir: Path, variables: dict[str, str]) -> None:
        self.project = f"acpstack{os.getpid()}"
        self.workdir = workdir
        self.api_port = free_port()
        self.emulator_port = free_port()
        self.env = {
            **os.environ,
            **variables,
            "AIRFLOW_PROJ_DIR": str(ROOT),
            "AIRFLOW_API_PORT": str(self.api_port),
            "EMULATOR_PORT": str(self.emulator_port),
            "COMPOSE_PROJECT_NAME": self.project,
        }

    def compose(self, *args: str, timeout: float = 600) -> str:
        """Run ``docker-compose`` on this project."""
        command = ["docker-compose", "-f", str(ROOT / "docker-compose.yaml"), "-p", self.project, *args]
        return run(command, env=self.env, timeout=timeout, cwd=ROOT)

    def build(self) -> None:
        """Build the stack's Airflow image from this checkout on the base in the variables."""
        run(
            [
                "docker",
                "build",
                "--quiet",
                "-t",
                self.env["AIRFLOW_IMAGE_NAME"],
                "--build-arg",
                f"AIRFLOW_IMAGE={self.env['AIRFLOW_BASE_IMAGE']}",
                *index_build_args(),
                str(ROOT),
            ],
            timeout=1800,
        )

    def containers(self) -> dict[str, dict[str, Any]]:
        """Return ``{container name: docker inspect}`` of this project's containers."""
        ids = run(
            ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={self.project}"]
        ).split()
        if not ids:
            return {}
        return {c["Name"].lstrip("/"): c for c in json.loads(run(["docker", "inspect", *ids]))}

    def up(self, timeout: float = 600) -> None:
        """Start every service; return once init is done and the services they all need are healthy."""
        self.compose("up", "-d", "--no-build", timeout=timeout)
        self.wait_healthy(
            timeout, ("postgres", "redis", "emulator", "airflow-apiserver", "airflow-scheduler")
        )

    def wait_healthy(self, timeout: float, services: tuple[str, ...] | None = None) -> dict[str, str]:
        """
        Wait until init has exited 0 and the services named (default: all) report healthy.

        :raises StackError: when a container ended (init with an error) or the time ran out.
        """
        deadline = time.monotonic() + timeout
        while True:
            states = {
                c["Config"]["Labels"]["com.docker.compose.service"] + ":" + n: _state(c)
                for n, c in self.containers().items()
            }
            ended = {n: s for n, s in states.items() if s.startswith("exited") and s != "exited 0"}
            ended |= {
                n: s for n, s in states.items() if s == "exited 0" and not n.startswith("airflow-init:")
            }
            if ended:
                raise StackError(f"containers ended: {ended}")
            waiting = {
                n: s
                for n, s in states.items()
                if s not in ("healthy", "exited 0") and (services is None or n.split(":")[0] in services)
            }
            init_done = any(n.startswith("airflow-init:") and s == "exited 0" for n, s in states.items())
            if init_done and not waiting:
                return states
            if time.monotonic() > deadline:
                raise StackError(f"not healthy after {timeout:.0f} s: {waiting or 'airflow-init not done'}")
            time.sleep(3)

    def logs(self) -> Path:
        """Write every service's log to a file in ``workdir`` and return its path."""
        path = self.workdir / f"{self.project}.log"
        try:
            path.write_text(self.compose("logs", "--no-color", "--timestamps", timeout=120))
        except (StackError, subprocess.TimeoutExpired) as err:
            path.write_text(f"could not read the logs: {err}")
        return path

    def down(self) -> None:
        """Stop and remove the containers, networks and volumes of this project."""
        self.compose("down", "-v", "--remove-orphans", "--timeout", "10", timeout=300)


def _state(container: dict[str, Any]) -> str:
    state = container["State"]
    if state["Status"] == "exited":
        return f"exited {state['ExitCode']}"
    health = state.get("Health")
    return str(health["Status"]) if health else str(state["Status"])

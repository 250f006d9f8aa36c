"""Where the private cluster goes: inside the project when the ``postgres`` user can enter it, else under
/var/lib/gis-service, recorded in the project so ``db up`` and ``db stop`` find it again."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from gis_service import provision


def test_cluster_stays_in_the_project_when_postgres_can_enter(tmp_path: Path) -> None:
    assert provision.cluster_root(tmp_path, can_enter=True) == tmp_path / ".data" / "postgres"


def test_cluster_moves_to_a_directory_named_by_the_project_path_otherwise(tmp_path: Path) -> None:
    one = provision.cluster_root(tmp_path / "a", can_enter=False)
    assert one.parent.parent == provision.SHARED_STATE and one.name == "postgres"
    assert one == provision.cluster_root(tmp_path / "a", can_enter=False)  # stable for a project
    assert one != provision.cluster_root(tmp_path / "b", can_enter=False)  # two clones stay apart


def test_recorded_location_wins(tmp_path: Path) -> None:
    (tmp_path / ".data").mkdir()
    (tmp_path / ".data" / provision.LOCATION_FILE).write_text("/var/lib/gis-service/0123456789abcdef/postgres\n")
    cluster = provision.LocalCluster(project_root=tmp_path)
    assert cluster.root == Path("/var/lib/gis-service/0123456789abcdef/postgres") and not cluster.inside


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user than root the server runs as that user")
def test_a_private_home_is_detected() -> None:
    """A project inside a 0700 directory of root's (a clone in /root): postgres cannot enter it."""
    home = Path(tempfile.mkdtemp(prefix="gis-home-"))  # in /tmp, which everyone may enter; itself 0700
    project = home / "clone"
    project.mkdir()
    try:
        home.chmod(0o700)
        assert not provision.postgres_can_enter(project)
        assert provision.locate_cluster(project) == provision.cluster_root(project, can_enter=False)
        home.chmod(0o755)
        assert provision.postgres_can_enter(project)
        assert provision.locate_cluster(project) == project / ".data" / "postgres"
    finally:
        shutil.rmtree(home, ignore_errors=True)

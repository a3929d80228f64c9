"""Malformed or hostile bundles: a clear one-line error, a non-zero exit,
nothing left behind, and nothing changed outside the bundle."""

import os

import pytest

from husktest import host
from husktest.asserts import assert_clean_failure, mount_at


def test_malformed_json_is_rejected(oci, bundle):
    bundle.write_raw('{"ociVersion": "1.0.2", "process": {"args": ["/bin/probe"]')
    cid = oci.new_id("badjson")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid, mention=r"config\.json|json")


def test_config_that_is_not_an_object_is_rejected(oci, bundle):
    bundle.write_raw("[1, 2, 3]\n")
    cid = oci.new_id("notobj")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid)


def test_missing_config_is_rejected(oci, bundle):
    bundle.write_raw("")
    os.unlink(bundle.path / "config.json")
    cid = oci.new_id("noconfig")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid, mention=r"config\.json")


def test_unknown_namespace_type_is_rejected(oci, bundle):
    bundle.linux["namespaces"].append({"type": "bogusns"})
    cid = oci.new_id("badns")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid, mention=r"bogusns")


def test_unsupported_major_version_is_rejected(oci, bundle):
    bundle.config["ociVersion"] = "2.0.0"
    cid = oci.new_id("v2")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid, mention=r"2\.0\.0|ociVersion|version")


def test_missing_rootfs_is_rejected(oci, bundle):
    bundle.config["root"]["path"] = "no-such-rootfs"
    cid = oci.new_id("norootfs")
    res = oci.create(bundle, cid, check=False)
    assert_clean_failure(oci, res, cid, mention=r"no-such-rootfs")


def test_missing_executable_is_rejected(oci, bundle):
    bundle.set_args("/bin/no-such-program")
    cid = oci.new_id("noexe")
    res = oci.run(bundle, cid)
    assert res.returncode != 0
    assert "no-such-program" in res.stderr, res.describe()
    assert oci.leftovers(cid) == []


def _outside_dir(workdir):
    """A host directory outside the rootfs with a marker file, and a snapshot
    of it to compare afterwards."""
    outside = workdir / "outside"
    outside.mkdir()
    (outside / "marker").write_text("untouched\n")
    return outside


def _assert_outside_unchanged(outside):
    assert sorted(os.listdir(outside)) == ["marker"], f"the host dir {outside} changed: {os.listdir(outside)}"
    assert (outside / "marker").read_text() == "untouched\n"
    assert host.mounts_under(str(outside)) == [], "something got mounted on the host dir"


def _check_contained_or_refused(oci, bundle, cid, res, inside_path):
    """Either the runtime refused (clean one-line error), or the mount landed
    inside the container's root at `inside_path` and the process saw it."""
    if res.returncode != 0:
        assert_clean_failure(oci, res, cid)
        return
    r = res.json_lines()[-1]
    m = mount_at(r, inside_path)
    assert m is not None and m["fstype"] == "tmpfs", (
        f"the runtime accepted the mount but it is not at {inside_path} inside the container: "
        + str([x["mount_point"] for x in r["mounts"]])
    )
    assert (bundle.rootfs / inside_path.lstrip("/")).is_dir(), "mount point not created inside the rootfs"


def test_mount_destination_dotdot_cannot_escape(oci, bundle, workdir):
    outside = _outside_dir(workdir)
    dest = "/" + "../" * 12 + str(outside).lstrip("/") + "/newdir"
    bundle.add_mount(dest, "tmpfs", "tmpfs", ["size=1m"])
    bundle.set_args("/bin/sh", "-c", f"/bin/probe write {outside}/newdir/pwned x; /bin/probe")
    cid = oci.new_id("dotdot")
    res = oci.run(bundle, cid)
    _assert_outside_unchanged(outside)
    _check_contained_or_refused(oci, bundle, cid, res, f"{outside}/newdir")


@pytest.mark.parametrize("kind", ["absolute", "relative", "absolute-also-in-rootfs"])
def test_mount_destination_symlink_cannot_escape(oci, bundle, workdir, kind):
    outside = _outside_dir(workdir)
    if kind.startswith("absolute"):
        target = str(outside)
        if kind == "absolute-also-in-rootfs":
            # the link resolves inside the root too: a runtime that resolves
            # it within the root may mount there
            (bundle.rootfs / str(outside).lstrip("/")).mkdir(parents=True)
    else:
        depth = len(bundle.rootfs.parts) - 1
        target = "../" * depth + str(outside).lstrip("/")
    os.symlink(target, bundle.rootfs / "evil")
    bundle.add_mount("/evil/newdir", "tmpfs", "tmpfs", ["size=1m"])
    bundle.set_args("/bin/sh", "-c", "/bin/probe write /evil/newdir/pwned x; /bin/probe")
    cid = oci.new_id("symlink")
    res = oci.run(bundle, cid)
    _assert_outside_unchanged(outside)
    # inside the container, /evil resolves within the root: to <outside path>
    # for the absolute link, and to /<outside path> (clamped at /) for the
    # relative one
    _check_contained_or_refused(oci, bundle, cid, res, f"{outside}/newdir")


def test_bind_source_symlink_in_rootfs_is_not_followed_on_host(oci, bundle, workdir):
    """A rootfs symlink used as a bind *destination* for a file must not let
    the runtime create files outside the rootfs."""
    outside = _outside_dir(workdir)
    src = workdir / "srcfile"
    src.write_text("bound\n")
    os.symlink(str(outside / "created-by-runtime"), bundle.rootfs / "evil-file")
    bundle.add_mount("/evil-file", "bind", src, ["bind", "ro"])
    bundle.set_args("/bin/probe")
    cid = oci.new_id("filelink")
    res = oci.run(bundle, cid)
    _assert_outside_unchanged(outside)
    if res.returncode != 0:
        assert_clean_failure(oci, res, cid)

"""experiments/eval/pairing_c/get_images.py: a pairing's images copied (or downloaded) and checked
against the sha256 of its images.csv; a bad one is named in one line and nothing half-written stays."""

import csv
import hashlib
from pathlib import Path

import pytest

from conftest import load_script

FIELDS = ["file", "kind", "title", "artist_or_author", "year", "why_public_domain_or_licence", "source_repo",
          "source_path", "commit", "sha256"]


@pytest.fixture(scope="module")
def get_images():
    return load_script("experiments/eval/pairing_c/get_images.py")


def write_pairing(tmp_path: Path, images: dict[str, bytes], sha_of: dict[str, str] | None = None) -> tuple[Path, Path]:
    """A source folder holding `images` and an images.csv listing them (sha256 from `sha_of` where given)."""
    source = tmp_path / "source"
    for name, data in images.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(data)
    table = tmp_path / "images.csv"
    with open(table, "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        for name, data in images.items():
            sha = (sha_of or {}).get(name, hashlib.sha256(data).hexdigest())
            writer.writerow({**{field: "x" for field in FIELDS}, "file": name, "sha256": sha})
    return source, table


def test_copies_every_image_of_another_pairings_csv(get_images, tmp_path, capsys):
    source, table = write_pairing(tmp_path, {"photos/a.png": b"photo", "styles/b.jpg": b"painting"})
    out = tmp_path / "out"
    assert get_images.main(["--csv", str(table), "--from", str(source), "--out", str(out)]) == 0
    assert (out / "photos/a.png").read_bytes() == b"photo" and (out / "styles/b.jpg").read_bytes() == b"painting"
    assert "2 of 2 images" in capsys.readouterr().out


def test_a_wrong_checksum_is_named_and_the_rest_still_copied(get_images, tmp_path, capsys):
    source, table = write_pairing(tmp_path, {"photos/a.png": b"photo", "styles/b.jpg": b"painting"},
                                  sha_of={"photos/a.png": "0" * 64})
    out = tmp_path / "out"
    assert get_images.main(["--csv", str(table), "--from", str(source), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["photos/a.png: sha256 differs from images.csv"]
    assert not (out / "photos").exists() or not any((out / "photos").iterdir())  # nothing half-written
    assert (out / "styles/b.jpg").read_bytes() == b"painting"


def test_a_missing_csv_is_one_line_and_status_2(get_images, tmp_path, capsys):
    assert get_images.main(["--csv", str(tmp_path / "none.csv"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"{tmp_path / 'none.csv'}: ") and "images.csv" in err[0]


def test_another_pairings_list_needs_its_folder_and_its_columns(get_images, tmp_path, capsys):
    source, table = write_pairing(tmp_path, {"photos/a.png": b"photo"})
    assert get_images.main(["--csv", str(table), "--from", str(source)]) == 2  # would land in pairing C's folder
    table.write_text("file,title\nphotos/a.png,x\n")
    assert get_images.main(["--csv", str(table), "--from", str(source), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and err[0].startswith(f"--csv {table}: needs --out")
    assert err[1] == f"{table}: no column 'sha256'; expected images.csv's columns"
    assert not (tmp_path / "out").exists()

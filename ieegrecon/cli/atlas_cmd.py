"""``ieegrecon atlas-agreement`` / ``atlas-aparc``: how well the MNI atlas labels agree with other labellings.

Both print a JSON summary on stdout (formerly ``python -m ieegrecon.atlas agreement|aparc``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .app import command, print_json


@command("atlas-agreement")
def atlas_agreement_cmd(
    root: Path = typer.Argument(..., help="BIDS root with electrodes.tsv files carrying Brainnetome "
                                          "'AnatomicalLocation' labels (e.g. ds004752)."),
    atlas: str = typer.Option("desikan_killiany", "--atlas", help="MNI atlas of our labels."),
    max_distance: float = typer.Option(5.0, "--max-distance", help="Search radius for the nearest "
                                                                    "grey-matter label, in mm."),
) -> None:
    """Agreement of our atlas labels with the dataset's Brainnetome labels, at structure-class level."""
    from ..atlas import brainnetome_agreement

    print_json(brainnetome_agreement(root, atlas=atlas, max_distance_mm=max_distance))


@command("atlas-aparc")
def atlas_aparc_cmd(
    fif: Path = typer.Argument(..., help="FIF recording with contact positions and a FreeSurfer subject."),
    subjects_dir: Optional[Path] = typer.Option(None, "--subjects-dir", help="FreeSurfer SUBJECTS_DIR."),
    max_distance: float = typer.Option(5.0, "--max-distance", help="Search radius for the nearest "
                                                                    "grey-matter label, in mm."),
) -> None:
    """Agreement of our atlas labels with the subject's own FreeSurfer aparc+aseg."""
    from ..atlas import aparc_agreement
    from ..io.electrodes import read_electrodes

    el = read_electrodes(fif, subjects_dir=None if subjects_dir is None else str(subjects_dir))
    res = aparc_agreement(el, max_distance_mm=max_distance)
    res.pop("subject_keys"), res.pop("atlas_keys")
    print_json(res)

"""``ieegrecon evaluate``: leave-one-subject-out benchmark of reconstruction methods."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from ..errors import UsageError
from .app import command, err_console, out_console, print_json


def _floats(text: str, opt: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise UsageError(f"{opt} must be comma-separated numbers, got {text!r}") from None
    if not vals:
        raise UsageError(f"{opt} is empty")
    return vals


def _pretrained(items: list[str], methods: list[str]) -> dict[str, Path]:
    from ..models import get_model_class

    pre_methods = [m for m in methods if get_model_class(m).supports_pretrain]
    out: dict[str, Path] = {}
    for item in items:
        if "=" in item:
            m, p = item.split("=", 1)
            out[m.strip()] = Path(p)
        elif len(pre_methods) == 1:
            out[pre_methods[0]] = Path(item)
        else:
            raise UsageError(f"--pretrained {item}: name the method (METHOD=DIR) when "
                             f"{len(pre_methods)} cross-subject methods are evaluated")
    return out


@command("evaluate")
def evaluate(
    root: Path = typer.Argument(..., help="BIDS root (sub-XX/ses-YY/eeg + ieeg), e.g. a simulated cohort."),
    out: Path = typer.Option(..., "--out", help="Results folder (TSV tables, stats.json, report.html)."),
    methods: str = typer.Option(
        "", "--methods",
        help="Comma-separated methods (default: ridge,ridge0,ridge-cv,ridge-prior,ridge-gauss,source, plus every "
             "cross-subject method given --pretrained METHOD=DIR, e.g. xs-ridge)."),
    calibration_minutes: str = typer.Option("1,2,5,10", "--calibration-minutes",
                                            help="Comma-separated calibration lengths (0 = zero-shot)."),
    loso: bool = typer.Option(True, "--loso/--no-loso",
                              help="Pretrained methods use PRETRAINED/fold-sub-XX per test subject."),
    pretrained: list[str] = typer.Option([], "--pretrained",
                                         help="METHOD=DIR (or DIR with one cross-subject method); repeatable."),
    limit_minutes: float = typer.Option(30.0, "--limit-minutes",
                                        help="Minutes of the lagged-ridge large-data ceiling (0: skip)."),
    no_oracle: bool = typer.Option(False, "--no-oracle", help="Skip the ground-truth oracle."),
    viable_r: float = typer.Option(0.3, "--viable-r", help="Confidence threshold of the 'viable' subset."),
    subjects: str = typer.Option("", "--subjects", help="Comma-separated subject labels (default: all)."),
    n_boot: int = typer.Option(2000, "--n-boot", min=0, help="Bootstrap resamples over subjects."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and of trained methods."),
    sfreq: float = typer.Option(200.0, "--sfreq", help="Rate (Hz) both signals are resampled to."),
    test_minutes: float = typer.Option(0.0, "--test-minutes", min=0.0,
                                       help="Score on the first N minutes of the test part only (0: all of it)."),
    n_draws: int = typer.Option(32, "--draws", min=2,
                                help="Posterior draws of sampling methods (ridge-gauss, flow) for the 90 % bands and draw metrics."),
    ieeg_reference: str = typer.Option("recorded", "--ieeg-reference",
                                       help="Montage targets and surrogates are scored in: recorded, bipolar "
                                            "(adjacent contacts of a shaft) or average."),
    no_ied: bool = typer.Option(False, "--no-ied", help="Skip the IED event metrics (ied_* columns)."),
    no_report: bool = typer.Option(False, "--no-report", help="Do not write report.html."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Write into a non-empty results folder."),
    resume: bool = typer.Option(False, "--resume",
                                help="Reuse per-subject results already in OUT/per_subject (same settings)."),
    jobs: int = typer.Option(1, "--jobs", min=1,
                             help="Subjects evaluated at once, each in its own process (same results; more memory)."),
    as_json: bool = typer.Option(False, "--json", help="Print the overall summary as JSON on stdout."),
) -> None:
    """Benchmark methods subject by subject (calibrate on ses-01, test on ses-02), with ceilings and statistics."""
    # Option names are EvalConfig's and run_evaluation's parameter names (--draws is n_draws), so a
    # library message naming "the 'n_draws' parameter" is shown with the flag (cli.app's error policy).
    from ..evaluation import EvalConfig, default_methods, run_evaluation
    from ..models import get_model_class
    from ..preprocessing import Preprocessing

    meths = [m.strip() for m in methods.split(",") if m.strip()] or default_methods(
        item.split("=", 1)[0].strip() for item in pretrained if "=" in item)
    for m in meths:
        try:
            get_model_class(m)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    cfg = EvalConfig(
        methods=meths, calibration_minutes=_floats(calibration_minutes, "--calibration-minutes"), loso=loso,
        pretrained=_pretrained(pretrained, meths), limit_minutes=limit_minutes or None, oracle=not no_oracle,
        viable_r=viable_r, n_boot=n_boot, seed=seed,
        subjects=[s.strip().removeprefix("sub-") for s in subjects.split(",") if s.strip()] or None,
        prep=Preprocessing(sfreq=sfreq), test_minutes=test_minutes or None, n_draws=n_draws,
        n_metric_draws=min(8, n_draws), ieeg_reference=ieeg_reference, ied=not no_ied,
    )
    res = run_evaluation(root, cfg, out, overwrite=overwrite, report=not no_report, resume=resume, jobs=jobs,
                         progress=None if as_json else (lambda msg: err_console.print(msg, markup=False)))
    s = res.summary[res.summary["subset"] == "all"]
    if as_json:
        print_json({"out": str(out), "subjects": res.stats["subjects"], "skipped": res.stats["skipped"],
                    "summary": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
                                for row in s[["method", "minutes", "n_subjects", "r_mean", "r_ci_low", "r_ci_high",
                                              "r_fraction_of_limit"]].to_dict("records")]})
        return
    for row in s.itertuples():
        out_console.print(f"{row.method:>12}  {row.minutes:>6.3g} min  r = {row.r_mean:.3f} "
                          f"[{row.r_ci_low:.3f}, {row.r_ci_high:.3f}]  ({row.n_subjects} subjects)", markup=False)
    out_console.print(f"results in {out} (report.html, summary.tsv, contacts.tsv, stats.json)", markup=False)

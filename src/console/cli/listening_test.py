"""``console listening-test``: build a MUSHRA-style web page, or analyse its results."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from console.errors import ConsoleError


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "listening-test",
        help="build a MUSHRA-style listening test, or analyse its results",
        description="With EVAL_DIR (a `console evaluate` output folder): write a static "
        "web page to -o SITE that plays each song's reference, then the systems, a hidden "
        "reference and a low-passed anchor in random order, rated 0-100; participants "
        "download their ratings as JSON. Serve SITE with any static server "
        "(python -m http.server -d SITE) or open SITE/index.html. With --analyse "
        "RESULTS...: mean rating per system with 95% confidence intervals, as a table, "
        "ratings.csv/json and ratings.png in -o.",
    )
    parser.add_argument("inputs", nargs="+", type=Path,
                        help="EVAL_DIR, or the results files with --analyse")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="folder for the site, or for the analysis")
    parser.add_argument("--analyse", action="store_true", help="analyse results files")
    parser.add_argument("--title", default="Which mix is closest to the reference?")
    parser.add_argument("--post-screen", action="store_true",
                        help="leave out participants who often missed the hidden reference "
                        "(ITU-R BS.1534-3)")
    parser.add_argument("--force", action="store_true",
                        help="with --analyse: replace ratings.csv/json/png in -o even if "
                        "console did not write them or they changed since")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from console.listening.folders import check_output_folder

    check_output_folder(args.output, "analysis folder" if args.analyse else "site folder")
    if args.analyse:
        from console.listening.analysis import (
            analyse,
            check_analysis_folder,
            format_analysis,
            read_results,
            write_analysis,
        )

        check_analysis_folder(args.output, args.force)
        analysis = analyse(read_results(args.inputs), post_screen=args.post_screen)
        print(format_analysis(analysis))
        written = write_analysis(args.output, analysis, args.force)
        print("wrote " + ", ".join(str(p) for p in written))
        return 0
    from console.listening.site import build_site

    if len(args.inputs) != 1:
        raise ConsoleError("Give one evaluation folder to build a site from (or use --analyse).")
    index = build_site(args.inputs[0], args.output, args.title)
    print(f"wrote {index}; serve it with `python -m http.server -d {args.output}` and "
          f"open http://localhost:8000/")
    return 0

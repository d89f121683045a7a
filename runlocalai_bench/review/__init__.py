"""The editor's side of the leaderboard: check a submission, rescore it, reproduce it.
Signing a record (the operator's key, record.sig) lives in runlocalai_bench/signing.py, where the
run that signs and the review that checks both reach it.

    source.py      a record file, a run directory or a Gist URL → files on disk (Source)
    verify.py      hashes, schema, claimed vs recomputed scores, log vs record, signature
    rescore.py     recorded generations replayed through this rla's scorer (no model)
    logcheck.py    run.log (and a speed run's runs/*.log) read against the record (pure)
    scores.py      two statements of a run's scores compared field by field (pure)
    dimensions.py  model / quantization / runtime / hardware: does a re-run count (pure)
    paired.py      two runs' samples as paired data: flips, prompt identity, disagreements
    compare.py     two scored runs side by side: the headline (±2 pp, bootstrap interval),
                   each subtask's flips and McNemar p, Wilson intervals (pure)
    reproduce.py   re-run a record's exact configuration here, compare, and give a verdict:
                   one flow, each kind's part through `Kind`
    scored.py      a scored run's part: its configuration re-run, scores and samples judged
    speed.py       a speed row's part: re-run by `rla bench speed`'s runner; the two runs'
                   median decode / prefill tok/s and TTFT compared, decode judged
    report.py      reproduction.json and reproduction.md
    queue.py       `rla reproduce --queue`: records one after another, resumable, a summary
    standing.py    `rla ladder`: existing reproductions judged, and the row's trust state
    duplicates.py  records repeating a row (same five-tuple within N weeks) (pure)

The policy is REFERENCE §1: a reproduction matches four dimensions and its headline lands
within ±2 percentage points (a speed row: its median decode tok/s within ±10%); for a scored
row the hardware differing alone is the editor's own rig (verified), otherwise three of four
matching makes a related benchmark; a reproduction signed by another key than the original's
is independent. Which reproductions move a row up the trust ladder: runlocalai_bench/ladder.py.
"""

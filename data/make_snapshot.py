"""Rebuild data/market_daily.parquet, the embedded daily snapshot, from the staged yfinance CSVs.

Usage: python data/make_snapshot.py [--src ../shared/datasets/market/nasdaq_yfinance_to_2023]

Takes every ticker of the folder (30 large US stocks, tickers A-D, plus the DIA ETF), keeps the days from
2000-01-01 to the end of the files, and writes the long bars schema of pipeline.validate (date, ticker,
open, high, low, close, adj_close, volume) sorted by ticker and date as zstd Parquet. Values are copied
unchanged. Prints the file's sha256, which goes into data/README.md and pipeline.sources.EMBEDDED_SHA256.

With ``--rf-src`` (a Fama-French daily factors file) it also writes data/rf_daily.parquet, the daily
risk-free rate of the same period (``date``, ``rf`` as a fraction per day), and prints its sha256 for
pipeline.rates.EMBEDDED_RF_SHA256.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pandas as pd

from pipeline.cache import parquet_bytes
from pipeline.rates import read_rate_file
from pipeline.sources import load_market

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent.parent / "shared" / "datasets" / "market" / "nasdaq_yfinance_to_2023"
START = "2000-01-01"
RF_START, RF_END = "1999-12-01", "2023-04-14"  # a month before the bars (forward fill), to their last day


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of yfinance-format CSVs")
    parser.add_argument("--out", type=Path, default=HERE / "market_daily.parquet", help="output file")
    parser.add_argument("--rf-src", type=Path, help="Fama-French daily factors file (also writes rf_daily.parquet)")
    args = parser.parse_args()
    if args.rf_src is not None:
        write_rf(args.rf_src, HERE / "rf_daily.parquet")
    # every bar from START on, checked; symbols_valid_meta.csv is the folder's symbol list, not prices
    bars = load_market("csv", start=START, data_dir=args.src, exclude=("SYMBOLS_VALID_META",)).bars
    data = parquet_bytes(bars)
    args.out.write_bytes(data)
    print(
        f"{args.out}: {len(bars)} rows, {bars['ticker'].nunique()} tickers, "
        f"{bars['date'].min().date()} to {bars['date'].max().date()}, {len(data)} bytes"
    )
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")


def write_rf(src: Path, out: Path) -> None:
    """The RF column of a Fama-French daily file on [RF_START, RF_END] as Parquet (date, rf)."""
    rf = read_rate_file(src)
    rf = rf[(rf.index >= RF_START) & (rf.index <= RF_END)]
    data = parquet_bytes(pd.DataFrame({"date": rf.index.astype("datetime64[ns]"), "rf": rf.to_numpy()}))
    out.write_bytes(data)
    span = f"{rf.index[0].date()} to {rf.index[-1].date()}"
    print(f"{out}: {len(rf)} days {span}, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()

"""Rebuild data/market_daily.parquet, the embedded daily snapshot, from the staged yfinance CSVs.

Usage: python data/make_snapshot.py [--src ../shared/datasets/market/nasdaq_yfinance_to_2023]

Takes every ticker of the folder (30 large US stocks, tickers A-D, plus the DIA ETF), keeps the days from
2000-01-01 to the end of the files, and writes the long bars schema of pipeline.validate (date, ticker,
open, high, low, close, adj_close, volume) sorted by ticker and date as zstd Parquet. Values are copied
unchanged. Prints the file's sha256, which goes into data/README.md and pipeline.sources.EMBEDDED_SHA256.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from pipeline.cache import parquet_bytes
from pipeline.sources import load_market

HERE = Path(__file__).resolve().parent
DEFAULT_SRC = HERE.parent.parent / "shared" / "datasets" / "market" / "nasdaq_yfinance_to_2023"
START = "2000-01-01"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder of yfinance-format CSVs")
    parser.add_argument("--out", type=Path, default=HERE / "market_daily.parquet", help="output file")
    args = parser.parse_args()
    # every bar from START on, checked; symbols_valid_meta.csv is the folder's symbol list, not prices
    bars = load_market("csv", start=START, data_dir=args.src, exclude=("SYMBOLS_VALID_META",)).bars
    data = parquet_bytes(bars)
    args.out.write_bytes(data)
    print(
        f"{args.out}: {len(bars)} rows, {bars['ticker'].nunique()} tickers, "
        f"{bars['date'].min().date()} to {bars['date'].max().date()}, {len(data)} bytes"
    )
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()

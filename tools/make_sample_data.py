"""Write the generated project's sample data: synthetic telecom customers and whether they churned.

Usage: python tools/make_sample_data.py OUT.csv

The output is deterministic (a fixed seed, and only ``random.Random.random`` and plain arithmetic
drive it), so the committed ``sample-data/customers.csv`` can be regenerated and compared byte for
byte. Churn follows a logistic function of the features with enough noise that a good model reaches
a ROC AUC around 0.8, not 1.0.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
import sys
from pathlib import Path

SEED = 11
ROW_COUNT = 1000

COLUMNS = (
    "tenure_months",
    "monthly_charges",
    "contract",
    "internet_service",
    "payment_method",
    "support_calls",
    "senior_citizen",
    "churned",
)
CONTRACTS = {"month-to-month": 0.55, "one-year": 0.21, "two-year": 0.24}
INTERNET_SERVICES = {"dsl": 0.34, "fiber": 0.44, "none": 0.22}
PAYMENT_METHODS = {
    "electronic-check": 0.34,
    "mailed-check": 0.23,
    "bank-transfer": 0.22,
    "card": 0.21,
}
SENIOR_SHARE = 0.16
MAX_TENURE_MONTHS = 72
MAX_SUPPORT_CALLS = 9

# Typical tenure (months) by contract: long contracts belong to long-standing customers.
TENURE_CENTRE = {"month-to-month": 14.0, "one-year": 36.0, "two-year": 56.0}
TENURE_SPREAD = {"month-to-month": 14.0, "one-year": 16.0, "two-year": 14.0}
# Base monthly price by internet service, before add-ons.
CHARGES_CENTRE = {"dsl": 58.0, "fiber": 88.0, "none": 22.0}
CHARGES_SPREAD = {"dsl": 9.0, "fiber": 11.0, "none": 2.5}
# Mean number of support calls by internet service (fiber has more incidents).
SUPPORT_CALL_RATE = {"dsl": 1.3, "fiber": 2.0, "none": 0.6}

# Log-odds of churn.
CHURN_INTERCEPT = -0.85
CHURN_PER_TENURE_MONTH = -0.035
CHURN_CONTRACT = {"month-to-month": 0.0, "one-year": -1.1, "two-year": -2.0}
CHURN_PER_CHARGE_ABOVE_60 = 0.012
CHURN_FIBER = 0.55
CHURN_PER_SUPPORT_CALL = 0.3
CHURN_ELECTRONIC_CHECK = 0.6
CHURN_SENIOR = 0.4


def standard_normal(rng: random.Random) -> float:
    """Approximately N(0, 1): the sum of twelve uniforms minus six (exact arithmetic, no libm)."""
    return sum(rng.random() for _ in range(12)) - 6.0


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    threshold = rng.random() * sum(weights.values())
    cumulative = 0.0
    for value, weight in weights.items():
        cumulative += weight
        if threshold < cumulative:
            return value
    return value


def poisson(rng: random.Random, rate: float, maximum: int) -> int:
    """Inverse-transform Poisson draw, capped at ``maximum``."""
    threshold = rng.random()
    count = 0
    probability = math.exp(-rate)
    cumulative = probability
    while threshold > cumulative and count < maximum:
        count += 1
        probability *= rate / count
        cumulative += probability
    return count


def churn_probability(
    tenure_months: int,
    monthly_charges: float,
    contract: str,
    internet_service: str,
    payment_method: str,
    support_calls: int,
    senior_citizen: int,
) -> float:
    log_odds = (
        CHURN_INTERCEPT
        + CHURN_PER_TENURE_MONTH * tenure_months
        + CHURN_CONTRACT[contract]
        + CHURN_PER_CHARGE_ABOVE_60 * (monthly_charges - 60.0)
        + CHURN_FIBER * (internet_service == "fiber")
        + CHURN_PER_SUPPORT_CALL * support_calls
        + CHURN_ELECTRONIC_CHECK * (payment_method == "electronic-check")
        + CHURN_SENIOR * senior_citizen
    )
    return 1.0 / (1.0 + math.exp(-log_odds))


def customer(rng: random.Random) -> dict[str, object]:
    contract = pick(rng, CONTRACTS)
    internet_service = pick(rng, INTERNET_SERVICES)
    payment_method = pick(rng, PAYMENT_METHODS)
    senior_citizen = int(rng.random() < SENIOR_SHARE)
    tenure = TENURE_CENTRE[contract] + TENURE_SPREAD[contract] * standard_normal(rng)
    tenure_months = min(MAX_TENURE_MONTHS, max(1, round(tenure)))
    charges = CHARGES_CENTRE[internet_service] + CHARGES_SPREAD[internet_service] * standard_normal(
        rng
    )
    monthly_charges = round(max(18.0, charges), 2)
    support_calls = poisson(rng, SUPPORT_CALL_RATE[internet_service], MAX_SUPPORT_CALLS)
    probability = churn_probability(
        tenure_months,
        monthly_charges,
        contract,
        internet_service,
        payment_method,
        support_calls,
        senior_citizen,
    )
    return {
        "tenure_months": tenure_months,
        "monthly_charges": f"{monthly_charges:.2f}",
        "contract": contract,
        "internet_service": internet_service,
        "payment_method": payment_method,
        "support_calls": support_calls,
        "senior_citizen": senior_citizen,
        "churned": int(rng.random() < probability),
    }


def sample_csv(row_count: int = ROW_COUNT, seed: int = SEED) -> str:
    """The sample data set as CSV text (header, then one line per customer, ``\\n`` line ends)."""
    rng = random.Random(seed)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for _ in range(row_count):
        writer.writerow(customer(rng))
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, help="CSV file to write")
    args = parser.parse_args(argv)
    if not args.output.parent.is_dir():
        print(f"error: folder does not exist: {args.output.parent}", file=sys.stderr)
        return 2
    args.output.write_bytes(sample_csv().encode("utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

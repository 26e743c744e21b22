"""Splitting an amount of cents over weights, exactly: nothing lost, nothing made up."""

from __future__ import annotations

from collections.abc import Sequence


def allocate(amount: int, weights: Sequence[int]) -> list[int]:
    """Split ``amount`` cents in proportion to ``weights`` by the largest remainder method.

    The shares add up to ``amount`` exactly; each is the floor of its exact share or one cent more,
    the extra cents going to the largest remainders (the earlier weight on a tie). With all weights
    zero the amount goes to the first.
    """
    if amount < 0 or any(w < 0 for w in weights):
        raise ValueError("allocate() takes a non-negative amount and weights")
    if not weights:
        if amount:
            raise ValueError("nothing to allocate to")
        return []
    total = sum(weights)
    if total == 0:
        return [amount] + [0] * (len(weights) - 1)
    shares = [amount * w // total for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(amount * weights[i] % total), i))
    for i in remainders[: amount - sum(shares)]:
        shares[i] += 1
    return shares


def proportional(part: int, whole: int, amount: int) -> int:
    """``amount * part / whole`` rounded half up: the share of ``amount`` that ``part`` of ``whole`` carries."""
    if whole <= 0:
        return 0
    return (2 * amount * part + whole) // (2 * whole)

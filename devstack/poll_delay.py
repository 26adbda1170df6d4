"""The wait between two receives of a queue trigger, as the Functions host's queue listener waits.

Microsoft.Azure.WebJobs.Extensions.Storage.Queues (azure-sdk-for-net), `QueueListener`: it builds
`RandomizedExponentialBackoffStrategy(QueuePollingIntervals.Minimum, maxPollingInterval)` with
`QueuePollingIntervals.Minimum` = 100 ms. After a receive that found messages it receives again once
in-flight work is down to `newBatchThreshold` (no wait); after an empty receive it waits
`GetNextDelay(found a message since the last wait)`:
- a message was found since the last wait: the minimum, and the backoff starts over;
- none: minimum + random(0.8, 1.2) x 2^(n-1) x minimum (n = 1, 2, ... per empty receive in a row),
  capped at `maxPollingInterval` (host.json), and held there.
"""

from __future__ import annotations

import random

MINIMUM_S = 0.1
RANDOMIZATION = 0.2


class PollDelay:
    def __init__(
        self, maximum_s: float, *, minimum_s: float = MINIMUM_S, rng: random.Random | None = None
    ) -> None:
        self.minimum_s = min(minimum_s, maximum_s)
        self.maximum_s = maximum_s
        self._rng = rng or random.Random()
        self._current = 0.0
        self._exponent = 0
        self._found = False

    def found_messages(self) -> None:
        self._found = True

    def next_wait(self) -> float:
        """The wait after an empty receive."""
        if self._found:
            self._found = False
            self._current, self._exponent = self.minimum_s, 1
        elif self._current != self.maximum_s:
            wait = self.minimum_s
            if self._exponent > 0:
                factor = self._rng.uniform(1 - RANDOMIZATION, 1 + RANDOMIZATION)
                wait += factor * 2 ** (self._exponent - 1) * self.minimum_s
            if wait < self.maximum_s:
                self._current, self._exponent = wait, self._exponent + 1
            else:
                self._current = self.maximum_s
        return self._current

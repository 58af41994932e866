"""Reading a /metrics answer: its samples, parsed by prometheus_client's own parser."""

from collections.abc import Mapping

from prometheus_client.parser import text_string_to_metric_families

# (sample name, its labels sorted) -> value
Samples = Mapping[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample `name` with exactly these labels; 0 when it is not there (nothing counted)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)
